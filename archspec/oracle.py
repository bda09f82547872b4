"""torchvision as the oracle: a spec's module against torchvision's own, weight for weight.

Used by the tests and by tools/check_torchvision.py; imports torchvision only when called."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn as nn

import archspec


def torchvision_model(name: str, **kwargs: object) -> nn.Module:
    import torchvision

    return torchvision.models.get_model(name, weights=None, **kwargs)


def keys_and_shapes(m: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in m.state_dict().items()]


def meta_mismatch(name: str, **params: object) -> str | None:
    """None when the spec's state_dict has torchvision's keys, order and shapes (both built on the
    meta device: nothing allocated), else what differs first."""
    with torch.device("meta"):
        ours = keys_and_shapes(archspec.build(name, **params))
        with cpu_regnet_widths():
            ref = keys_and_shapes(torchvision_model(name, **params))
    if ours == ref:
        return None
    if sorted(ours) == sorted(ref):
        return "same keys and shapes, different order"
    a, b = dict(ours), dict(ref)
    missing = [k for k in b if k not in a][:3]
    extra = [k for k in a if k not in b][:3]
    shapes = [(k, a[k], b[k]) for k in a if k in b and a[k] != b[k]][:3]
    return f"missing {missing}, unexpected {extra}, shape differs {shapes}"


@contextmanager
def cpu_regnet_widths() -> Iterator[None]:
    """torchvision's RegNet computes its widths with tensors (`.tolist()`), which fails on the meta
    device; compute them on the CPU while the modules stay on meta."""
    from torchvision.models import regnet

    orig = regnet.BlockParams.__dict__["from_init_params"]

    def on_cpu(cls: type, *args: object, **kwargs: object) -> object:
        with torch.device("cpu"):
            return orig.__func__(cls, *args, **kwargs)

    regnet.BlockParams.from_init_params = classmethod(on_cpu)  # type: ignore[assignment]
    try:
        yield
    finally:
        regnet.BlockParams.from_init_params = orig  # type: ignore[assignment]


def randomize_stats(m: nn.Module, seed: int = 0) -> None:
    """Batch-norm running statistics away from 0/1, so a wrong eps or a missing norm shows."""
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm) and mod.running_mean is not None:
            mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)


@dataclass
class Comparison:
    name: str
    params: int
    ref_params: int
    max_diff: float
    build_s: float
    ref_build_s: float


def compare(name: str, size: int = 224, train: bool = False, batch: int = 2, **params: object) -> Comparison:
    """Build both, load torchvision's state_dict strictly, compare outputs on one random input (in
    training mode: every output, aux heads included, with the same seed for dropout)."""
    t0 = time.perf_counter()
    ref = torchvision_model(name, **params)
    t1 = time.perf_counter()
    ours = archspec.build(name, **params)
    t2 = time.perf_counter()
    with torch.no_grad():
        randomize_stats(ref)
        for p in ref.parameters():
            if not p.any():  # a zero-initialised head (ViT's) would make every output 0 and any spec "match"
                p.normal_(0, 0.02)
    ours.load_state_dict(ref.state_dict(), strict=True)
    ref.train(train)
    ours.train(train)
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.manual_seed(0)
        a = ours(x)
        torch.manual_seed(0)
        b = ref(x)
    diff = max_diff(a, b)
    n = sum(p.numel() for p in ours.parameters())
    r = sum(p.numel() for p in ref.parameters())
    return Comparison(name, n, r, diff, t2 - t1, t1 - t0)


def max_diff(a: object, b: object) -> float:
    """Max abs difference between our output (a tensor, or a dict of named outputs) and torchvision's
    (a tensor, or in training mode a namedtuple such as GoogLeNetOutputs(logits, aux_logits2,
    aux_logits1)): the main output against the first field, each other field against our output of
    the same name, so a spec names its taps as torchvision names them."""
    if isinstance(a, dict):
        fields = getattr(b, "_fields", None)
        if fields is None:
            return float("inf")
        pairs = [(a.get("out"), b[0])] + [(a.get(f), getattr(b, f)) for f in fields[1:]]
        if any(x is None for x, _ in pairs) or len(a) != len(fields):
            return float("inf")
        return max(max_diff(x, y) for x, y in pairs)
    if isinstance(b, tuple):
        b = b[0]
    return (a - b).abs().max().item()  # type: ignore[operator]
