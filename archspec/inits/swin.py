"""Swin Transformer's init (torchvision's SwinTransformer constructor, V1 and V2)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("swin", "every linear (attention, MLP, V2's position-bias MLP, head) trunc-normal std 0.02 with zero "
               "bias; patch-embedding conv PyTorch's default; bias tables as built: torchvision's SwinTransformer")
def swin_init(root: "nn.Module") -> None:
    import torch.nn as nn

    for m in root.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
