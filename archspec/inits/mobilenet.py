"""MobileNetV2 / V3's init (torchvision's MobileNetV2 and MobileNetV3 constructors)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("mobilenet", "kaiming-normal (fan_out) convs with zero bias, batch/group norm weight 1 / bias 0, "
               "linear N(0, 0.01) with zero bias: torchvision's MobileNetV2 and V3")
def mobilenet_init(root: "nn.Module") -> None:
    import torch.nn as nn

    for m in root.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
