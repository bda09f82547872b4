"""Dense layers and shape plumbing: linear, flatten, dropout, identity."""
from __future__ import annotations

import math
from typing import Literal

import torch.nn as nn
from pydantic import Field

from ..registry import Block, expect_rank, register
from ..types import Bool, Int1, Probability, Shape


@register
class Linear(Block):
    """Fully connected layer on (B, F); in_features is inferred (no hand-computed flatten sizes)."""

    type: Literal["linear"]
    out_features: Int1 = Field(description="number of output features")
    bias: Bool = Field(True, description="add a learnable bias")
    inplace_safe_after = True

    def infer(self, x: Shape) -> Shape:
        expect_rank(x, 1, "linear")
        return (self.out_features,)

    def build(self, x: Shape) -> nn.Module:
        return nn.Linear(x[0], self.out_features, self.bias)


@register
class Flatten(Block):
    """Flatten every dim but the batch: (B, C, H, W) -> (B, C*H*W)."""

    type: Literal["flatten"]

    def infer(self, x: Shape) -> Shape:
        return (math.prod(x),)

    def build(self, x: Shape) -> nn.Module:
        return nn.Flatten(1)


@register
class Dropout(Block):
    """Dropout (active in training mode only)."""

    type: Literal["dropout"]
    p: Probability = Field(0.5, description="probability of zeroing an element")

    def infer(self, x: Shape) -> Shape:
        return x

    def build(self, x: Shape) -> nn.Module:
        return nn.Dropout(self.p)


@register
class Identity(Block):
    """Passes its input through unchanged."""

    type: Literal["identity"]

    def infer(self, x: Shape) -> Shape:
        return x

    def build(self, x: Shape) -> nn.Module:
        return nn.Identity()
