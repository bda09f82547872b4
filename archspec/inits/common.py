"""The init most of torchvision's mobile families share: kaiming-normal (fan_out) convs with zero
bias, batch/group norm weight 1 / bias 0, and a family-specific rule for linear layers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch.nn as nn


def conv_norm_linear(root: "nn.Module", linear: Callable[["nn.Linear"], None]) -> None:
    """Walks the modules in torchvision's order, so the same seed draws the same weights."""
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
            linear(m)
            nn.init.zeros_(m.bias)
