"""EfficientNet's init (torchvision's EfficientNet constructor, V1 and V2)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import register_init
from .common import conv_norm_linear

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("efficientnet", "kaiming-normal (fan_out) convs with zero bias, batch/group norm weight 1 / bias 0, "
               "linear uniform(+-1/sqrt(out_features)) with zero bias: torchvision's EfficientNet V1 and V2")
def efficientnet_init(root: "nn.Module") -> None:
    import torch.nn as nn

    def linear(m: "nn.Linear") -> None:
        init_range = 1.0 / math.sqrt(m.out_features)
        nn.init.uniform_(m.weight, -init_range, init_range)

    conv_norm_linear(root, linear)
