"""For each ResNet/ResNeXt spec: parameter count, strict load of torchvision's state_dict, and the
max abs difference of outputs in eval mode on a random 2x3x224x224 input.

    python tools/check_torchvision.py [resnet18 resnet50 ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import torchvision

import archspec

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnext50_32x4d", "resnext101_32x8d"]


def main() -> None:
    print(f"{'spec':<20}{'parameters':>14}{'torchvision':>14}  strict load  max abs diff")
    for name in sys.argv[1:] or NAMES:
        torch.manual_seed(0)
        ref = getattr(torchvision.models, name)().eval()
        m = archspec.build(ROOT / "specs" / f"{name}.yaml").eval()
        m.load_state_dict(ref.state_dict(), strict=True)
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            diff = (m(x) - ref(x)).abs().max().item()
        n, r = (sum(p.numel() for p in mod.parameters()) for mod in (m, ref))
        print(f"{name:<20}{n:>14,}{r:>14,}  ok           {diff:.2e}", flush=True)


if __name__ == "__main__":
    main()
