"""EfficientNet's init (torchvision's EfficientNet constructor, V1 and V2)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("efficientnet", "kaiming-normal (fan_out) convs with zero bias, batch/group norm weight 1 / bias 0, "
               "linear uniform(+-1/sqrt(out_features)) with zero bias: torchvision's EfficientNet V1 and V2")
def efficientnet_init(root: "nn.Module") -> None:
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
            init_range = 1.0 / math.sqrt(m.out_features)
            nn.init.uniform_(m.weight, -init_range, init_range)
            nn.init.zeros_(m.bias)
