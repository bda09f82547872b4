"""Shape plumbing for tokens and channels-last images: permute, reshape, select, channel_shuffle.

Dims are counted without the batch dim, as everywhere in a spec. Each is a parameter-free module, so
an unnamed one takes an index as in nn.Sequential (torchvision's ConvNeXt keeps its Permute at
features.1.0.block.1); name it to keep it out of the numbering (ViT's reshape in forward)."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from ..errors import ShapeError
from ..lazy import nn
from ..merges import batch_dim, norm_dim
from ..registry import Block, expect_rank, fmt_shape, register
from ..types import ChannelsLast, Int1, P, PList, Shape

AnyInt = P(int, "an integer")


@register
class PermuteBlock(Block):
    """Reorder dims: [1, 2, 0] turns a (C, H, W) image channels-last (H, W, C), [2, 0, 1] turns it back, [1, 0] swaps tokens and features."""

    type: Literal["permute"]
    learns = False
    dims: PList(int, "a permutation of the input's dims (batch excluded), e.g. [1, 2, 0]", 1) = Field(description="the new order of the dims, batch excluded")

    def infer(self, x: Shape) -> Shape:
        if sorted(self.dims) != list(range(len(x))):
            raise ShapeError(f"permute dims {self.dims} must be a permutation of 0..{len(x) - 1} for input {fmt_shape(x)}")
        out = tuple(x[d] for d in self.dims)
        return ChannelsLast(out) if len(x) == 3 and list(self.dims) == [1, 2, 0] and not isinstance(x, ChannelsLast) else out

    def build(self, x: Shape) -> nn.Module:
        from ..nnmodules import Permute

        return Permute(list(self.dims))


@register
class ReshapeBlock(Block):
    """Reshape, batch dim kept: (768, 14, 14) with shape [768, -1] gives (768, 196); one size may be -1."""

    type: Literal["reshape"]
    learns = False
    shape: PList(int, "sizes, batch excluded; one may be -1", 1) = Field(description="the new shape, batch excluded; -1 once for the rest")

    def infer(self, x: Shape) -> Shape:
        sizes = list(self.shape)
        if sizes.count(-1) > 1 or any(s < 1 and s != -1 for s in sizes):
            raise ShapeError(f"reshape {sizes}: sizes are positive, with at most one -1")
        known = math.prod(s for s in sizes if s != -1)
        total = math.prod(x)
        if (-1 in sizes and total % known) or (-1 not in sizes and known != total):
            raise ShapeError(f"cannot reshape {fmt_shape(x)} ({total:,} values a sample) to {sizes}")
        return tuple(total // known if s == -1 else s for s in sizes)

    def build(self, x: Shape) -> nn.Module:
        from ..nnmodules import Reshape

        return Reshape(list(self.infer(x)))


@register
class SelectBlock(Block):
    """One entry along a dim, which goes away: the class token of a (N, D) sequence is `select` index 0 (x[:, 0])."""

    type: Literal["select"]
    learns = False
    index: AnyInt = Field(0, description="which entry; negative counts from the end")
    dim: AnyInt = Field(0, description="along which dim, batch excluded")

    def infer(self, x: Shape) -> Shape:
        d = norm_dim(self.dim, len(x), "select")
        if not -x[d] <= self.index < x[d]:
            raise ShapeError(f"select index {self.index} is out of range for size {x[d]} of dim {self.dim}")
        return (*x[:d], *x[d + 1:])

    def build(self, x: Shape) -> nn.Module:
        from ..nnmodules import Select

        return Select(batch_dim(norm_dim(self.dim, len(x), "select")), self.index)


@register
class ChannelShuffle(Block):
    """Interleave the channels of `groups` groups (ShuffleNet's channel shuffle, nn.ChannelShuffle)."""

    type: Literal["channel_shuffle"]
    learns = False
    groups: Int1 = Field(description="number of groups; must divide the channels")

    def infer(self, x: Shape) -> Shape:
        expect_rank(x, 3, "channel_shuffle")
        if x[0] % self.groups:
            raise ShapeError(f"channel_shuffle groups={self.groups} must divide the channels {x[0]}")
        return x

    def build(self, x: Shape) -> nn.Module:
        from ..nnmodules import ShuffleChannels

        return ShuffleChannels(self.groups)


