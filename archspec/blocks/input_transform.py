"""A constant per-channel affine map, x * scale + shift: GoogLeNet's and Inception v3's
`transform_input`, which turns ImageNet-normalised inputs into the [-1, 1] scaling their ported
weights expect. The constants are non-persistent buffers: they follow the module's device and dtype
and stay out of the state_dict."""
from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import torch
import torch.nn as nn
from pydantic import Field, StrictFloat, StrictInt

from ..errors import ShapeError
from ..registry import Block, fmt_shape, register
from ..types import Concrete, ExprT, Shape

# numbers or expressions, mixed: [1.0, "${0.229 / 0.5}", 2] (types.PList's mixed lists take integers only)
Numbers = list[Union[StrictInt, StrictFloat]]
FloatList = Annotated[Union[Annotated[Numbers, Field(min_length=1, max_length=8)], ExprT, list[Union[StrictInt, StrictFloat, ExprT]]],
                      Concrete(Annotated[list[float], Field(min_length=1, max_length=8)], "one number per channel")]


class ChannelAffine(nn.Module):
    def __init__(self, scale: list[float], shift: list[float], rank: int) -> None:
        super().__init__()
        view = (len(scale),) + (1,) * (rank - 1)  # (C, 1, 1) for images, (F,) for features
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.get_default_dtype()).view(view), persistent=False)
        self.register_buffer("shift", torch.tensor(shift, dtype=torch.get_default_dtype()).view(view), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    def extra_repr(self) -> str:
        return f"scale={self.scale.flatten().tolist()}, shift={self.shift.flatten().tolist()}"


@register
class ChannelAffineBlock(Block):
    """A constant per-channel affine map x * scale + shift (GoogLeNet's transform_input); no learned parameters."""

    type: Literal["channel_affine"]
    scale: FloatList = Field(description="per-channel factors, e.g. [\"${0.229 / 0.5}\", ...]")
    shift: FloatList = Field(description="per-channel offsets added after scaling")

    def infer(self, x: Shape) -> Shape:
        if not x or len(self.scale) != x[0] or len(self.shift) != x[0]:
            raise ShapeError(f"channel_affine needs one scale and one shift per channel: input {fmt_shape(x)} has "
                             f"{x[0] if x else 0} channels, found {len(self.scale)} scales and {len(self.shift)} shifts")
        return x

    def build(self, x: Shape) -> nn.Module:
        return ChannelAffine(list(self.scale), list(self.shift), len(x))

    def macs(self, x: Shape, y: Shape) -> int:
        return math.prod(y)
