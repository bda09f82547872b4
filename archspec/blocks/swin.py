"""Swin Transformer's primitives: shifted-window self-attention with a relative position bias and
patch merging, on channels-last images (H, W, C). Both wrap torchvision.models.swin_transformer's own
classes (ShiftedWindowAttention[V2], PatchMerging[V2]), so they are exact by construction; norms,
MLPs, stochastic depth and residuals around them are plain blocks in specs/swin.yaml."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from ..errors import ShapeError
from ..lazy import nn
from ..registry import Block, fmt_shape, register
from ..types import Bool, Int0, Int1, Probability, Shape


def _channels_last(x: Shape, what: str) -> None:
    if len(x) != 3:
        raise ShapeError(f"{what} expects a channels-last image (B, H, W, C), found {fmt_shape(x)}; "
                         "permute an image with dims [1, 2, 0] first")


@register
class ShiftedWindowAttention(Block):
    """Shifted-window multi-head self-attention with relative position bias on (H, W, C) (torchvision's ShiftedWindowAttention, V2 with `v2`)."""

    type: Literal["shifted_window_attention"]
    heads: Int1 = Field(description="number of heads; must divide the channels C")
    window: Int1 = Field(description="window side (7: Swin, 8: Swin V2); the input is padded to multiples of it")
    shift: Int0 = Field(0, description="cyclic shift of the windows, window // 2 in every other block (0 where the window covers the map)")
    v2: Bool = Field(False, description="Swin V2: cosine attention with a learned logit scale, position bias from a small MLP")
    attention_dropout: Probability = Field(0.0, description="dropout on the attention weights")
    dropout: Probability = Field(0.0, description="dropout after the output projection")

    def infer(self, x: Shape) -> Shape:
        _channels_last(x, "shifted_window_attention")
        if x[2] % self.heads:
            raise ShapeError(f"shifted_window_attention heads={self.heads} must divide the channels {x[2]}")
        if self.shift >= self.window:
            raise ShapeError(f"shifted_window_attention shift={self.shift} must be smaller than window={self.window}")
        return x

    def build(self, x: Shape) -> nn.Module:
        from torchvision.models.swin_transformer import ShiftedWindowAttention as SWA, ShiftedWindowAttentionV2 as SWA2
        cls = SWA2 if self.v2 else SWA
        return cls(x[2], [self.window, self.window], [self.shift, self.shift], self.heads,
                   attention_dropout=self.attention_dropout, dropout=self.dropout)

    def macs(self, x: Shape, y: Shape) -> int:
        h, w, c = x
        n = self.window ** 2
        tokens = math.ceil(h / self.window) * math.ceil(w / self.window) * n  # padded to whole windows
        macs = tokens * (4 * c * c + 2 * n * c)  # qkv and output projections, then scores and the weighted sum
        if self.v2:  # the position-bias MLP (2 -> 512 -> heads) over every relative offset, run by each forward
            macs += (2 * self.window - 1) ** 2 * 512 * (2 + self.heads)
        return macs


@register
class PatchMerging(Block):
    """Swin's patch merging, (H, W, C) -> (ceil(H/2), ceil(W/2), 2C): 2x2 neighbours concatenated, layer-normed and projected (torchvision's PatchMerging; `v2`: PatchMergingV2, norm after the projection)."""

    type: Literal["patch_merging"]
    v2: Bool = Field(False, description="Swin V2: normalise after the projection (on 2C) instead of before it (on 4C)")

    def infer(self, x: Shape) -> Shape:
        _channels_last(x, "patch_merging")
        h, w, c = x
        return type(x)(((h + 1) // 2, (w + 1) // 2, 2 * c))  # stays ChannelsLast

    def build(self, x: Shape) -> nn.Module:
        from torchvision.models.swin_transformer import PatchMerging as PM, PatchMergingV2 as PM2
        return (PM2 if self.v2 else PM)(x[2])

    def macs(self, x: Shape, y: Shape) -> int:
        return math.prod(y) * 4 * x[2]
