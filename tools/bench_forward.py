"""Forward speed of archspec's modules vs torchvision's own (and the seed classes), and build time vs
torchvision's constructors.

Both sides run in the same process, interleaved, with the same weights, in eval mode under no_grad;
the ratio (archspec / reference) is what to read: absolute times drift on shared machines.
Batch 32 gets fewer repeats than batch 1 (a ViT-B/16 forward at batch 32 takes seconds on 2 cores).

    python tools/bench_forward.py [--repeats 9] [--batches 1,32] [--only resnet50,vit_b_16] [--no-build] [--no-forward]
                                  [--keep-freed-memory]

The build table has two archspec columns: a build from a spec file not yet read in the process
(archspec's parse and analysis caches emptied first: YAML parsing, lowering and code generation
all paid), and repeated builds of the same network (parsed spec and analysis reused, as in a sweep).
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

TORCHVISION = ["resnet50", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny", "vit_b_16"]
SEEDS: dict[str, tuple[Callable[[], torch.nn.Module], tuple[int, ...]]] = {
    "lenet": (seeds.LeNet003, (1, 28, 28)),
    "lenet_cifar": (seeds.LeNet004, (3, 32, 32)),
    "mnist_inception": (seeds.InceptionNet, (1, 28, 28)),
    "mnist_residual": (seeds.ResidualNet, (1, 28, 28)),
}


def reference(name: str) -> tuple[Callable[[], torch.nn.Module], tuple[int, ...]]:
    """The hand-written module of a name (torchvision's constructor or a seed class) and its input shape."""
    if name in SEEDS:
        return SEEDS[name]
    return getattr(torchvision.models, name), (3, 224, 224)


def timed(fn: Callable[[], object], inner: int) -> float:
    t = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t) / inner


def interleaved(a: Callable[[], object], b: Callable[[], object], repeats: int, inner: int, warmup: int = 2) -> tuple[float, float]:
    """Median seconds per call of a and b, measured alternately so drift hits both alike."""
    for _ in range(warmup):
        a(), b()
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(timed(a, inner))
        tb.append(timed(b, inner))
    return statistics.median(ta), statistics.median(tb)


def bench_forward(name: str, batch: int, repeats: int) -> tuple[float, float]:
    make_ref, shape = reference(name)
    ref = make_ref().eval()
    spec = ROOT / "specs" / f"{name}.yaml" if name in SEEDS else name
    ours = archspec.build(spec).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(batch, *shape)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-3), name
        inner = max(1, int(0.05 / timed(lambda: ref(x), 1)))  # about 50 ms per sample
        return interleaved(lambda: ours(x), lambda: ref(x), repeats, inner, warmup=2 if batch < 8 else 1)


def bench_build(name: str, repeats: int) -> tuple[float, float, float]:
    """(first build, repeated build, constructor) seconds: medians, interleaved."""
    from archspec import api

    make_ref, _ = reference(name)
    spec = ROOT / "specs" / f"{name}.yaml" if name in SEEDS else name

    def first() -> object:
        api._PARSED.clear()
        api._ANALYSED.clear()
        return archspec.build(spec)

    # a small network builds in ~15 ms, where one garbage collection moves a sample by a third: about a
    # second of samples per column, at least `repeats`
    repeats = min(25, max(repeats, int(1.0 / timed(make_ref, 1))))
    cold, ref = interleaved(first, make_ref, repeats, 1, warmup=1)
    warm, _ = interleaved(lambda: archspec.build(spec), make_ref, repeats, 1, warmup=1)
    return cold, warm, ref


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=9, help="repeats at batch 1 (a third of them, at least 3, at batch >= 8)")
    p.add_argument("--batches", default="1,32")
    p.add_argument("--only", default=",".join(TORCHVISION), help=f"names; also the seeds: {', '.join(SEEDS)}")
    p.add_argument("--no-build", action="store_true", help="skip the build-time table")
    p.add_argument("--no-forward", action="store_true", help="only the build-time table")
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="glibc keeps freed memory for both sides, as `archspec train` sets it (archspec/train/allocator.py): "
                        "no page faults for activations, which otherwise depend on the order tensors are freed in")
    args = p.parse_args()
    if args.keep_freed_memory:
        from archspec.train.allocator import keep_freed_memory

        print(f"malloc keeps freed memory: {keep_freed_memory()}")
    torch.manual_seed(0)
    names = args.only.split(",")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"{'network':<20}{'batch':>6}{'archspec ms':>14}{'reference ms':>14}{'ratio':>8}")
    for name in [] if args.no_forward else names:
        for batch in map(int, args.batches.split(",")):
            reps = args.repeats if batch < 8 else max(3, args.repeats // 3)
            a, b = bench_forward(name, batch, reps)
            print(f"{name:<20}{batch:>6}{a * 1e3:>14.2f}{b * 1e3:>14.2f}{a / b:>8.3f}", flush=True)
    if args.no_build:
        return
    print(f"\n{'build':<20}{'first ms':>10}{'repeated ms':>13}{'constructor ms':>16}{'first ratio':>13}{'repeated ratio':>16}")
    for name in names:
        cold, warm, ref = bench_build(name, max(3, args.repeats // 2))
        print(f"{name:<20}{cold * 1e3:>10.1f}{warm * 1e3:>13.1f}{ref * 1e3:>16.1f}{cold / ref:>13.3f}{warm / ref:>16.3f}", flush=True)


if __name__ == "__main__":
    main()
