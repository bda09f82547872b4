"""MobileNetV2 / V3's init (torchvision's MobileNetV2 and MobileNetV3 constructors)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import register_init
from .common import conv_norm_linear

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("mobilenet", "kaiming-normal (fan_out) convs with zero bias, batch/group norm weight 1 / bias 0, "
               "linear N(0, 0.01) with zero bias: torchvision's MobileNetV2 and V3")
def mobilenet_init(root: "nn.Module") -> None:
    import torch.nn as nn

    conv_norm_linear(root, lambda m: nn.init.normal_(m.weight, 0, 0.01))
