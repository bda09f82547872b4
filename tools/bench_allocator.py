"""Training-step time and page faults with glibc's default malloc vs. archspec's kept freed memory.

    python tools/bench_allocator.py [--only mnist_residual,mnist_inception,lenet] [--processes 5] [--steps 50]

Each measurement is a fresh process (malloc settings are process-wide and its default depends on the
process's history), the two settings alternating. Prints median ms and minor page faults per step,
and the ratio kept / default of the median times.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

from archspec.train.allocator import keep_freed_memory
from bench_reorder import stepper
from bench_train import in_fresh_process


def measure(name: str, keep: bool, steps: int) -> tuple[float, float]:
    """(ms, page faults) per training step, batch 64, as the trainer runs on CPU."""
    if keep:
        keep_freed_memory()
    step = stepper(name, True, 64)
    for _ in range(5):
        step()
    faults, t = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    for _ in range(steps):
        step()
    ms = (time.perf_counter() - t) / steps * 1000
    return ms, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="mnist_residual,mnist_inception,lenet")
    p.add_argument("--processes", type=int, default=5)
    p.add_argument("--steps", type=int, default=50)
    args = p.parse_args()
    print(f"{'network':<16}{'default ms':>11}{'faults':>8}{'kept ms':>9}{'faults':>8}{'ratio':>7}")
    for name in args.only.split(","):
        runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(args.processes):
            for keep in (False, True):
                runs[keep].append(in_fresh_process(measure, name, keep, args.steps))
        ms = {k: statistics.median(m for m, _ in v) for k, v in runs.items()}
        faults = {k: statistics.median(f for _, f in v) for k, v in runs.items()}
        print(f"{name:<16}{ms[False]:>11.2f}{faults[False]:>8.0f}{ms[True]:>9.2f}{faults[True]:>8.0f}{ms[True] / ms[False]:>7.3f}", flush=True)


if __name__ == "__main__":
    main()
