"""Normalisation: bn (BatchNorm1d or BatchNorm2d, chosen by the input's rank), layer_norm, group_norm."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..errors import ShapeError
from ..lazy import nn
from ..registry import Block, expect_rank, fmt_shape, register
from ..types import Bool, ChannelsLast, Int1, PositiveFloat, Probability, Shape


@register
class BatchNorm(Block):
    """Batch normalisation over channels (B, C, H, W) or features (B, F); num_features is inferred."""

    type: Literal["bn"]
    eps: PositiveFloat = Field(1e-5, description="added to the variance for numerical stability")
    momentum: Probability = Field(0.1, description="running-stats momentum")
    affine: Bool = Field(True, description="learnable scale and shift")
    inplace_safe_after = True

    def infer(self, x: Shape) -> Shape:
        if len(x) not in (1, 3):
            raise ShapeError(f"bn expects input (B, F) or (B, C, H, W), found {fmt_shape(x)}")
        return x

    def params(self, x: Shape) -> int:
        return 2 * x[0] * self.affine

    def build(self, x: Shape) -> nn.Module:
        cls = nn.BatchNorm2d if len(x) == 3 else nn.BatchNorm1d
        return cls(x[0], self.eps, self.momentum, self.affine)


@register
class LayerNorm(Block):
    """Layer normalisation over the last dim (tokens (B, N, D), channels-last images, features), or over the channels of an image with `channels: true`."""

    type: Literal["layer_norm"]
    eps: PositiveFloat = Field(1e-5, description="added to the variance for numerical stability")
    affine: Bool = Field(True, description="learnable scale and shift")
    channels: Bool = Field(False, description="normalise the channels of a (B, C, H, W) image (ConvNeXt's LayerNorm2d)")
    inplace_safe_after = True

    def infer(self, x: Shape) -> Shape:
        if self.channels:
            expect_rank(x, 3, "layer_norm with channels: true")
        elif len(x) == 3 and not isinstance(x, ChannelsLast):
            raise ShapeError(f"layer_norm normalises the last dim; for the channels of an image {fmt_shape(x)} "
                             "set channels: true, or permute it channels-last first")
        return x

    def params(self, x: Shape) -> int:
        return 2 * (x[0] if self.channels else x[-1]) * self.affine

    def build(self, x: Shape) -> nn.Module:
        if self.channels:
            from ..nnmodules import LayerNorm2d

            return LayerNorm2d(x[0], self.eps, self.affine)
        return nn.LayerNorm(x[-1], self.eps, self.affine)


@register
class GroupNorm(Block):
    """Group normalisation over the channels of (B, C, H, W) (nn.GroupNorm); num_channels is inferred."""

    type: Literal["group_norm"]
    groups: Int1 = Field(description="number of groups; must divide the channels")
    eps: PositiveFloat = Field(1e-5, description="added to the variance for numerical stability")
    affine: Bool = Field(True, description="learnable scale and shift")
    inplace_safe_after = True

    def infer(self, x: Shape) -> Shape:
        if x[0] % self.groups:
            raise ShapeError(f"group_norm groups={self.groups} must divide the channels {x[0]}")
        return x

    def params(self, x: Shape) -> int:
        return 2 * x[0] * self.affine

    def build(self, x: Shape) -> nn.Module:
        return nn.GroupNorm(self.groups, x[0], self.eps, self.affine)
