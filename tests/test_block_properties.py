"""Property tests generated from the block registry: every leaf block type, with field values drawn from
its pydantic model, is built as a module and run forward (training and eval mode); the output shape must
equal the static shape rule's, the module's hyperparameters must equal the spec's fields, and its parameter
count the block's `params` rule.

Nothing here names a block type: value strategies come from each field's annotation and constraints
(a small table keyed by field *type* says how to draw the types whose values depend on the input:
shape-like integer lists, per-channel number lists), and module attributes are found by the field's
name (a few aliases where torch says it differently: heads -> num_heads). A new block or field is
covered without new code; a field that the module does not expose must say where else it is tested.
Merges (concat, add, mul) are checked the same way against torch's own ops."""
from __future__ import annotations

import math
import os
import types
import typing
from typing import Any, Callable, Literal, Optional, Union

import pytest
import torch
import torch.nn as nn
from annotated_types import Ge, Gt, Le, MaxLen, MinLen
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from pydantic.fields import FieldInfo, PydanticUndefined

import archspec
from archspec.blocks.act import make_act
from archspec.compile import compile_graph
from archspec.errors import SpecError
from archspec.expr import Expr
from archspec.merges import MERGES
from archspec.registry import REGISTRY
from archspec.types import Concrete

Shape = tuple[int, ...]
LEAVES = sorted(name for name, cls in REGISTRY.items() if not cls.container)
SKIP_FIELDS = {"type", "when"}
DIMS = [1, 2, 3, 4, 6, 8, 9, 12, 16]  # small sizes with many divisors and squares: groups, heads, windows fit often
# tools/mutate.py only needs to know that a test fails: no time spent shrinking the example there
PHASES = [p for p in Phase if p is not Phase.shrink or not os.environ.get("ARCHSPEC_NO_SHRINK")]

# ---------------------------------------------------------------- value strategies from annotations


def related_ints(x: Shape) -> list[int]:
    """Integers that mean something for input `x`: its dims, their divisors and integer square roots."""
    out = set(x)
    for d in x:
        out |= {k for k in range(1, d + 1) if d % k == 0}
        r = math.isqrt(d)
        if r * r == d:
            out.add(r)
    return sorted(out)


def shape_lists(x: Shape) -> st.SearchStrategy:
    """list[int] fields are shapes or dim orders: a permutation of x's dims, x with one size as -1,
    a broadcastable shape (each size 1 or x's, optionally with a leading 1), [1, n, D] for tokens."""
    perm = st.permutations(list(range(len(x))))
    minus = st.integers(0, len(x) - 1).map(lambda i: [*x[:i], -1, *x[i + 1:]])
    bcast = st.tuples(st.booleans(), st.lists(st.booleans(), min_size=len(x), max_size=len(x))).map(
        lambda t: ([1] if t[0] else []) + [d if keep else 1 for d, keep in zip(x, t[1])])
    tokens = st.integers(1, 3).map(lambda n: [1, n, x[-1]])
    return st.one_of(perm, minus, bcast, tokens, st.lists(st.integers(-1, 6), min_size=1, max_size=4))


def number_lists(x: Shape) -> st.SearchStrategy:
    """list[float] fields hold one number per channel (mostly)."""
    n = st.sampled_from([x[0], x[0], 1, 2]) if x else st.integers(1, 3)
    return n.flatmap(lambda k: st.lists(st.floats(-2, 2, allow_nan=False, width=32), min_size=k, max_size=k))


# the types whose good values depend on the input, keyed by the field's concrete type (not by block)
BY_TYPE: dict[Any, Callable[[Shape], st.SearchStrategy]] = {list[int]: shape_lists, list[float]: number_lists}


def bounds(meta: list[Any]) -> tuple[Optional[float], Optional[float], bool]:
    """(low, high, low is exclusive) from annotated-types constraints, FieldInfo metadata included."""
    lo = hi = None
    open_lo = False
    for m in meta:
        for c in (m.metadata if isinstance(m, FieldInfo) else [m]):
            if isinstance(c, Ge):
                lo = c.ge
            elif isinstance(c, Gt):
                lo, open_lo = c.gt, True
            elif isinstance(c, Le):
                hi = c.le
    return lo, hi, open_lo


def ints(lo: Optional[float], hi: Optional[float], open_lo: bool, x: Shape) -> st.SearchStrategy:
    low = int(lo) + open_lo if lo is not None else -3
    high = min(int(hi) if hi is not None else low + 6, low + 6)
    related = [v for v in related_ints(x) if v >= low and (hi is None or v <= hi)]
    return st.one_of(st.integers(low, high), *([st.sampled_from(related)] if related else []))


