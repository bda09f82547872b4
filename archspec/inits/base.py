"""The two original policies: torchvision's ResNet init and PyTorch's defaults."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("torchvision", "kaiming-normal (fan_out, relu) convs, batch norm weight 1 / bias 0: torchvision's ResNet and seed 004")
def resnet_init(root: "nn.Module") -> None:
    import torch.nn as nn

    for m in root.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


@register_init("torch", "PyTorch's defaults for every layer, as the MNIST seeds")
def torch_init(root: "nn.Module") -> None:
    pass
