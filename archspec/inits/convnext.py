"""ConvNeXt's init (torchvision's ConvNeXt constructor)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("convnext", "every conv and linear trunc-normal std 0.02 with zero bias; layer norms and layer scales "
               "as built: torchvision's ConvNeXt")
def convnext_init(root: "nn.Module") -> None:
    import torch.nn as nn

    for m in root.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
