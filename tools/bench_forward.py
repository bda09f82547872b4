"""Forward speed of compiled specs vs hand-written modules, and build time vs torchvision's constructor.

Both sides run in the same process, interleaved, with the same weights; the ratio
(archspec / reference) is what to read: absolute times drift on shared machines.

    python tools/bench_forward.py [--repeats 7] [--batches 1,64] [--only lenet,resnet50]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torchvision

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import archspec  # noqa: E402
import seeds  # noqa: E402

CASES: dict[str, tuple[Callable[[], torch.nn.Module], tuple[int, ...]]] = {
    "lenet": (seeds.LeNet003, (1, 28, 28)),
    "lenet_cifar": (seeds.LeNet004, (3, 32, 32)),
    "mnist_inception": (seeds.InceptionNet, (1, 28, 28)),
    "mnist_residual": (seeds.ResidualNet, (1, 28, 28)),
    "resnet18": (torchvision.models.resnet18, (3, 224, 224)),
    "resnet50": (torchvision.models.resnet50, (3, 224, 224)),
}


def timed(fn: Callable[[], object], inner: int) -> float:
    t = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t) / inner


def interleaved(a: Callable[[], object], b: Callable[[], object], repeats: int, inner: int) -> tuple[float, float]:
    """Median seconds per call of a and b, measured alternately so drift hits both alike."""
    for _ in range(3):
        a(), b()  # warm-up
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(timed(a, inner))
        tb.append(timed(b, inner))
    return statistics.median(ta), statistics.median(tb)


def bench_forward(name: str, batch: int, repeats: int) -> tuple[float, float]:
    make_ref, shape = CASES[name]
    ref = make_ref().eval()
    ours = archspec.build(ROOT / "specs" / f"{name}.yaml").eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(batch, *shape)
    with torch.inference_mode():
        assert torch.allclose(ours(x), ref(x), atol=1e-4)
        inner = max(1, int(0.05 / timed(lambda: ref(x), 3)))  # about 50 ms per sample
        return interleaved(lambda: ours(x), lambda: ref(x), repeats, inner)


def bench_build(repeats: int) -> tuple[float, float]:
    spec = ROOT / "specs" / "resnet50.yaml"
    return interleaved(lambda: archspec.build(spec), torchvision.models.resnet50, repeats, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--batches", default="1,64")
    p.add_argument("--only", default=",".join(CASES))
    args = p.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"{'network':<18}{'batch':>6}{'archspec ms':>14}{'reference ms':>14}{'ratio':>8}")
    for name in args.only.split(","):
        for batch in map(int, args.batches.split(",")):
            a, b = bench_forward(name, batch, args.repeats)
            print(f"{name:<18}{batch:>6}{a * 1e3:>14.3f}{b * 1e3:>14.3f}{a / b:>8.3f}", flush=True)
    a, b = bench_build(max(3, args.repeats // 2))
    print(f"\nbuild resnet50: archspec.build {a * 1e3:.1f} ms, torchvision.models.resnet50() {b * 1e3:.1f} ms, ratio {a / b:.3f}")


if __name__ == "__main__":
    main()
