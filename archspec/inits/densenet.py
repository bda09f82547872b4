"""DenseNet's init, as torchvision's DenseNet constructor ("official init from torch repo")."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("densenet", "kaiming-normal (fan_in, gain sqrt 2) convs, batch norm weight 1 / bias 0, linear bias 0 (weight: PyTorch's default): torchvision's DenseNet")
def densenet_init(root: "nn.Module") -> None:
    import torch.nn as nn

    for m in root.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.constant_(m.bias, 0)
