"""GoogLeNet's and Inception v3's init, as torchvision's constructors do it with init_weights=True
(their default when built without weights): truncated normal weights for convs and linears (cut at
+-2, i.e. at +-200 and +-20 standard deviations), batch norm weight 1 / bias 0; biases keep PyTorch's
defaults."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


def _trunc_normal(root: "nn.Module", std_of: "dict[str, float]", std: float) -> None:
    import torch.nn as nn

    for name, m in root.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, mean=0.0, std=std_of.get(name, std), a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


@register_init("googlenet", "truncated normal (std 0.01, cut at +-2) conv and linear weights, batch norm weight 1 / bias 0: torchvision's GoogLeNet")
def googlenet_init(root: "nn.Module") -> None:
    _trunc_normal(root, {}, 0.01)


@register_init("inception_v3", "truncated normal (std 0.1, cut at +-2; AuxLogits.fc 0.001) conv and linear weights, batch norm weight 1 / bias 0: torchvision's Inception3")
def inception_v3_init(root: "nn.Module") -> None:
    # torchvision also sets stddev 0.01 on AuxLogits.conv1, but on the BasicConv2d wrapper, which its
    # loop skips: that conv gets 0.1 like the others; only the aux head's linear layer reads its own
    _trunc_normal(root, {"AuxLogits.fc": 0.001}, 0.1)
