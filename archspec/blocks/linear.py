"""Dense layers and shape plumbing: linear, flatten, dropout, identity."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from ..lazy import nn
from ..registry import Block, expect_rank, register
from ..types import Bool, ChannelsLast, Int1, Probability, Shape


@register
class Linear(Block):
    """Fully connected layer over the last dim, (B, F) or tokens (B, N, D); in_features is inferred."""

    type: Literal["linear"]
    out_features: Int1 = Field(description="number of output features")
    bias: Bool = Field(True, description="add a learnable bias")
    inplace_safe_after = True

    def infer(self, x: Shape) -> Shape:
        if not isinstance(x, ChannelsLast) and len(x) != 2:
            expect_rank(x, 1, "linear")  # an image must be flattened (or permuted to channels-last) first
        return type(x)((*x[:-1], self.out_features))

    def build(self, x: Shape) -> nn.Module:
        return nn.Linear(x[-1], self.out_features, self.bias)

    def macs(self, x: Shape, y: Shape) -> int:
        return math.prod(y) * x[-1]

    def params(self, x: Shape) -> int:
        return (x[-1] + self.bias) * self.out_features


@register
class Flatten(Block):
    """Flatten every dim but the batch: (B, C, H, W) -> (B, C*H*W)."""

    type: Literal["flatten"]
    learns = False

    def infer(self, x: Shape) -> Shape:
        return (math.prod(x),)

    def build(self, x: Shape) -> nn.Module:
        return nn.Flatten(1)


@register
class Dropout(Block):
    """Dropout (active in training mode only)."""

    type: Literal["dropout"]
    learns = False
    passes_input = True
    p: Probability = Field(0.5, description="probability of zeroing an element")

    def infer(self, x: Shape) -> Shape:
        return x

    def build(self, x: Shape) -> nn.Module:
        return nn.Dropout(self.p)


@register
class Identity(Block):
    """Passes its input through unchanged."""

    type: Literal["identity"]
    learns = False
    passes_input = True

    def infer(self, x: Shape) -> Shape:
        return x

    def build(self, x: Shape) -> nn.Module:
        return nn.Identity()
