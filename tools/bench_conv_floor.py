"""The floor under a CPU training epoch: each convolution of a spec alone, forward and backward.

    python tools/bench_conv_floor.py [--only mnist_residual,mnist_inception,lenet] [--batch 64] [--repeats 7]

Records every Conv2d's input shape in one forward pass, then times each convolution by itself on
that shape (channels-last, as the trainer runs on CPU; the input gradient only where the layer's input
needs one), and prints the sum as seconds per 60,000-image epoch: what an epoch costs in oneDNN's
convolution kernels before anything else runs. Compare it with a third of the seed loop's time in
tools/bench_train.py to see whether a 3x speed-up is within reach at this batch size.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn as nn

from archspec import analyze, load_spec
from archspec.compile import compile_graph
from archspec.train.allocator import keep_freed_memory

ROOT = Path(__file__).resolve().parent.parent


def conv_inputs(name: str, batch: int) -> list[tuple[nn.Conv2d, torch.Size, bool]]:
    """(conv, input shape, input needs a gradient) for every convolution the forward pass runs."""
    a = analyze(load_spec(ROOT / "specs" / f"{name}.yaml"), {})
    model = compile_graph(a.graph, a.shapes)
    seen: list[tuple[nn.Conv2d, torch.Size, bool]] = []
    hooks = [m.register_forward_pre_hook(lambda m, args: seen.append((m, args[0].shape, args[0].requires_grad)))
             for m in model.modules() if isinstance(m, nn.Conv2d)]
    model(torch.randn(batch, *a.graph.input_shape))
    for h in hooks:
        h.remove()
    return seen


def time_conv(conv: nn.Conv2d, shape: torch.Size, grad_input: bool, repeats: int) -> float:
    """Best-of-repeats ms for one forward and backward of the convolution."""
    conv = conv.to(memory_format=torch.channels_last)
    x = torch.randn(shape).contiguous(memory_format=torch.channels_last).requires_grad_(grad_input)
    y = conv(x)
    dy = torch.ones_like(y)

    def step() -> None:
        conv(x).backward(dy)
    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(10):
            step()
        best = min(best, (time.perf_counter() - t) / 10 * 1000)
    return best


def epoch_seconds(convs: list[tuple[nn.Conv2d, torch.Size, bool]], batch: int, repeats: int) -> float:
    """Seconds per 60,000-image epoch spent in these convolutions alone."""
    keep_freed_memory()
    ms = sum(time_conv(c, s, g, repeats) for c, s, g in convs)
    return ms * 60000 / batch / 1000


def conv_floor(name: str, batch: int, repeats: int) -> float:
    return epoch_seconds(conv_inputs(name, batch), batch, repeats)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="mnist_residual,mnist_inception,lenet")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    print(f"{'network':<16}{'convs':>6}{'s per epoch':>12}")
    for name in args.only.split(","):
        convs = conv_inputs(name, args.batch)
        print(f"{name:<16}{len(convs):>6}{epoch_seconds(convs, args.batch, args.repeats):>12.2f}", flush=True)


if __name__ == "__main__":
    main()
