"""MaxViT's init (torchvision's MaxVit._init_weights)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("maxvit", "convs and linears N(0, 0.02) with zero bias, batch norm weight 1 / bias 0; relative "
               "position bias tables trunc-normal std 0.02 as built: torchvision's MaxVit")
def maxvit_init(root: "nn.Module") -> None:
    import torch.nn as nn

    for m in root.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
