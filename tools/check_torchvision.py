"""Every torchvision classifier against its archspec spec: parameters, strict load of torchvision's
state_dict, max abs difference of outputs in eval mode (batch-norm statistics randomised), build
time ratios. One line per model.

Build ratio = archspec.build's seconds / torchvision's constructor's. `first`: the spec's first build in
this process (it also pays one-time costs, such as the validators of block types no earlier model
used). `median`: of --repeats more builds, interleaved with the constructor, each a whole build
(archspec's memos are dropped first: the spec is read, lowered and compiled every time). One timing
is at the mercy of a busy machine, hence the median.

    python tools/check_torchvision.py                # all of torchvision.models.list_models()
    python tools/check_torchvision.py resnet18 vit_b_16
    python tools/check_torchvision.py --repeats 5 shufflenet_v2_x0_5
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torchvision

import archspec
from archspec.api import forget
from archspec.errors import SpecError
from archspec.oracle import compare, torchvision_model

SIZES = {"inception_v3": 299, "vit_h_14": 224}


def build_ratio(name: str, repeats: int) -> float:
    """Median of `repeats` ratios of a whole archspec build to torchvision's constructor, interleaved."""
    ratios = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torchvision_model(name)
        t1 = time.perf_counter()
        forget()
        archspec.build(name)
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    return statistics.median(ratios)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="models (default: all of torchvision.models.list_models())")
    ap.add_argument("--repeats", type=int, default=3, help="whole builds timed per model for the median ratio (0: none)")
    args = ap.parse_args()
    names = args.names or torchvision.models.list_models(module=torchvision.models)
    print(f"{'model':<22}{'parameters':>14}{'torchvision':>14}  strict  max diff   build ratio: first  median", flush=True)
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
        median = f"{build_ratio(name, args.repeats):.2f}x" if args.repeats > 0 else "-"
        print(f"{name:<22}{c.params:>14,}{c.ref_params:>14,}  ok      {c.max_diff:.1e}   {c.build_s / c.ref_build_s:17.2f}x  {median:>6}"
              + ("" if ok else "   MISMATCH"), flush=True)
    print(f"{len(names) - bad} of {len(names)} match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
