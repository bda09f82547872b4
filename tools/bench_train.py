"""Time to accuracy: the seeds' own training loops vs `archspec train` with the spec's shipped recipe.

For lenet, mnist_residual and mnist_inception, each repeat runs two whole processes on Fashion-MNIST,
one after the other, and timestamps every epoch line they print, counted from each process's start:

1. the seed's own loop and recipe (lenet: seed 003, Adam lr 0.01; mnist_residual and mnist_inception:
   seeds 001 and 000, SGD lr 0.01 momentum 0.5): torchvision's FashionMNIST with ToTensor and
   Normalize, DataLoaders at batch 64, the seed's hand-written class (tests/seeds.py), 5 epochs, the
   test set scored after each epoch as the seed posts do. Its target is its test accuracy after
   those 5 epochs; "seed" is when it first reached it (usually at epoch 5). Normalize uses
   Fashion-MNIST's mean and std, as archspec does: seed 003 feeds raw [0, 1] pixels, and with
   torch.manual_seed(0) that loop stays at 10 % for all 5 epochs, which makes no target;
2. `archspec train SPEC` with the spec's `train:` recipe, which scores the test set after each epoch;
   "archspec" is when it first printed a test accuracy at or above the seed's target.

Both times include everything a user waits for: Python and torch start-up, data loading, evaluation
and (for archspec) writing the run folder. Each is given as wall-clock seconds and as the CPU seconds
the process had used by then (/proc/PID/stat); on a machine loaded by other work the CPU seconds are
the steadier figure. The ratio is seed / archspec.

    python tools/bench_train.py [--repeats 1] [--threads N] [--only lenet,mnist_residual,mnist_inception]

--repeats N alternates the two loops N times with seeds 0..N-1 and reports medians and the ratio of
the medians. --threads N sets OMP_NUM_THREADS for both processes: on a loaded machine, OpenMP threads
that wait for each other at every parallel region make both loops many times slower (lenet's epoch
took 211 s with 2 threads at a load average of 9 on 2 cores; one thread trained a fifth of an epoch in 3.0 s), so compare with
--threads 1 there. The load average is printed beside each row.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import gzip
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("lenet", "mnist_residual", "mnist_inception")
SEED_EPOCHS = 5
# the seed posts' optimizers (seed 003 for lenet; seeds 000/001 for the other two)
SEED_RECIPES: dict[str, dict[str, Any]] = {
    "lenet": {"optimizer": "adam", "lr": 0.01},
    "mnist_residual": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5},
    "mnist_inception": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5},
}
FASHION_MNIST = ((0.2860,), (0.3530,))  # the training set's mean and std, as archspec's normalize computes them
SEED_CLASSES = {"lenet": "LeNet003", "mnist_residual": "ResidualNet", "mnist_inception": "InceptionNet"}
EPOCH_LINE = re.compile(r"^epoch (\d+)/\d+: .*test (?:loss \S+ )?acc ([\d.]+)%")  # archspec's line and the seed loop's


@dataclass
class Run:
    """One process: (wall seconds from its start, CPU seconds, test accuracy in hundredths of a percent) per epoch."""

    epochs: list[tuple[float, float, int]]
    exit_s: float

    def first_reaching(self, target: int) -> Optional[tuple[float, float]]:
        """(wall, CPU) seconds at the first epoch scoring `target` or more; None if none did."""
        return next(((wall, cpu) for wall, cpu, acc in self.epochs if acc >= target), None)


def cpu_seconds(pid: int) -> float:
    """User + system time of a running process, its threads included (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def torchvision_root(src: Path, tmp: Path) -> Path:
    """torchvision's FashionMNIST wants un-gzipped files under ROOT/FashionMNIST/raw."""
    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*-ubyte.gz"):
        with gzip.open(f) as fin, open(raw / f.name[:-3], "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return tmp


def seed_loop(name: str, root: str, epochs: int, seed: int) -> None:
    """The seed post's script, run as its own process (no archspec import): prints each epoch's test accuracy."""
    import torch
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    sys.path.insert(0, str(ROOT / "tests"))
    import seeds

    recipe = SEED_RECIPES[name]
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(*FASHION_MNIST)])
    train_set = datasets.FashionMNIST(root=root, train=True, download=False, transform=tf)
    test_set = datasets.FashionMNIST(root=root, train=False, download=False, transform=tf)
    train_loader = DataLoader(train_set, shuffle=True, batch_size=64)
    test_loader = DataLoader(test_set, shuffle=False, batch_size=64)
    torch.manual_seed(seed)
    model = getattr(seeds, SEED_CLASSES[name])()
    if recipe["optimizer"] == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"])
    criterion = torch.nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for inputs, target in train_loader:
            opt.zero_grad()
            criterion(model(inputs), target).backward()
            opt.step()
        correct = total = 0
        model.eval()
        with torch.no_grad():
            for images, labels in test_loader:
                correct += (model(images).argmax(1) == labels).sum().item()
                total += labels.size(0)
        print(f"epoch {epoch + 1}/{epochs}: test acc {100 * correct / total:.2f}%", flush=True)


