"""Training speed: the seeds' own loop vs `archspec train` on the same network, epochs and batch size.

The seeds' loop is theirs: a torchvision dataset with ToTensor/Normalize, a DataLoader at batch 64,
per-batch .to(device), the seed's hand-written class and the seed's recipe (Adam 0.01 for lenet, SGD
0.01 momentum 0.5 for the other two). archspec trains the spec with its train: recipe (batch 64 too).
Prints seconds per epoch, images/s, test accuracy and the speed-up, and the seed's model and optimizer
timed alone on a batch already in memory ("seed compute"): the part of the seed loop that
better data handling cannot remove.

    python tools/bench_train.py [--epochs 1] [--repeats 1] [--only lenet,mnist_residual,mnist_inception] [--data-dir D]

With --repeats N the two loops alternate N times with seeds 0..N-1 (timings on a shared machine drift by
10-20 % between minutes); times are medians, accuracies means, the speed-up the ratio of the medians.
Each loop runs in a fresh process, so neither inherits the other's heap or allocator settings
(`archspec train` on CPU tells glibc to keep freed memory; see archspec/train/allocator.py). The
column "kept memory" times the seed's compute once more with that setting, to show how much of the gap
it explains; "convs alone" is the spec's convolutions by themselves (tools/bench_conv_floor.py), the
floor under any CPU epoch at this batch size: a speed-up of 3x needs it below a third of "seed s/ep".
"""
from __future__ import annotations

import argparse
import concurrent.futures
import gzip
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import seeds  # noqa: E402

from archspec.train.allocator import keep_freed_memory  # noqa: E402
from bench_conv_floor import conv_floor  # noqa: E402
from archspec.train.loop import train  # noqa: E402

SEEDS = {"lenet": seeds.LeNet003, "mnist_residual": seeds.ResidualNet, "mnist_inception": seeds.InceptionNet}
# the recipes the seed posts train with (seed 003; seeds 000 and 001), not the specs' train: sections
SEED_RECIPES = {"lenet": {"optimizer": "adam", "lr": 0.01},
                "mnist_residual": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5},
                "mnist_inception": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5}}


def torchvision_root(src: Path, tmp: Path) -> Path:
    """torchvision's FashionMNIST wants un-gzipped files under ROOT/FashionMNIST/raw."""
    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for f in src.glob("*-ubyte.gz"):
        with gzip.open(f) as fin, open(raw / f.name[:-3], "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return tmp


def seed_loop(name: str, root: Path, epochs: int, recipe: dict, seed: int) -> tuple[float, float]:
    """The seeds' training loop; returns (seconds per epoch, test accuracy)."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    train_set = datasets.FashionMNIST(root=str(root), train=True, download=False, transform=tf)
    test_set = datasets.FashionMNIST(root=str(root), train=False, download=False, transform=tf)
    train_loader = DataLoader(train_set, shuffle=True, batch_size=64)
    test_loader = DataLoader(test_set, shuffle=False, batch_size=64)
    torch.manual_seed(seed)
    model = SEEDS[name]()
    opt = seed_optimizer(model, recipe)
    criterion = nn.CrossEntropyLoss()
    t = time.perf_counter()
    for _ in range(epochs):
        for inputs, target in train_loader:
            opt.zero_grad()
            loss = criterion(model(inputs), target)
            loss.backward()
            opt.step()
    seconds = (time.perf_counter() - t) / epochs
    correct = total = 0
    with torch.no_grad():
        for images, labels in test_loader:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += labels.size(0)
    return seconds, correct / total


def seed_optimizer(model: nn.Module, recipe: dict) -> torch.optim.Optimizer:
    if recipe["optimizer"] == "adam":
        return torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    return torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"])


def seed_compute(name: str, recipe: dict, keep_memory: bool = False, steps: int = 200) -> float:
    """Seconds per epoch of the seed's model and optimizer alone, on one batch already in memory:
    what is left of the seed loop without its data handling (the ceiling for data-side gains)."""
    if keep_memory:
        keep_freed_memory()
    torch.manual_seed(0)
    model, x, y = SEEDS[name](), torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    opt = seed_optimizer(model, recipe)

    def step() -> None:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(10):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps * 60000 / 64


def our_loop(spec: Path, epochs: int, data_dir: str, seed: int, out: Path) -> tuple[float, float]:
    run = train(spec, overrides={"epochs": epochs, "data_dir": data_dir, "seed": seed}, out=out, progress=False)
    return sum(h["seconds"] for h in run.history) / len(run.history), run.history[-1]["test_acc"]


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def median_and_mean(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """(median seconds, mean accuracy) of (seconds, accuracy) pairs."""
    return statistics.median(s for s, _ in runs), statistics.fmean(a for _, a in runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--only", default=",".join(SEEDS))
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, Fashion-MNIST, {args.epochs} epoch(s), batch 64, {args.repeats} repeat(s)")
    print(f"{'network':<17}{'seed s/ep':>10}{'ours s/ep':>10}{'seed img/s':>11}{'ours img/s':>11}{'seed acc':>9}{'ours acc':>9}{'speed-up':>9}{'seed compute s/ep':>18}{'kept memory':>12}{'convs alone':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(args.data_dir), Path(tmp) / "tv")
        for name in args.only.split(","):
            spec = ROOT / "specs" / f"{name}.yaml"
            recipe = SEED_RECIPES[name]
            seed_runs, our_runs, compute, kept, floor = [], [], [], [], []
            for r in range(args.repeats):
                seed_runs.append(in_fresh_process(seed_loop, name, root, args.epochs, recipe, r))
                compute.append(in_fresh_process(seed_compute, name, recipe))
                kept.append(in_fresh_process(seed_compute, name, recipe, True))
                floor.append(in_fresh_process(conv_floor, name, 64, 5))
                our_runs.append(in_fresh_process(our_loop, spec, args.epochs, args.data_dir, r, Path(tmp) / f"{name}-{r}"))
            seed_s, seed_acc = median_and_mean(seed_runs)
            ours_s, ours_acc = median_and_mean(our_runs)
            print(f"{name:<17}{seed_s:>10.2f}{ours_s:>10.2f}{60000 / seed_s:>11,.0f}{60000 / ours_s:>11,.0f}"
                  f"{100 * seed_acc:>8.2f}%{100 * ours_acc:>8.2f}%{seed_s / ours_s:>8.2f}x"
                  f"{statistics.median(compute):>18.2f}{statistics.median(kept):>12.2f}{statistics.median(floor):>12.2f}", flush=True)


if __name__ == "__main__":
    main()
