"""The classic CNNs' policies, as their torchvision constructors set them (AlexNet keeps PyTorch's
defaults: `init: torch`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import register_init

if TYPE_CHECKING:
    import torch.nn as nn


@register_init("vgg", "kaiming-normal (fan_out, relu) convs, batch norm 1 / 0, linears normal(0, 0.01), every bias 0: torchvision's VGG")
def vgg_init(root: "nn.Module") -> None:
    import torch.nn as nn

    for m in root.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


@register_init("squeezenet", "kaiming-uniform (fan_in, a=0) convs, the last conv (the classifier) normal(0, 0.01), biases 0: torchvision's SqueezeNet")
def squeezenet_init(root: "nn.Module") -> None:
    import torch.nn as nn

    convs = [m for m in root.modules() if isinstance(m, nn.Conv2d)]
    for m in convs:
        if m is convs[-1]:
            nn.init.normal_(m.weight, mean=0.0, std=0.01)
        else:
            nn.init.kaiming_uniform_(m.weight)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)
