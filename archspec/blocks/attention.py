"""Attention, a primitive like conv: multi-head self-attention over tokens (nn.MultiheadAttention's
parameters, as torchvision's ViT), and stochastic depth for residual branches."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..errors import ShapeError
from ..lazy import nn
from ..registry import Block, fmt_shape, register
from ..types import Bool, Int1, P, Probability, Shape


@register
class Attention(Block):
    """Multi-head self-attention over tokens (B, N, D) -> (B, N, D), nn.MultiheadAttention's parameters (in_proj_weight, out_proj)."""

    type: Literal["attention"]
    heads: Int1 = Field(description="number of heads; must divide the token width D")
    dropout: Probability = Field(0.0, description="dropout on the attention weights")
    bias: Bool = Field(True, description="biases in the input and output projections")

    def infer(self, x: Shape) -> Shape:
        if len(x) != 2:
            raise ShapeError(f"attention expects tokens (B, N, D), found {fmt_shape(x)}; reshape and permute an image to tokens first")
        if x[1] % self.heads:
            raise ShapeError(f"attention heads={self.heads} must divide the token width {x[1]}")
        return x

    def build(self, x: Shape) -> nn.Module:
        from ..nnmodules import SelfAttention

        return SelfAttention(x[1], self.heads, dropout=self.dropout, bias=self.bias, batch_first=True)

    def macs(self, x: Shape, y: Shape) -> int:
        n, d = x
        return 4 * n * d * d + 2 * n * n * d  # projections, then scores and the weighted sum


@register
class StochasticDepth(Block):
    """Drops a residual branch per sample in training with probability p, scaling by 1/(1-p) (torchvision.ops.StochasticDepth)."""

    type: Literal["stochastic_depth"]
    learns = False
    passes_input = True
    p: Probability = Field(description="drop probability, e.g. ${0.2 * block / blocks} with a repeat counter")
    mode: P(Literal["row", "batch"], "row or batch") = Field("row", description="row: per sample; batch: the whole batch at once")

    def infer(self, x: Shape) -> Shape:
        return x

    def build(self, x: Shape) -> nn.Module:
        from ..nnmodules import StochasticDepth as SD

        return SD(self.p, self.mode)
