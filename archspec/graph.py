"""Spec -> graph of nodes: parameters evaluated, user blocks expanded, repeats unrolled. No torch here.

Naming follows nn.Module conventions so a spec can reproduce a reference state_dict:
a named block lives at `scope.name`; an unnamed container adds no level of its own; unnamed
leaves are numbered 0, 1, 2... in order within their level (so a list of unnamed blocks is
numbered exactly as nn.Sequential numbers it).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, NoReturn, Optional, Union

from .errors import Loc, ShapeError, SpecError, did_you_mean
from .expr import Expr, ExprError, out_of_bounds
from .names import name_problem, spelling_problem
from .registry import Block, fmt_shape
from .schema import REQUIRED, DynamicCall, Item, ItemParser, Spec, UserCall, blame, parse_value, validate
from .shapes import node_shape, shape_error
from .types import MAX_ELEMENTS, Concrete, Shape, field_concrete, range_hint

MAX_REPEAT = 10_000
MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_INPUT_DIM = 2**20
TEMPLATE_RE = re.compile(r"\$\{(.*?)\}")


class Over(dict):
    """Names of its own over a base mapping that it reads through, not copies (ChainMap's view, but a
    hit costs a dict lookup: lowering reads thousands of parameters through it)."""

    def __init__(self, own: dict[str, Any], base: Mapping[str, Any]) -> None:
        super().__init__(own)
        self.base = base

    def __missing__(self, key: str) -> Any:
        return self.base[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.base

    def keys(self) -> list[str]:  # type: ignore[override]  # what {**m} and dict(m) read: every name, as ChainMap gives
        return [*dict.fromkeys([*self.base, *dict.keys(self)])]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default


@dataclass
class Node:
    """One step of the network: an input, a module call, or a merge (an entry of merges.MERGES)."""

    id: int
    op: str  # "input" | "module" | a merge op name ("add", "mul", "concat", ...)
    block: Optional[Block]
    inputs: list[int]
    path: str  # module path in the compiled network (for merges: the enclosing scope)
    loc: Loc
    depth: int
    calls: tuple[tuple[str, Loc], ...] = ()  # the user blocks it comes from (Scope.calls)
    args: dict[str, Any] = field(default_factory=dict)  # a merge's arguments: concat's dim, a split's slice

    @property
    def trace(self) -> str:
        """" (in Bottleneck used at f:l:c)" when the block comes from a user block; formatted only for an
        error (every node formatting its own was a tenth of lowering)."""
        return call_trace(self.calls)

    @property
    def type(self) -> str:
        return self.block.type if self.block is not None else self.op

    @property
    def display(self) -> str:
        """The spec path users see in errors: network.layer3[0].conv2."""
        return display_path(self.path)


class ListExpr(Expr):
    """A list some of whose elements are expressions: evaluated element by element."""

    def __init__(self, items: list[Any]) -> None:
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "text", "[" + ", ".join(map(str, items)) + "]")

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        return [e.evaluate(env) if isinstance(e, Expr) else e for e in self.items]  # type: ignore[attr-defined]


ExprField = tuple[str, Expr, Optional[Concrete], bool]  # (field, its expression, its concrete type, may be null)


def expr_fields(b: Block) -> tuple[ExprField, ...]:
    """The fields of `b` written as expressions (or lists holding some), in field order; children aside."""
    out = []
    for field_name, v in b.__dict__.items():  # pydantic keeps the fields there, in their order
        if field_name in b.children:
            continue
        if isinstance(v, list) and any(isinstance(e, Expr) for e in v):
            v = ListExpr(v)
        if isinstance(v, Expr):
            out.append((field_name, v, *field_concrete(type(b).model_fields[field_name])))
    return tuple(out)


Where = Union[tuple[str, str], Callable[[], tuple[str, str]]]  # (block path, block type) for messages, or how to make it


def where_of(where: Where) -> tuple[str, str]:
    return where() if callable(where) else where


def trace_of(scope: "Scope | None") -> str:
    return scope.trace() if scope else ""


def display_path(path: str) -> str:
    """layer3.0.conv2 -> network.layer3[0].conv2."""
    parts = ["network"]
    for p in path.split(".") if path else []:
        parts.append(f"[{p}]" if p.isdigit() else f".{p}")
    return "".join(parts)


@dataclass
class Output:
    node: int
    training_only: bool
    loc: Loc


@dataclass
class Graph:
    """The lowered network: nodes in execution order and its named outputs."""

    name: str
    input_shape: tuple[int, ...]
    nodes: list[Node]
    outputs: dict[str, Output]
    init: str
    spec: Spec = field(repr=False)
    scopes: dict[str, str] = field(default_factory=dict)  # scope path -> the block type that made it
    shapes: list[Shape] = field(default_factory=list)  # every node's output shape, batch excluded
    orders: dict[str, list[str]] = field(default_factory=dict)  # scope path -> registration order of its children
    code_memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)  # generated forwards (compile.emit)


@dataclass(frozen=True)
class Scope:
    path: str  # "" at the top
    depth: int
    calls: tuple[tuple[str, Loc], ...] = ()  # user blocks entered, for recursion checks and messages

    def child(self, name: str) -> "Scope":
        return Scope(f"{self.path}.{name}" if self.path else name, self.depth + 1, self.calls)

    def trace(self) -> str:
        return call_trace(self.calls)


def call_trace(calls: tuple[tuple[str, Loc], ...]) -> str:
    return "".join(f" (in {n} used at {loc})" for n, loc in reversed(calls))


def lower(spec: Spec, overrides: dict[str, Any] | None = None) -> Graph:
    """Build the graph of a spec, with parameters overridden by `overrides`; an error that only some of
    the overrides cause names them (SpecError.overrides), so `--set k=v` can head its message."""
    try:
        return lower_with(spec, overrides or {})
    except SpecError as e:
        e.overrides = blame(lambda given: lower_with(spec, given), overrides or {}, e)
        raise


def lower_with(spec: Spec, overrides: dict[str, Any]) -> Graph:
    """One lowering of `spec` with these overrides (lower() runs it again to find which ones an error is due to)."""
    ctx = Lowering(spec)
    env = ctx.global_env(overrides)
    input_shape = tuple(ctx.value(v, ("input", i), env, Concrete(int, "")) for i, v in enumerate(spec.input))
    for i, size in enumerate(input_shape):
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_INPUT_DIM:
            raise SpecError(f"input: expected positive sizes of at most {MAX_INPUT_DIM:,}, found {size!r} at position {i}",
                            spec.source.loc(("input", i)), code="field_type")
    ctx.input_shape = input_shape
    x = ctx.add(Node(0, "input", None, [], "", spec.source.loc(("input",)), 0))
    y = ctx.lower_items(spec.network, Scope("", 0), env, x)
    ctx.set_output(spec.output, y, False, None)
    return ctx.graph()


class Lowering:
    """State while lowering: the nodes so far, the names taken, the outputs."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.src = spec.source
        self.nodes: list[Node] = []
        self.leaves: dict[str, Loc] = {}
        self.scopes: dict[str, Loc] = {}
        self.outputs: dict[str, Output] = {}
        self.scope_types: dict[str, str] = {}
        self.counters: dict[str, int] = {}
        self.shapes: list[Shape] = []
        self.input_shape: Shape = ()
        self.orders: dict[str, list[str]] = {}
        self.running: dict[str, int] = {}  # repeat counters that run across repeats (a block index over all stages)
        self.level = 0  # nesting of every kind (named or not, lists, containers, user blocks), bounded by MAX_DEPTH
        # id(item) -> (item, its expression fields): a user block's body or a repeat's is lowered once per
        # use, its fields found once; the item is kept so that its id stays its own
        self.exprs: dict[int, tuple[Item, tuple[ExprField, ...]]] = {}

    def graph(self) -> Graph:
        return Graph(self.spec.name, self.input_shape, self.nodes, self.outputs, self.spec.init, self.spec,
                     self.scope_types, self.shapes, self.orders)

    # -- parameters -------------------------------------------------------------------------
    def global_env(self, overrides: dict[str, Any]) -> dict[str, Any]:
        raw = dict(self.spec.params)
        for k, v in overrides.items():
            raw[k] = self.given(k, v)
        env: dict[str, Any] = {}
        for k, v in raw.items():
            env[k] = self.value(v, ("params", k), env, None)
        for k, v in self.spec.let.items():
            env[k] = self.value(v, ("let", k), env, None)
        return env

    def given(self, k: str, v: Any) -> Any:
        """A value from outside the spec for parameter `k`: a declared one, within the bounds that
        expression results keep to (build(**params), --set and a checkpoint's values all come here)."""
        if k not in self.spec.params:
            raise SpecError(f"unknown parameter '{k}'{did_you_mean(k, self.spec.params)}", self.src.loc(("params",), key=True),
                            code="undefined_param")
        problem = out_of_bounds(v)
        if problem is not None:
            raise SpecError(f"{k}: {problem}", self.src.loc(("params", k)), code="limit")
        return parse_value(v, ("params", k), self.src) if isinstance(v, str) else v

    def shape_env(self, env: Mapping[str, Any], x: int) -> Mapping[str, Any]:
        """`env` plus the shape flowing in at node `x`: in_shape (a list, batch excluded), in_channels
        (its first dim) and in_features (its last)."""
        shape = self.shapes[x]
        return Over({"in_shape": list(shape), "in_channels": shape[0] if shape else 1,
                     "in_features": shape[-1] if shape else 1}, env)

    def value(self, v: Any, path: tuple, env: Mapping[str, Any], concrete: Concrete | None,
              scope: Scope | None = None, where: Where = ("", ""), nullable: bool = False) -> Any:
        """Evaluate `v` if it is an expression, then check it against `concrete`.
        `where` is the (block path, block type) named in errors, or a function giving it (made only
        when there is an error: lowering evaluates thousands of fields)."""
        if isinstance(v, Expr):
            try:
                v = v.evaluate(env)
            except ExprError as e:
                code = "undefined_param" if "undefined parameter" in str(e) else "expr"
                raise SpecError(f"{path[-1]}: {e}{trace_of(scope)}", self.src.loc(path), *where_of(where), code=code) from None
        if v is None and nullable:
            return None
        if concrete is not None and concrete.desc:
            try:
                v = concrete.validate(v)
            except ValueError:
                raise SpecError(f"{path[-1]}: expected {concrete.desc}{range_hint(v)}, found {v!r}{trace_of(scope)}",
                                self.src.loc(path), *where_of(where), code="field_type") from None
        return v

    def resolve(self, item: Item, env: Mapping[str, Any], x: int, scope: Scope, name: str | None) -> Block:
        """The item's block, on input node `x`, with every expression field evaluated and checked."""
        b = item.block
        known = self.exprs.get(id(item))
        if known is None:
            known = self.exprs[id(item)] = (item, expr_fields(b))
        if not known[1]:
            return b  # nothing to evaluate: the common case, and lowering's hot path (a repeat of 100,000 relus)
        env = self.shape_env(env, x)
        updates = {}
        label = name or item.name
        for field_name, v, concrete, nullable in known[1]:
            where = lambda: (display_path(scope.child(label).path) if label else display_path(scope.path), b.type)  # noqa: E731
            updates[field_name] = self.value(v, item.path + (field_name,), env, concrete, scope, where, nullable)
            if field_name == "when" and not updates["when"]:
                break  # a block left out is not checked further: {when: "${v != 'M'}", out_channels: "${v}"}
        return b.model_copy(update=updates) if updates else b

    # -- lowering ---------------------------------------------------------------------------
    def lower_items(self, items: list[Item], scope: Scope, env: dict[str, Any], x: int) -> int:
        for item in items:
            x = self.lower_item(item, scope, env, x)
        return x

    def next_index(self, scope: Scope) -> str:
        """The next free number for an unnamed leaf or a repeat copy at this level."""
        n = self.counters.get(scope.path, 0)
        self.counters[scope.path] = n + 1
        return str(n)

    def lower_item(self, item: Item, scope: Scope, env: dict[str, Any], x: int, name: str | None = None) -> int:
        """Lower one block on input node `x`; returns its output node."""
        # every level counts, not only named ones: unnamed lists, residuals and user blocks recurse as deeply
        if scope.depth > MAX_DEPTH or self.level > MAX_DEPTH:
            raise SpecError(f"blocks nest more than {MAX_DEPTH} deep (lists, containers and user blocks all count)",
                            self.src.loc(item.path), code="limit")
        self.level += 1
        try:
            return self.lower_one(item, scope, env, x, name)
        finally:
            self.level -= 1

    def lower_one(self, item: Item, scope: Scope, env: dict[str, Any], x: int, name: str | None) -> int:
        name = self.item_name(name or item.name, item, env, scope)
        block = self.resolve(item, env, x, scope, name)
        if not block.when:
            return x
        if isinstance(block, DynamicCall):
            return self.lower_item(self.concrete(block, item), scope, env, x, name)
        if isinstance(block, UserCall):
            return self.call_user(block, self.enter(scope, name, item), env, x, item)
        if block.container:
            return block.lower(self, self.enter(scope, name, item), env, x, item)  # type: ignore[attr-defined]
        path = self.claim_leaf(scope, name or self.next_index(scope), item)
        return self.add(Node(len(self.nodes), "module", block, [x], path, self.src.loc(item.path), scope.depth + 1, scope.calls))

    def item_name(self, name: str | None, item: Item, env: Mapping[str, Any], scope: Scope) -> str | None:
        """A block's name with its `${...}` parts filled in (`denselayer${i + 1}`), checked."""
        if name is None or "${" not in name:
            return name
        def fill(m: re.Match) -> str:
            return str(self.value(parse_value("${" + m.group(1) + "}", item.path, self.src), item.path + ("name",), env, None, scope))
        out = TEMPLATE_RE.sub(fill, name)
        problem = name_problem(out)
        if problem:
            raise SpecError(f"block name '{out}' (from '{name}') {problem}", self.src.loc(item.path), item.display, code="name")
        return out

    def concrete(self, block: DynamicCall, item: Item) -> Item:
        """`type: ${block}` once the expression is evaluated: parse the block as if written with that type."""
        t = block.type_expr
        if not isinstance(t, str):
            raise SpecError(f"type: expected a block type name, found {t!r}", self.src.loc(item.path + ("type",)), item.display, code="type")
        parser = ItemParser(self.src, set(self.spec.blocks))
        return Item(item.name, parser.mapping({**block.raw, "type": t}, item.path, item.display), item.path, item.display)

    def enter(self, scope: Scope, name: str | None, item: Item) -> Scope:
        if name is None:
            return scope
        sub = scope.child(name)
        self.check_free(sub.path, item, leaf=False)
        self.scopes.setdefault(sub.path, self.src.loc(item.path))
        self.scope_types.setdefault(sub.path, item.block.type)
        return sub

    def claim_leaf(self, scope: Scope, name: str, item: Item) -> str:
        path = scope.child(name).path
        self.check_free(path, item, leaf=True)
        self.leaves[path] = self.src.loc(item.path)
        return path

    def check_free(self, path: str, item: Item, leaf: bool) -> None:
        where, _, last = path.rpartition(".")
        if last.isdigit():  # a block named "3" is position 3: unnamed blocks after it number on from 4, as in nn.Sequential
            self.counters[where] = max(self.counters.get(where, 0), int(last) + 1)
        taken = self.leaves.get(path) or self.scopes.get(path)  # two containers of one name would merge silently
        if taken is None and not leaf:  # a container under a leaf's name: look up each prefix, not every leaf (linear lowering)
            parts = path.split(".")
            taken = next((self.leaves[p] for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in self.leaves), None)
        if taken is not None:
            where, _, last = path.rpartition(".")
            raise SpecError(f"two blocks are named '{last}' in '{where or 'network'}' (the other is at {taken}); "
                            "give one a different name", self.src.loc(item.path), item.display, code="duplicate_name")

    def call_user(self, call: UserCall, scope: Scope, env: dict[str, Any], x: int, item: Item) -> int:
        ub = self.spec.blocks[call.type]
        loc = self.src.loc(item.path)
        if any(n == ub.name for n, _ in scope.calls):
            chain = " -> ".join([n for n, _ in scope.calls] + [ub.name])
            raise SpecError(f"block '{ub.name}' uses itself ({chain})", loc, display_path(scope.path), ub.name, code="recursion")
        inner = Scope(scope.path, scope.depth, scope.calls + ((ub.name, loc),))
        local = dict(env)  # spec parameters stay visible inside user blocks
        env = self.shape_env(env, x)  # type: ignore[assignment]  # arguments and lets may read the input's shape
        for k in call.args:
            if k not in ub.params:
                raise SpecError(f"unknown parameter '{k}' for block {ub.name}{did_you_mean(k, ub.params)}",
                                self.src.loc(item.path + (k,), key=True), display_path(scope.path), ub.name, code="unknown_field")
        for k, default in ub.params.items():
            if k in call.args:
                local[k] = self.value(call.args[k], item.path + (k,), env, None, scope)
            elif default is REQUIRED:
                raise SpecError(f"missing required parameter '{k}' of block {ub.name}", loc, display_path(scope.path), ub.name, code="missing_field")
            else:
                local[k] = self.value(default, ub.path + ("params", k), local, None, inner)
        with_shape = self.shape_env(local, x)  # a view: later lets see earlier ones
        for k, v in ub.let.items():
            local[k] = self.value(v, ub.path + ("let", k), with_shape, None, inner)
        if ub.order:
            self.orders[scope.path] = ub.order
        return self.lower_items(ub.body, inner, local, x)

    def override(self, body: Item, first: dict[str, Any], item: Item) -> Item:
        """Repeat's first copy: the body with `first`'s fields replacing its own."""
        path = item.path + ("first",)
        b = body.block
        if isinstance(b, DynamicCall):
            return Item(body.name, b.model_copy(update={"raw": {**b.raw, **first}}), body.path, body.display)
        if isinstance(b, UserCall):
            args = {**b.args, **{k: parse_value(v, path + (k,), self.src) for k, v in first.items()}}
            return Item(body.name, b.model_copy(update={"args": args}), body.path, body.display)
        if b.container:
            raise SpecError("'first' works only when the repeated body is a single block, not a container",
                            self.src.loc(path), item.display, "repeat", code="structure")
        merged = {**b.model_dump(exclude_unset=True), **first}
        return Item(body.name, validate(type(b), merged, path, self.src, b.type, item.display), body.path, body.display)

    def fail(self, msg: str, item: Item, code: str) -> NoReturn:
        raise SpecError(msg, self.src.loc(item.path), item.display, item.block.type, code=code)

    def check_repeat(self, n: int, item: Item, names: dict[str, str | None]) -> None:
        if n > MAX_REPEAT:
            raise SpecError(f"repeat n={n} exceeds the limit of {MAX_REPEAT:,}", self.src.loc(item.path + ("n",)), item.display, "repeat", code="limit")
        for field_name, name in names.items():  # the index names it declares
            problem = spelling_problem(name) if name else None
            if problem:
                raise SpecError(f"{field_name}: '{name}' {problem}", self.src.loc(item.path + (field_name,)), item.display, "repeat", code="name")

    def merge(self, op: str, inputs: list[int], scope: Scope, item: Item, **args: Any) -> int:
        """Join branch outputs with a merge op; one branch needs no join."""
        return inputs[0] if len(inputs) == 1 else self.call(op, inputs, scope, item, **args)

    def call(self, op: str, inputs: list[int], scope: Scope, item: Item, **args: Any) -> int:
        """A function node (an entry of merges.MERGES) on `inputs`."""
        return self.add(Node(len(self.nodes), op, None, inputs, scope.path, self.src.loc(item.path), scope.depth + 1, scope.calls, args))

    def set_output(self, name: str | None, node: int, training_only: bool, item: Item | None) -> None:
        loc = self.src.loc(item.path) if item else self.src.loc(("output",))
        if not name:
            raise SpecError("a tap needs a name or an 'output' field", loc, item.display if item else "", "tap", code="structure")
        if name in self.outputs:
            raise SpecError(f"output '{name}' is defined twice (first at {self.outputs[name].loc})", loc, code="duplicate_name")
        self.outputs[name] = Output(node, training_only, loc)

    def add(self, node: Node) -> int:
        if len(self.nodes) >= MAX_NODES:
            raise SpecError(f"the network has more than {MAX_NODES:,} blocks", node.loc, code="limit")
        ins = [self.shapes[i] for i in node.inputs]
        try:
            shape = node_shape(node, ins, self.input_shape)
        except ShapeError as e:
            g = self.graph()
            g.nodes = [*self.nodes, node]
            raise shape_error(g, self.shapes, node, ins, str(e)) from None
        if math.prod(shape) > MAX_ELEMENTS:
            raise SpecError(f"the {'input' if node.op == 'input' else 'output'} {fmt_shape(shape)} has {math.prod(shape):,} elements per sample; the limit is "
                            f"2**40 ({MAX_ELEMENTS:,})", node.loc, node.display, node.type, code="limit")
        self.nodes.append(node)
        self.shapes.append(shape)
        return node.id