def floats(lo: Optional[float], hi: Optional[float], open_lo: bool) -> st.SearchStrategy:
    low = lo if lo is not None else -2.0
    high = hi if hi is not None else low + 2.0 if lo is not None else 2.0
    return st.floats(low, high, exclude_min=open_lo, allow_nan=False, allow_infinity=False, width=32)


def values(tp: Any, x: Shape, meta: tuple = ()) -> st.SearchStrategy:
    """A strategy for a field annotated `tp` (expressions left out: the language tests cover them)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        concrete = next((m for m in args[1:] if isinstance(m, Concrete)), None)
        return values(concrete.tp, x) if concrete else values(args[0], x, (*meta, *args[1:]))
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not Expr and not (typing.get_origin(a) is typing.Annotated and typing.get_args(a)[0] is Expr)]
        return st.one_of(*[st.none() if a is type(None) else values(a, x) for a in members])
    if origin is Literal:
        return st.sampled_from(args)
    if origin is list:
        if tp in BY_TYPE:
            return BY_TYPE[tp](x)
        lo, hi = next((m.min_length for m in meta if isinstance(m, MinLen)), 0), next((m.max_length for m in meta if isinstance(m, MaxLen)), 4)
        for m in meta:
            if isinstance(m, FieldInfo):
                lo = next((c.min_length for c in m.metadata if isinstance(c, MinLen)), lo)
                hi = next((c.max_length for c in m.metadata if isinstance(c, MaxLen)), hi)
        return st.lists(values(args[0], x), min_size=lo, max_size=min(hi, 4))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return ints(*bounds(list(meta)), x)
    if tp is float:
        return floats(*bounds(list(meta)))
    raise AssertionError(f"no strategy for field type {tp}: add one to BY_TYPE")


def field_strategy(info: FieldInfo, x: Shape) -> st.SearchStrategy:
    tp = info.annotation
    concrete = next((m for m in info.metadata if isinstance(m, Concrete)), None)
    if concrete is not None:
        tp = concrete.tp if type(None) not in typing.get_args(info.annotation) else Optional[concrete.tp]
    if typing.get_origin(tp) is list and tp not in BY_TYPE:
        tp = typing.Annotated[tp, *info.metadata]
    return values(tp, x)


def field_values(cls: type, x: Shape) -> st.SearchStrategy:
    """{field: value}: required fields always, optional ones three times in four (else the default)."""
    parts = {}
    for name, info in cls.model_fields.items():
        if name in SKIP_FIELDS:
            continue
        s = field_strategy(info, x)
        parts[name] = s if info.is_required() else st.sampled_from([0, 1, 2, 3]).flatmap(lambda k, s=s: s if k else st.just(PydanticUndefined))
    return st.fixed_dictionaries(parts).map(lambda d: {k: v for k, v in d.items() if v is not PydanticUndefined})


def inputs() -> st.SearchStrategy:
    """One sample's shape: features (F,), tokens (N, D) or an image-like (C, H, W)."""
    return st.integers(1, 3).flatmap(lambda r: st.tuples(*[st.sampled_from(DIMS) for _ in range(r)]))


# ---------------------------------------------------------------- hyperparameters against the module

ALIASES = {"heads": ("num_heads",), "groups": ("groups", "num_groups"), "affine": ("affine", "elementwise_affine"),
           "window": ("window_size", "size"), "shift": ("shift", "shift_size"), "bias": ("bias", "in_proj_bias")}
# fields the module does not keep as an attribute, and where their effect is tested instead
ELSEWHERE = {
    "op": "how a param meets the input: the output shape here, and values in test_family_vit/convnext",
    "std": "the spread of a param's init: tests/test_training_behaviour.py",
    "value": "compared here (the tensor's values) whenever init is constant",
    "negative_slope": "compared here whenever fn is leaky_relu (the only reader)",
}


def has(m: Any, name: str) -> bool:
    return isinstance(m, nn.Module) and (name in m._parameters or name in m._buffers or name in vars(m))


def find_attr(built: Any, name: str) -> tuple[bool, Any]:
    """The first module (in modules() order) holding `name` or one of its aliases."""
    mods = list(built.modules()) if isinstance(built, nn.Module) else [built]
    for m in mods:
        for n in ALIASES.get(name, (name,)):
            if has(m, n):
                return True, getattr(m, n)
    return False, None


