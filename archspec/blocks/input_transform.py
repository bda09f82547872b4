"""A constant per-channel affine map, x * scale + shift: GoogLeNet's and Inception v3's
`transform_input`, which turns ImageNet-normalised inputs into the [-1, 1] scaling their ported
weights expect. The constants are non-persistent buffers: they follow the module's device and dtype
and stay out of the state_dict."""
from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import Field, StrictFloat, StrictInt

from ..errors import ShapeError
from ..lazy import nn
from ..registry import Block, fmt_shape, register
from ..types import Concrete, ExprT, Shape

# numbers or expressions, mixed: [1.0, "${0.229 / 0.5}", 2] (types.PList's mixed lists take integers only)
Numbers = list[Union[StrictInt, StrictFloat]]
FloatList = Annotated[Union[Annotated[Numbers, Field(min_length=1, max_length=8)], ExprT, list[Union[StrictInt, StrictFloat, ExprT]]],
                      Concrete(Annotated[list[float], Field(min_length=1, max_length=8)], "one number per channel")]


@register
class ChannelAffineBlock(Block):
    """A constant per-channel affine map x * scale + shift (GoogLeNet's transform_input); no learned parameters."""

    type: Literal["channel_affine"]
    learns = False
    scale: FloatList = Field(description="per-channel factors, e.g. [\"${0.229 / 0.5}\", ...]")
    shift: FloatList = Field(description="per-channel offsets added after scaling")

    def infer(self, x: Shape) -> Shape:
        if not x or len(self.scale) != x[0] or len(self.shift) != x[0]:
            raise ShapeError(f"channel_affine needs one scale and one shift per channel: input {fmt_shape(x)} has "
                             f"{x[0] if x else 0} channels, found {len(self.scale)} scales and {len(self.shift)} shifts")
        return x

    def build(self, x: Shape) -> nn.Module:
        from ..nnmodules import ChannelAffine

        return ChannelAffine(list(self.scale), list(self.shift), len(x))

    def macs(self, x: Shape, y: Shape) -> int:
        return math.prod(y)