def timed_process(cmd: list[str], env: dict[str, str]) -> Run:
    """Start `cmd`, timestamp each epoch line it prints, wait for it to exit."""
    t0 = time.perf_counter()
    # stderr joins stdout: one pipe read to the end, so a chatty stderr can never fill up and block the child
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    epochs, other = [], []
    assert proc.stdout is not None
    for line in proc.stdout:
        m = EPOCH_LINE.match(line)
        if m:
            epochs.append((time.perf_counter() - t0, cpu_seconds(proc.pid), round(float(m.group(2)) * 100)))
        else:
            other.append(line)
    if proc.wait() != 0 or not epochs:
        raise SystemExit(f"{' '.join(cmd)} failed with status {proc.returncode}:\n{''.join(other)[-3000:]}")
    return Run(epochs, time.perf_counter() - t0)


def seed_run(name: str, root: Path, seed: int, env: dict[str, str]) -> Run:
    code = f"import sys; sys.path.insert(0, {str(ROOT / 'tools')!r}); import bench_train as b; b.seed_loop({name!r}, {str(root)!r}, {SEED_EPOCHS}, {seed})"
    return timed_process([sys.executable, "-c", code], env)


def archspec_run(name: str, data_dir: str, seed: int, out: Path, env: dict[str, str]) -> Run:
    cmd = [sys.executable, "-m", "archspec.cli", "train", str(ROOT / "specs" / f"{name}.yaml"), "--no-progress",
           "--data-dir", data_dir, "--seed", str(seed), "--out", str(out)]
    return timed_process(cmd, env)


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """Run fn(*args) in a new interpreter (spawn), so no heap or allocator setting carries over."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def fmt_s(t: Optional[float]) -> str:
    return "never" if t is None else f"{t:.1f}"


def describe(who: str, run: Run) -> str:
    return (f"{who} " + ", ".join(f"{acc / 100:.2f}% at {wall:.1f} s ({cpu:.1f} cpu)" for wall, cpu, acc in run.epochs)
            + f", exit {run.exit_s:.1f} s")


def median_or_none(xs: list[Optional[float]]) -> Optional[float]:
    """The median, counting a run that never reached the target as slower than any that did."""
    m = statistics.median(float("inf") if x is None else x for x in xs)
    return None if m == float("inf") else m


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def bench(name: str, root: Path, args: argparse.Namespace, env: dict[str, str], tmp: Path) -> None:
    """Alternate the seed loop and archspec `args.repeats` times; print each pair, then the row."""
    walls: dict[str, list[Optional[float]]] = {"seed": [], "ours": []}
    cpus: dict[str, list[Optional[float]]] = {"seed": [], "ours": []}
    targets, loads = [], [os.getloadavg()[0]]
    for r in range(args.repeats):
        s = seed_run(name, root, r, env)
        target = s.epochs[-1][2]
        o = archspec_run(name, args.data_dir, r, tmp / f"{name}-{r}", env)
        loads.append(os.getloadavg()[0])
        print(f"  {name} seed={r}: target {target / 100:.2f}%; {describe('seed loop', s)}; {describe('archspec', o)}", flush=True)
        for who, run in (("seed", s), ("ours", o)):
            hit = run.first_reaching(target)
            walls[who].append(hit[0] if hit else None)
            cpus[who].append(hit[1] if hit else None)
        targets.append(target)
    w = {k: median_or_none(v) for k, v in walls.items()}
    c = {k: median_or_none(v) for k, v in cpus.items()}
    print(f"{name:<17}{statistics.fmean(targets) / 100:>7.2f}%{fmt_s(w['seed']):>9}{fmt_s(w['ours']):>10}{ratio(w['seed'], w['ours']):>8}"
          f"{fmt_s(c['seed']):>10}{fmt_s(c['ours']):>10}{ratio(c['seed'], c['ours']):>8}   {min(loads):.1f}-{max(loads):.1f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, help="OMP_NUM_THREADS for both loops (default: torch's own choice)")
    p.add_argument("--only", default=",".join(NAMES))
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = p.parse_args()
    env = dict(os.environ)
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    print(f"Fashion-MNIST; seed loop {SEED_EPOCHS} epochs vs archspec's shipped recipe; {args.repeats} repeat(s); "
          f"threads {args.threads or 'default'}; {os.cpu_count()} CPUs; times from process start")
    print(f"{'':<25}{'wall-clock s':^27}{'CPU s':^28}")
    print(f"{'network':<17}{'target':>8}{'seed':>9}{'archspec':>10}{'ratio':>8}{'seed':>10}{'archspec':>10}{'ratio':>8}   load avg")
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(args.data_dir), Path(tmp) / "tv")
        for name in args.only.split(","):
            bench(name, root, args, env, Path(tmp))


if __name__ == "__main__":
    main()