def norm(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return tuple(v.detach().flatten().tolist())
    if isinstance(v, (list, tuple)):
        return tuple(norm(e) for e in v)
    return v


def same(field: Any, attr: Any) -> bool:
    """A field value and a module attribute agree (k vs (k, k), bool vs a present/absent tensor, floats)."""
    if isinstance(field, bool) and (attr is None or isinstance(attr, torch.Tensor)):
        return field == (attr is not None)
    f, a = norm(field), norm(attr)
    if isinstance(f, int) and isinstance(a, tuple) and len(a) == 2:
        f = (f, f)
    if isinstance(a, int) and isinstance(f, tuple) and len(f) == 2:
        a = (a, a)
    if isinstance(f, tuple) and isinstance(a, tuple):
        return len(f) == len(a) and all(same(p, q) for p, q in zip(f, a))
    if isinstance(f, float) or isinstance(a, float):
        return isinstance(a, (int, float)) and math.isclose(f, a, rel_tol=1e-6, abs_tol=1e-7)
    return f == a


def act_class(fn: Optional[str]) -> Optional[type]:
    return type(make_act(fn)) if fn else None


# fields whose meaning is a class or a value pattern rather than an attribute; each returns (checked, ok)
def check_fn(built: nn.Module, v: Any, x: Shape) -> bool:
    return type(built) is act_class(v)


def check_act(built: nn.Module, v: Any, x: Shape) -> bool:
    return type(built._modules.get("act")) is act_class(v) if v else "act" not in built._modules


def check_v2(built: nn.Module, v: Any, x: Shape) -> bool:
    return type(built).__name__.endswith("V2") == v


def check_channels(built: nn.Module, v: Any, x: Shape) -> bool:
    return (type(built).__name__ == "LayerNorm2d") == v


def check_dims(built: nn.Module, v: Any, x: Shape) -> bool:
    return list(built.dims) == [0, *(d + 1 for d in v)]  # the module counts the batch dim


def check_dim(built: nn.Module, v: Any, x: Shape) -> bool:
    return built.dim == v % len(x) + 1


def check_shape(built: Any, v: Any, x: Shape) -> bool:
    sizes = list(v)
    if -1 in sizes:
        sizes[sizes.index(-1)] = math.prod(x) // math.prod(s for s in sizes if s != -1)
    return list(built.shape) == sizes


def check_init(built: Any, v: Any, x: Shape, fields: dict) -> bool:
    const = {"zeros": 0.0, "ones": 1.0, "constant": fields.get("value", 0.0)}
    if v in const:
        return bool(torch.all(built == torch.tensor(const[v], dtype=built.dtype)))
    return bool(built.std() > 0) if built.numel() > 1 else True


SPECIAL: dict[str, Callable[..., bool]] = {"fn": check_fn, "act": check_act, "v2": check_v2, "channels": check_channels,
                                          "dims": check_dims, "dim": check_dim, "shape": check_shape}


def check_hyperparameters(built: Any, fields: dict, x: Shape, compared: set[str]) -> None:
    for name, v in fields.items():
        if name == "init":
            assert check_init(built, v, x, fields), f"init={v} but the tensor holds {built.flatten()[:4].tolist()}"
            compared.add(name)
            if v == "constant":
                compared.add("value")
        elif name in SPECIAL:
            assert SPECIAL[name](built, v, x), f"{name}={v!r} does not match the module {built!r}"
            compared.add(name)
        elif v is not None:
            found, attr = find_attr(built, name)
            if found:
                assert same(v, attr), f"{name}={v!r} but the module has {attr!r}"
                compared.add(name)


# ---------------------------------------------------------------- the properties


def try_build(fields: dict, x: Shape, type_name: str) -> Optional[tuple[Any, Any]]:
    spec = {"input": list(x), "init": "torch", "network": [{"blk": {"type": type_name, **fields}}]}
    try:
        a = archspec.analyze(spec)
    except SpecError:
        return None  # refused statically (the error tests cover the messages)
    return a, compile_graph(a.graph, a.shapes)  # what archspec.build does, without reading the spec again


def forward_shapes(model: nn.Module, x: Shape) -> dict[bool, Shape]:
    out = {}
    for mode in (True, False):
        model.train(mode)
        torch.manual_seed(0)
        with torch.no_grad():
            y = model(torch.randn(2, *x))
        out[mode] = tuple(y.shape)
    return out


def default_of(cls: type, name: str) -> Any:
    return cls.model_fields[name].default


@pytest.mark.parametrize("type_name", LEAVES)
def test_block_matches_its_static_shape_and_fields(type_name: str) -> None:
    cls = REGISTRY[type_name]
    accepted: list[dict] = []
    compared: set[str] = set()

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow], phases=PHASES)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        x = data.draw(inputs(), label="input")
        fields = data.draw(field_values(cls, x), label="fields")
        built = try_build(fields, x, type_name)
        assume(built is not None)
        a, model = built
        static = (2, *a.shapes[a.graph.outputs["out"].node])
        assert forward_shapes(model, x) == {True: static, False: static}, f"static shape {static}"
        blk = model.get_parameter("blk") if type_name == "param" else model.get_submodule("blk")
        check_hyperparameters(blk, fields, x, compared)
        rule = next(n.block for n in a.graph.nodes if n.path == "blk").params(x)
        if rule is not None:  # the memory check and the summary count by it, before anything is built
            assert rule == sum(p.numel() for p in model.parameters()), f"the params rule says {rule} for {model}"
        accepted.append(fields)

    run()
    assert len(accepted) >= 8, f"only {len(accepted)} accepted examples for {type_name}: widen the strategies"
    for name in cls.model_fields:
        if name in SKIP_FIELDS:
            continue
        default = default_of(cls, name)
        varied = any(name in f and f[name] != default for f in accepted)
        assert varied, f"{type_name}.{name} was never set to a non-default value that the shape rule accepts"
        assert name in compared or name in ELSEWHERE, (
            f"{type_name}.{name} was never compared with the built module: give it an alias, a SPECIAL check, or an ELSEWHERE entry")


