"""Every torchvision classifier against its archspec spec: parameters, strict load of torchvision's
state_dict, max abs difference of outputs in eval mode (batch-norm statistics randomised), build
time ratio. One line per model.

    python tools/check_torchvision.py                # all of torchvision.models.list_models()
    python tools/check_torchvision.py resnet18 vit_b_16
"""
from __future__ import annotations

import sys

import torch
import torchvision

from archspec.errors import SpecError
from archspec.oracle import compare

SIZES = {"inception_v3": 299, "vit_h_14": 224}


def main() -> int:
    names = sys.argv[1:] or torchvision.models.list_models(module=torchvision.models)
    print(f"{'model':<22}{'parameters':>14}{'torchvision':>14}  strict  max diff   build ratio", flush=True)
    compare("resnet18", 64, batch=1)  # pays the one-time imports, which would land on the first model's build ratio
    bad = 0
    for name in names:
        torch.manual_seed(0)
        try:
            c = compare(name, SIZES.get(name, 224), batch=1)
        except (SpecError, RuntimeError, KeyError, ValueError) as e:
            bad += 1
            print(f"{name:<22}  FAILED: {str(e).splitlines()[0][:150]}", flush=True)
            continue
        ok = c.params == c.ref_params and c.max_diff <= 1e-4
        bad += not ok
        print(f"{name:<22}{c.params:>14,}{c.ref_params:>14,}  ok      {c.max_diff:.1e}   {c.build_s / c.ref_build_s:.2f}x"
              + ("" if ok else "   MISMATCH"), flush=True)
    print(f"{len(names) - bad} of {len(names)} match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
