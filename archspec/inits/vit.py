"""The Vision Transformer's init (torchvision's VisionTransformer and MLPBlock constructors)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("vit", "patch conv trunc-normal std sqrt(1/fan_in) with zero bias, MLP linears xavier-uniform with "
               "N(0, 1e-6) bias, head zero; attention as nn.MultiheadAttention: torchvision's VisionTransformer")
def vit_init(root: "nn.Module") -> None:
    import torch.nn as nn

    for name, m in root.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "conv_proj" and isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            nn.init.trunc_normal_(m.weight, std=math.sqrt(1 / fan_in))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif leaf == "mlp":
            for lin in m.modules():
                if isinstance(lin, nn.Linear):
                    nn.init.xavier_uniform_(lin.weight)
                    if lin.bias is not None:
                        nn.init.normal_(lin.bias, std=1e-6)
        elif name == "heads.head" and isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
