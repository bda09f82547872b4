"""Pooling: maxpool, avgpool, adaptive_avgpool."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from ..errors import ShapeError
from ..lazy import nn
from ..registry import Block, expect_rank, register
from ..types import Bool, Int0, Shape, Size, pair
from .conv import spatial_out


class PoolFields(Block):
    learns = False
    kernel_size: Size = Field(description="window size: k or [kh, kw]")
    stride: Optional[Size] = Field(None, description="window step; defaults to kernel_size")
    padding: Int0 = Field(0, description="implicit padding on both sides; at most half the kernel")
    ceil_mode: Bool = Field(False, description="use ceil instead of floor for the output size")

    def window(self, x: Shape, dilation: int = 1) -> Shape:
        expect_rank(x, 3, self.type)
        if self.padding > min(pair(self.kernel_size)) // 2:
            raise ShapeError(f"padding {self.padding} must be at most half of kernel_size {self.kernel_size}")
        stride = self.stride if self.stride is not None else self.kernel_size
        return (x[0], *spatial_out(x, self.kernel_size, stride, self.padding, dilation, self.type, self.ceil_mode))


@register
class MaxPool(PoolFields):
    """2-d max pooling (nn.MaxPool2d)."""

    type: Literal["maxpool"]
    dilation: Size = Field(1, description="spacing between window elements")

    def infer(self, x: Shape) -> Shape:
        return self.window(x, self.dilation)

    def build(self, x: Shape) -> nn.Module:
        return nn.MaxPool2d(self.kernel_size, self.stride, self.padding, self.dilation, ceil_mode=self.ceil_mode)


@register
class AvgPool(PoolFields):
    """2-d average pooling (nn.AvgPool2d)."""

    type: Literal["avgpool"]
    count_include_pad: Bool = Field(True, description="count padded zeros in the average")

    def infer(self, x: Shape) -> Shape:
        return self.window(x)

    def build(self, x: Shape) -> nn.Module:
        return nn.AvgPool2d(self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


@register
class AdaptiveAvgPool(Block):
    """Average pooling to a fixed output size, whatever the input size (nn.AdaptiveAvgPool2d)."""

    type: Literal["adaptive_avgpool"]
    learns = False
    output_size: Size = Field(1, description="output (H, W): s or [h, w]")

    def infer(self, x: Shape) -> Shape:
        expect_rank(x, 3, "adaptive_avgpool")
        return (x[0], *pair(self.output_size))

    def build(self, x: Shape) -> nn.Module:
        return nn.AdaptiveAvgPool2d(pair(self.output_size))
