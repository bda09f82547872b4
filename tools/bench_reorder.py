"""Training-step time with and without the compiler's activation-behind-max-pool move, interleaved in one process.

    python tools/bench_reorder.py [--only mnist_residual,lenet_cifar] [--batch 64] [--repeats 7]

Prints min and median ms per step (SGD, channels-last, as the trainer runs on CPU) and the ratio
moved / as written.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from archspec import analyze, load_spec
from archspec.compile import compile_graph

ROOT = Path(__file__).resolve().parent.parent


def stepper(name: str, reorder: bool, batch: int) -> Callable[[], None]:
    a = analyze(load_spec(ROOT / "specs" / f"{name}.yaml"), {})
    torch.manual_seed(0)
    model = compile_graph(a.graph, a.shapes, reorder=reorder).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
    x = torch.randn(batch, *a.graph.input_shape).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="mnist_residual,lenet_cifar")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    print(f"{'network':<16}{'as written ms':>14}{'moved ms':>10}{'ratio (min)':>12}{'ratio (median)':>15}")
    for name in args.only.split(","):
        steps = {r: stepper(name, r, args.batch) for r in (False, True)}
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for r, step in steps.items():
                step()
                t = time.perf_counter()
                for _ in range(30):
                    step()
                times[r].append((time.perf_counter() - t) / 30 * 1000)
        lo = {r: min(v) for r, v in times.items()}
        med = {r: statistics.median(v) for r, v in times.items()}
        print(f"{name:<16}{lo[False]:>14.2f}{lo[True]:>10.2f}{lo[True] / lo[False]:>12.3f}{med[True] / med[False]:>15.3f}", flush=True)


if __name__ == "__main__":
    main()
