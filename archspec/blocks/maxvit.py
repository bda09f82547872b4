"""MaxViT's attention primitive: multi-head self-attention inside windows with a learned relative
position bias (torchvision's RelativePositionalMultiHeadAttention, wrapped as is). The window and
grid partitions around it are plain reshape/permute blocks in specs/maxvit.yaml."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..errors import ShapeError
from ..lazy import nn
from ..registry import Block, fmt_shape, register
from ..types import Int1, Shape


@register
class RelPosAttention(Block):
    """Window self-attention with a relative position bias on (G, P, D): G windows of P = window**2 tokens each (MaxViT's RelativePositionalMultiHeadAttention)."""

    type: Literal["rel_pos_attention"]
    head_dim: Int1 = Field(description="features per head; must divide D (heads = D / head_dim)")
    window: Int1 = Field(description="window side: each window holds window**2 tokens, the bias table has (2 window - 1)**2 rows")

    def infer(self, x: Shape) -> Shape:
        if len(x) != 3:
            raise ShapeError(f"rel_pos_attention expects windows of tokens (B, G, P, D), found {fmt_shape(x)}")
        if x[1] != self.window ** 2:
            raise ShapeError(f"rel_pos_attention with window={self.window} expects {self.window ** 2} tokens a window, found {x[1]}")
        if x[2] % self.head_dim:
            raise ShapeError(f"rel_pos_attention head_dim={self.head_dim} must divide the token width {x[2]}")
        return x

    def build(self, x: Shape) -> nn.Module:
        from torchvision.models.maxvit import RelativePositionalMultiHeadAttention
        return RelativePositionalMultiHeadAttention(x[2], self.head_dim, self.window ** 2)

    def macs(self, x: Shape, y: Shape) -> int:
        g, p, d = x
        return g * (4 * p * d * d + 2 * p * p * d)  # qkv and merge projections, then scores and the weighted sum