def merge_inputs() -> st.SearchStrategy:
    rank = st.integers(1, 3)
    return rank.flatmap(lambda r: st.lists(st.tuples(*[st.sampled_from([1, 2, 3]) for _ in range(r)]), min_size=2, max_size=3)
                        | st.lists(st.integers(1, 3).flatmap(lambda k: st.tuples(*[st.sampled_from([1, 2, 3]) for _ in range(k)])),
                                   min_size=2, max_size=3))


TORCH_MERGES: dict[str, Callable[..., torch.Tensor]] = {
    "add": lambda ts: ts[0] + ts[1] if len(ts) == 2 else ts[0] + ts[1] + ts[2],
    "mul": lambda ts: ts[0] * ts[1] if len(ts) == 2 else ts[0] * ts[1] * ts[2],
    "concat": lambda ts, dim=0: torch.cat(ts, spec_dim(dim, ts[0].dim() - 1)),
}


def spec_dim(dim: int, rank: int) -> int:
    """A spec dim (batch excluded) as torch counts it; out of range for the spec is out of range for torch."""
    if not -rank <= dim < rank:
        raise IndexError(f"dim {dim} out of range for rank {rank}")
    return dim % rank + 1


def test_every_user_merge_has_a_torch_oracle() -> None:
    assert {n for n, m in MERGES.items() if m.user} == set(TORCH_MERGES)


def torch_merge_shape(op: str, shapes: list[Shape], args: dict) -> Optional[Shape]:
    """One sample's output shape as torch computes the merge on batches of 5 and of 7; None where torch
    refuses, or where the batch dim does not stay first and alone (a rank mismatch broadcasts it into a
    sample dim)."""
    outs = []
    for b in (5, 7):
        try:
            y = TORCH_MERGES[op]([torch.zeros(b, *s) for s in shapes], **args)
        except (RuntimeError, IndexError):
            return None
        outs.append((y.shape[0] == b, tuple(y.shape[1:])))
    return outs[0][1] if outs[0][0] and outs[1][0] and outs[0][1] == outs[1][1] else None


@settings(max_examples=300, deadline=None, derandomize=True, database=None, phases=PHASES)
@given(merge_inputs(), st.sampled_from(sorted(TORCH_MERGES)), st.integers(-3, 2))
def test_merge_shape_rule_agrees_with_torch(shapes: list[Shape], op: str, dim: int) -> None:
    """A merge is accepted statically exactly when torch computes it on batched tensors (add accepts
    only equal shapes, a subset), and then with the same shape."""
    args = {"dim": dim} if op == "concat" else {}
    want = torch_merge_shape(op, shapes, args)
    try:
        got: Optional[Shape] = tuple(MERGES[op].infer(shapes, **args))
    except Exception as e:  # noqa: BLE001  ShapeError, the only refusal a merge rule may give
        assert type(e).__name__ == "ShapeError", e
        got = None
    if op == "add" and want is not None and got is None:
        assert len(set(shapes)) > 1  # add refuses broadcasting on purpose: branches must agree
        return
    assert got == want, f"{op}{args} of {shapes}: archspec says {got}, torch {want}"
