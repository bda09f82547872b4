"""Convolutions: conv, and conv_block (conv + batch norm + activation)."""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Literal, Optional

from pydantic import Field

from ..errors import ShapeError
from ..lazy import nn
from ..registry import Block, expect_rank, fmt_shape, register
from ..types import Bool, Int1, P, Padding, PositiveFloat, Probability, Shape, Size, pair
from .act import ACT_CHOICES, ActFn, make_act


def conv_out(size: int, k: int, s: int, p: int, d: int, ceil: bool = False) -> int:
    """Output length of a conv/pool window along one axis (torch's formula)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1  # torch drops a last window that would start in the right padding
    return out


def spatial_out(x: Shape, k: int | list[int], s: int | list[int], p: int | list[int] | str, d: int | list[int], what: str, ceil: bool = False) -> tuple[int, int]:
    """(H, W) after a window op; raises ShapeError when it would shrink to nothing."""
    kh, kw = pair(k)
    sh, sw = pair(s)
    dh, dw = pair(d)
    if p == "same":
        return x[1], x[2]
    ph, pw = (0, 0) if p == "valid" else pair(p)  # type: ignore[arg-type]
    h, w = conv_out(x[1], kh, sh, ph, dh, ceil), conv_out(x[2], kw, sw, pw, dw, ceil)
    if h < 1 or w < 1:
        raise ShapeError(f"{what} would shrink the input to {h}x{w}: input {fmt_shape(x)}, "
                         f"kernel_size {k}, stride {s}, padding {p}, dilation {d}")
    return h, w


class ConvFields(Block):
    """Fields shared by conv and conv_block."""

    out_channels: Int1 = Field(description="number of output channels")
    kernel_size: Size = Field(description="kernel size: k or [kh, kw]")
    stride: Size = Field(1, description="stride: s or [sh, sw]")
    padding: Padding = Field(0, description="zero padding: p, [ph, pw], 'same' or 'valid'")
    dilation: Size = Field(1, description="spacing between kernel elements")
    groups: Int1 = Field(1, description="blocked connections from input to output channels; must divide both")
    bias: Bool = Field(True, description="add a learnable bias")

    def check_conv(self, x: Shape) -> Shape:
        expect_rank(x, 3, self.type)
        c = x[0]
        if c % self.groups or self.out_channels % self.groups:
            raise ShapeError(f"groups={self.groups} must divide in_channels={c} and out_channels={self.out_channels} "
                             f"(input {fmt_shape(x)})")
        if self.padding == "same" and pair(self.stride) != (1, 1):
            raise ShapeError(f"padding 'same' needs stride 1, found stride {self.stride}")
        return (self.out_channels, *spatial_out(x, self.kernel_size, self.stride, self.padding, self.dilation, self.type))

    def macs(self, x: Shape, y: Shape) -> int:
        kh, kw = pair(self.kernel_size)
        return math.prod(y) * (x[0] // self.groups) * kh * kw

    def conv_params(self, x: Shape) -> int:
        kh, kw = pair(self.kernel_size)
        return self.out_channels * (x[0] // self.groups * kh * kw + self.bias)

    def make_conv(self, x: Shape) -> nn.Conv2d:
        padding = self.padding if isinstance(self.padding, str) else pair(self.padding)
        return nn.Conv2d(x[0], self.out_channels, pair(self.kernel_size), pair(self.stride), padding,
                         pair(self.dilation), self.groups, self.bias)


@register
class Conv(ConvFields):
    """2-d convolution (nn.Conv2d); in_channels is inferred."""

    type: Literal["conv"]
    inplace_safe_after = True

    def infer(self, x: Shape) -> Shape:
        return self.check_conv(x)

    def build(self, x: Shape) -> nn.Module:
        return self.make_conv(x)

    def params(self, x: Shape) -> int:
        return self.conv_params(x)


@register
class ConvBlock(ConvFields):
    """conv + batch norm + activation, as submodules `conv`, `bn`, `act`."""

    type: Literal["conv_block"]
    act: Optional[P(ActFn, ACT_CHOICES)] = Field("relu", description="activation after the batch norm, or null for none")  # type: ignore[valid-type]
    eps: PositiveFloat = Field(1e-5, description="batch norm epsilon")
    momentum: Probability = Field(0.1, description="batch norm running-stats momentum")

    def infer(self, x: Shape) -> Shape:
        return self.check_conv(x)

    def params(self, x: Shape) -> int:
        return self.conv_params(x) + 2 * self.out_channels  # the batch norm's weight and bias

    def build(self, x: Shape) -> nn.Module:
        parts: OrderedDict[str, nn.Module] = OrderedDict(
            conv=self.make_conv(x), bn=nn.BatchNorm2d(self.out_channels, self.eps, self.momentum))
        if self.act:
            parts["act"] = make_act(self.act, inplace=True)
        return nn.Sequential(parts)
