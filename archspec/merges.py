"""Function nodes: merges (how the outputs of several branches become one value) and the slices that
split a value into branches. One registry, like blocks: each entry has a shape rule (batch dim
excluded) and the call the generated forward makes. No torch is imported until a module is compiled.

Dims are counted without the batch: dim 0 is the channels of an image or the tokens of a sequence;
negative dims count from the end."""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

from .errors import ShapeError
from .registry import fmt_shape
from .types import Shape


Infer = Callable[..., Shape]  # (input shapes, **args) -> output shape; raises ShapeError


@dataclass(frozen=True)
class Merge:
    name: str
    doc: str
    infer: Infer
    fn: Callable[..., Any]  # pairwise: the operator; else fn(fx graph, input nodes, **args) adds the call
    pairwise: bool  # folded over the inputs two at a time (add, mul)
    user: bool = True  # offered as `merge:` of parallel/residual (the slice op is internal)
    view: bool = False  # its output shares memory with an input (a slice): nothing may write to it in place
    inplace: str | None = None  # the Tensor method doing it in place on the first input, where its backward needs no input


MERGES: dict[str, Merge] = {}


def register_merge(name: str, doc: str, pairwise: bool, fn: Callable[..., Any], user: bool = True,
                   view: bool = False, inplace: str | None = None) -> Callable[[Infer], Infer]:
    """Decorator on a shape rule adding a function op."""
    def wrap(infer: Infer) -> Infer:
        assert name not in MERGES, f"merge {name} registered twice"
        MERGES[name] = Merge(name, doc, infer, fn, pairwise, user, view, inplace)
        return infer
    return wrap


def merge_names() -> list[str]:
    return [m.name for m in MERGES.values() if m.user]


def norm_dim(dim: int, rank: int, what: str) -> int:
    """`dim` as a non-negative index into a shape of `rank` dims (batch excluded)."""
    if not -rank <= dim < rank:
        raise ShapeError(f"{what}: dim {dim} is out of range for a value of {rank} dims (batch excluded)")
    return dim % rank


def mismatch(op: str, what: str, ins: list[Shape], i: int) -> ShapeError:
    return ShapeError(f"{what} mismatch at {op}: branch 0 gives {fmt_shape(ins[0])}, branch {i} gives {fmt_shape(ins[i])}")


@register_merge("add", "elementwise sum; all inputs have the same shape", True, operator.add, inplace="add_")
def add_shape(ins: list[Shape]) -> Shape:
    first = ins[0]
    for i, s in enumerate(ins[1:], 1):
        if s != first:
            raise mismatch("add", "channel" if len(s) == len(first) and s[0] != first[0] else "shape", ins, i)
    return first


def broadcast(a: Shape, b: Shape) -> Shape | None:
    """numpy broadcasting of two shapes, or None."""
    n = max(len(a), len(b))
    a2, b2 = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a2, b2)):
        return None
    return tuple(max(x, y) for x, y in zip(a2, b2))


@register_merge("mul", "elementwise product with broadcasting: (C, H, W) * (C, 1, 1) is a gate", True, operator.mul)
def mul_shape(ins: list[Shape]) -> Shape:
    out = ins[0]
    for i, s in enumerate(ins[1:], 1):
        if len(s) != len(out):  # the batch dim, left out here, would meet a sample dim in torch's broadcasting
            raise mismatch("mul", "rank", ins, i)
        b = broadcast(out, s)
        if b is None:
            raise mismatch("mul", "shape", ins, i)
        out = b
    return out


def batch_dim(dim: int) -> int:
    """A spec dim (batch excluded) as torch counts it."""
    return dim + 1 if dim >= 0 else dim


def _cat(g: Any, xs: list[Any], dim: int = 0) -> Any:
    import torch  # compile time only: the generated code calls torch.cat itself (TorchScript-able)
    return g.call_function(torch.cat, (xs, batch_dim(dim)))


@register_merge("concat", "concatenation along `dim` (default 0: channels, or tokens); all other dims agree", False, _cat)
def concat_shape(ins: list[Shape], dim: int = 0) -> Shape:
    first = ins[0]
    d = norm_dim(dim, len(first), "concat")
    for i, s in enumerate(ins[1:], 1):
        if len(s) != len(first) or s[:d] + s[d + 1:] != first[:d] + first[d + 1:]:
            raise mismatch("concat", "spatial" if len(s) == len(first) == 3 and d == 0 else "shape", ins, i)
    return (*first[:d], sum(s[d] for s in ins), *first[d + 1:])


def _narrow(g: Any, xs: list[Any], dim: int, start: int, length: int) -> Any:
    import torch
    return g.call_function(torch.narrow, (xs[0], batch_dim(dim), start, length))


@register_merge("narrow", "the slice [start, start + length) along `dim`: one branch of a split", False, _narrow, user=False, view=True)
def narrow_shape(ins: list[Shape], dim: int, start: int, length: int) -> Shape:
    x = ins[0]
    d = norm_dim(dim, len(x), "split")
    if start + length > x[d]:
        raise ShapeError(f"split into {start + length} along dim {dim} does not fit a size of {x[d]}")
    return (*x[:d], length, *x[d + 1:])
