"""Learned tensors: a parameter registered under the block's own name (ViT's `class_token`,
`encoder.pos_embedding`, ConvNeXt's `layer_scale`), applied to the value flowing in."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from ..errors import ShapeError
from ..lazy import fx, nn, torch
from ..merges import broadcast
from ..registry import Block, fmt_shape, register
from ..types import Float, P, PList, PositiveFloat, Shape

Op = Literal["prepend", "add", "mul"]
Init = Literal["zeros", "ones", "constant", "normal", "trunc_normal"]


@register
class Param(Block):
    """A learned tensor with its own state_dict name, prepended (class token), added (position embedding) or multiplied (layer scale)."""

    type: Literal["param"]
    shape: PList(int, "the tensor's sizes as stored, e.g. [1, 1, 768]", 1) = Field(description="the tensor's shape as in the state_dict, e.g. [1, 1, \"${in_features}\"]")
    op: P(Op, "prepend, add or mul") = Field(description="how it meets the input: prepend (a token), add or mul (broadcast)")
    init: P(Init, "zeros, ones, constant, normal or trunc_normal") = Field("zeros", description="initial values")
    value: Float = Field(0.0, description="the constant for init: constant (ConvNeXt's layer scale 1e-6)")
    std: PositiveFloat = Field(0.02, description="standard deviation for init: normal and trunc_normal")
    inplace_safe_after = True  # cat, add and mul make a new tensor, and their backward needs only their inputs

    def infer(self, x: Shape) -> Shape:
        p = tuple(self.shape)
        if any(s < 1 for s in p):
            raise ShapeError(f"param shape {list(p)} must have positive sizes")
        if self.op == "prepend":
            if len(p) != 3 or p[0] != 1 or len(x) != 2 or p[2] != x[1]:
                raise ShapeError(f"prepend needs tokens (B, N, D) and a param of shape [1, n, D]; found {fmt_shape(x)} and {list(p)}")
            return (x[0] + p[1], x[1])
        full = broadcast((1, *x), p) if len(p) <= len(x) + 1 else None
        if full is None or full[0] != 1 or full[1:] != tuple(x):
            raise ShapeError(f"a param of shape {list(p)} does not broadcast to the input {fmt_shape(x)}")
        return x

    def params(self, x: Shape) -> int:
        return math.prod(self.shape)

    def build(self, x: Shape) -> nn.Parameter:  # type: ignore[override]
        t = torch.empty(tuple(self.shape))
        if t.is_meta:  # counting parameters: no values to set, and torch's meta normal_ imports torch._dynamo (2.6 s)
            return nn.Parameter(t)
        if self.init == "zeros":
            nn.init.zeros_(t)
        elif self.init == "ones":
            nn.init.ones_(t)
        elif self.init == "constant":
            nn.init.constant_(t, self.value)
        elif self.init == "normal":
            nn.init.normal_(t, std=self.std)
        else:
            nn.init.trunc_normal_(t, std=self.std)
        return nn.Parameter(t)

    def emit(self, g: fx.Graph, path: str, x: fx.Node) -> fx.Node:
        from ..nnmodules import prepend  # the generated code calls it, so it lives where torch is imported

        p = g.get_attr(path)
        fn = {"prepend": prepend, "add": torch.add, "mul": torch.mul}[self.op]
        return g.call_function(fn, (x, p) if self.op == "prepend" else (p, x))

    def macs(self, x: Shape, y: Shape) -> int:
        return math.prod(y) if self.op == "mul" else 0
