"""Normalisation: bn (BatchNorm1d or BatchNorm2d, chosen by the input's rank)."""
from __future__ import annotations

from typing import Literal

import torch.nn as nn
from pydantic import Field

from ..errors import ShapeError
from ..registry import Block, fmt_shape, register
from ..types import Bool, Float, Shape


@register
class BatchNorm(Block):
    """Batch normalisation over channels (B, C, H, W) or features (B, F); num_features is inferred."""

    type: Literal["bn"]
    eps: Float = Field(1e-5, description="added to the variance for numerical stability")
    momentum: Float = Field(0.1, description="running-stats momentum")
    affine: Bool = Field(True, description="learnable scale and shift")
    inplace_safe_after = True

    def infer(self, x: Shape) -> Shape:
        if len(x) not in (1, 3):
            raise ShapeError(f"bn expects input (B, F) or (B, C, H, W), found {fmt_shape(x)}")
        return x

    def build(self, x: Shape) -> nn.Module:
        cls = nn.BatchNorm2d if len(x) == 3 else nn.BatchNorm1d
        return cls(x[0], self.eps, self.momentum, self.affine)
