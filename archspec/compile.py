"""Graph + shapes -> a torch.fx GraphModule: generated forward code, one call per node, named after the spec."""
from __future__ import annotations

import copy
import keyword
import re
from typing import Any, Callable, NamedTuple

import torch
import torch.fx as fx
import torch.nn as nn

try:
    from torch.fx.experimental import _config as fx_config
except ImportError:  # torch before 2.5
    fx_config = None
try:
    from torch.fx.graph_module import _WrappedCall
except ImportError:  # fx's private call wrapper gone: modules are called as plain nn.Modules
    _WrappedCall = None

from .graph import Graph, Node
from .merges import MERGES
from .pycode import Code, Recorder, Ref, Row, Unsupported, compile_forward, python_source
from .types import Shape


def shadow_children(module: nn.Module) -> None:
    """Mirror `module`'s children into its instance __dict__.

    The generated forward reaches leaves as `getattr(self.layer1, "0").conv1`; each hop through
    nn.Module.__getattr__ costs about a microsecond, which at batch 1 on small nets is ~15% of the
    forward. An instance-dict entry is found by Python's fast path first. nn.Module.__setattr__
    already drops the entry when a child is replaced; __delattr__ below drops it on delete;
    TorchScript skips __dict__ names it already knows as submodules.
    """
    for name, child in module._modules.items():
        if child is not None:
            module.__dict__[name] = child


class FastChildren(nn.Module):
    def __delattr__(self, name: str) -> None:
        if name in self._modules:
            self.__dict__.pop(name, None)
        super().__delattr__(name)


class Scope(FastChildren):
    """A level of the module tree made by a named container or user block; it holds submodules only."""

    def __reduce_ex__(self, protocol: int) -> tuple[Callable[[str], "Scope"], tuple[str], dict[str, Any]]:
        # its class is made at run time per block type (scope_class), so pickle cannot find it by
        # name: the pickle names the class instead, and unpickling makes it again
        return new_scope, (type(self).__name__,), self.__getstate__()


_SCOPE_NAMES = {"seq": "Sequential", "repeat": "Sequential", "residual": "Residual", "parallel": "Parallel", "tap": "Tap"}
_SCOPE_CLASSES: dict[str, type[Scope]] = {}


def scope_class(name: str) -> type[Scope]:
    """The Scope subclass called `name` (one per name, made on first use)."""
    if name not in _SCOPE_CLASSES:
        _SCOPE_CLASSES[name] = type(name, (Scope,), {"__module__": __name__})
    return _SCOPE_CLASSES[name]


def new_scope(name: str) -> Scope:
    """An empty Scope of class `name` (what unpickling a Scope starts from)."""
    return scope_class(name)()


def scope_module(kind: str) -> Scope:
    """An empty Scope whose class is named after the block that made it (Bottleneck, Sequential...),
    so that repr and torchinfo read like a hand-written network."""
    return new_scope(_SCOPE_NAMES.get(kind, kind))


class Forward(NamedTuple):
    """One mode's forward, as compile_graph planned it: the outputs it computes and the reorderings
    (see pool_first, inplace_merges). Its calls are recorded as rows and its code written from them
    (pycode) once per analysis: every network built from the same analysis shares them
    (`Graph.code_memo`), and writing and compiling it again was most of a repeated build. Its fx graph
    is made from the rows only when someone asks for it."""

    graph: Graph
    names: tuple[str, ...]
    moved: tuple[tuple[int, int], ...]
    overwrite: frozenset[int]

    def fx_graph(self) -> fx.Graph:
        """The fx graph of the calls, with the names the generated code uses."""
        rows = self.rows()
        if rows is None:
            return emit(self.graph, list(self.names), dict(self.moved), set(self.overwrite), fx.Graph())
        return graph_from_data(rows)  # map_refs reads pycode's Ref as it reads NodeRef

    def rows(self) -> list[Row] | None:
        """The forward's calls as rows (pycode), recorded once per analysis; None if a block emits
        something the code writer does not cover (fx then does it all)."""
        key = ("rows", *self.key[1:])
        if key not in self.graph.code_memo:
            try:
                rows = emit(self.graph, list(self.names), dict(self.moved), set(self.overwrite), Recorder()).rows
            except (Unsupported, AttributeError, TypeError):  # a plugin's emit using more of fx's API
                rows = None
            self.graph.code_memo[key] = rows
        return self.graph.code_memo[key]

    def generate(self) -> tuple[Code, Callable[..., Any]] | None:
        """(code, compiled forward) written from the rows, or None when fx must write it."""
        rows = self.rows()
        return None if rows is None else write_forward(rows)

    def compiled(self) -> tuple[Any, Callable[..., Any]] | None:
        """(fx's PythonCode, the compiled forward) of an earlier build, if any."""
        return self.graph.code_memo.get(self.key)

    def remember(self, code: Any, forward: Callable[..., Any]) -> None:
        self.graph.code_memo[self.key] = (code, forward)

    @property
    def key(self) -> tuple[Any, ...]:
        return ("forward", self.names, self.moved, self.overwrite)


class SpecModule(fx.GraphModule, FastChildren):
    """A compiled spec. Its forward is generated code; in training mode it also returns the
    training-only outputs (GoogLeNet's aux heads), so it keeps one forward per mode.

    Each mode's fx graph is made on first use (`.graph`): a module built again from the same analysis
    takes the forward compiled the first time. A graph a user edits and recompiles gets fresh code."""

    __jit_unused_properties__ = [*fx.GraphModule.__jit_unused_properties__, "_graph"]  # TorchScript skips them

    def __init__(self, root: nn.Module, modes: dict[bool, Forward | fx.Graph], name: str, outputs: dict[bool, list[str]]) -> None:
        self.__dict__.update(_modes=modes, _placeholder=True)  # fx's __init__ sets a placeholder graph: see recompile
        # fx would copy every module its graph calls from `root`, one attribute path at a time (a third of
        # building a small network); `root` already is the tree, so the module takes over its children,
        # parameters and buffers as they are, in the spec's order
        super().__init__(nn.Module(), fx.Graph(), class_name=name)
        for table in ("_modules", "_parameters", "_buffers"):
            getattr(self, table).update(getattr(root, table))
        self._non_persistent_buffers_set.update(root._non_persistent_buffers_set)
        self.output_names = outputs
        shadow_children(self)
        self.__dict__["_fx_graph"] = None
        self._use_mode(self.training)

    @property
    def _graph(self) -> fx.Graph:
        """The fx graph of the current mode, emitted on first use (fx reads `_graph`)."""
        g = self.__dict__.get("_fx_graph")
        if g is None:
            g = self.__dict__["_fx_graph"] = self._mode_graph(self.__dict__.get("_mode", self.training))
            g.owning_module = self
        return g

    @_graph.setter
    def _graph(self, g: fx.Graph) -> None:
        self.__dict__["_fx_graph"] = g

    def _mode_graph(self, mode: bool) -> fx.Graph:
        """The fx graph of a mode, emitted now if it was not yet."""
        g = self._modes[mode]
        if isinstance(g, Forward):
            shared = self._modes[not mode] is g
            g = g.fx_graph()
            self._modes[mode] = g
            if shared:
                self._modes[not mode] = g
        return g

    def _use_mode(self, mode: bool) -> None:
        """Install the forward of a mode: the code compiled by an earlier build if its graph was not
        emitted here (nobody can have edited it), else code written from its calls (pycode), else fx's.
        fx's option of profiler markers per module is fx's alone."""
        plan = self._modes[mode]
        if profiler_metadata():
            self.graph = self._mode_graph(mode)  # fx's setter: generates the code and compiles it
        elif isinstance(plan, Forward):
            hit = plan.compiled() or plan.generate()
            if hit is None:
                self.graph = self._mode_graph(mode)
                hit = (self._python_code, type(self).forward)
            else:
                self.__dict__["_fx_graph"] = None
                install_forward(self, *hit)
            plan.remember(*hit)
        else:  # an fx graph: unpickled, or read through .graph before this mode was used
            written = graph_forward(plan)
            if written is None:
                self.graph = plan
            else:
                self.__dict__["_fx_graph"] = plan
                plan.owning_module = self
                install_forward(self, *written)
        self.__dict__["_mode"] = mode

    def recompile(self) -> Any:
        if self.__dict__.pop("_placeholder", False):
            return None  # fx's __init__ setting its placeholder graph: the mode's forward comes after
        code = super().recompile()
        self.__dict__["_python_code"] = code
        return code

    def __str__(self) -> str:
        return nn.Module.__repr__(self)  # the module tree; the generated code is in `.code`

    def train(self, mode: bool = True) -> "SpecModule":
        super().train(mode)
        modes = self.__dict__.get("_modes")
        if modes and modes[True] is not modes[False] and self.__dict__.get("_mode") != mode:
            self._use_mode(mode)
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> "SpecModule":
        # as pickle does it (fx's own deepcopy drops attributes a user set on the module)
        restore, args = self.__reduce__()
        return restore(*copy.deepcopy(args, memo))

    def __reduce__(self) -> tuple[Callable[..., "SpecModule"], tuple[Any, ...]]:
        """Pickle (torch.save, multiprocessing's spawn) as the module tree plus the two forward graphs
        as plain data: fx's own reduce retraces into a plain GraphModule, and the class of each
        compiled module is made per instance, so pickle could not find it by name."""
        train_g = self._mode_graph(True)
        eval_g = self._mode_graph(False)
        state = {k: v for k, v in self.__getstate__().items() if k not in _FX_STATE}
        eval_data = None if train_g is eval_g else graph_data(eval_g)
        return restore_module, (type(self).__name__, graph_data(train_g), eval_data, state)


def profiler_metadata() -> bool:
    """fx's option that makes code per module (with profiler markers), so none can be shared."""
    return bool(getattr(fx_config, "enrich_profiler_metadata", False))


def install_forward(m: fx.GraphModule, code: Any, forward: Callable[..., Any]) -> None:
    """What fx's recompile does with generated code, given the compiled forward."""
    m._code, m._lineno_map, m._prologue_start = code.src, code._lineno_map, code._prologue_start
    m.__dict__["_python_code"] = code
    cls = type(m)
    cls.forward = forward
    if _WrappedCall is not None and "_wrapped_call" not in vars(cls):
        cls._wrapped_call = _WrappedCall(cls, None)  # fx's call: errors show the generated line
        cls.__call__ = _call_wrapped
    m._recompile_submodules()


def _call_wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
    return self._wrapped_call(self, *args, **kwargs)


# the fx state a SpecModule derives from its graphs; remade when it is unpickled
_FX_STATE = {"_fx_graph", "_modes", "_mode", "_python_code", "_code", "_lineno_map", "_prologue_start"}


class NodeRef(NamedTuple):
    """A reference to an earlier node of a pickled graph, by name."""

    name: str


def map_refs(a: Any, fn: Callable[[Any], Any]) -> Any:
    """`a` with fn applied to each fx.Node or NodeRef inside its tuples, lists and dicts."""
    if isinstance(a, (fx.Node, NodeRef, Ref)):
        return fn(a)
    if isinstance(a, list):  # fx's immutable_list too: a plain list pickles, and fx wraps it again
        return [map_refs(v, fn) for v in a]
    if isinstance(a, tuple):
        return tuple(map_refs(v, fn) for v in a)
    if isinstance(a, dict):
        return {k: map_refs(v, fn) for k, v in a.items()}
    return a


def graph_forward(g: fx.Graph) -> tuple[Code, Callable[..., Any]] | None:
    """(code, compiled forward) written from an fx graph's nodes, or None when fx must write it."""
    ref = lambda n: Ref(n.name)  # noqa: E731
    return write_forward([(n.op, n.name, n.target, map_refs(n.args, ref), map_refs(n.kwargs, ref)) for n in g.nodes])


def write_forward(rows: list[Row]) -> tuple[Code, Callable[..., Any]] | None:
    try:
        code = python_source(rows)
    except Unsupported:
        return None
    return code, compile_forward(code)


def graph_data(g: fx.Graph) -> list[tuple[str, str, Any, Any, Any]]:
    """An fx graph as picklable data: (op, name, target, args, kwargs) per node, inputs as NodeRefs."""
    ref = lambda n: NodeRef(n.name)  # noqa: E731
    return [(n.op, n.name, n.target, map_refs(n.args, ref), map_refs(n.kwargs, ref)) for n in g.nodes]


def graph_from_data(data: list[tuple[str, str, Any, Any, Any]]) -> fx.Graph:
    """The fx graph that graph_data (or pycode's Recorder: rows with Refs) described."""
    g = fx.Graph()
    env: dict[str, fx.Node] = {}
    for op, name, target, args, kwargs in data:
        env[name] = g.create_node(op, target, map_refs(args, lambda r: env[r.name]), map_refs(kwargs, lambda r: env[r.name]), name)
    g.lint()
    return g


def restore_module(name: str, train_data: list, eval_data: list | None, state: dict[str, Any]) -> SpecModule:
    """A pickled SpecModule made again: same module tree (weights, buffers, modes, attributes), same forwards."""
    root = nn.Module()
    root.__dict__.update({k: state[k] for k in ("_modules", "_parameters", "_buffers", "_non_persistent_buffers_set")})
    train_g = graph_from_data(train_data)
    eval_g = train_g if eval_data is None else graph_from_data(eval_data)
    m = SpecModule(root, {True: train_g, False: eval_g}, name, state["output_names"])
    m.__dict__.update(state)
    if m._mode != m.training:
        m._use_mode(m.training)
    return m


def compile_graph(graph: Graph, shapes: list[Shape], reorder: bool = True) -> SpecModule:
    """Build every module, apply the init policy, and generate the forward code.

    `reorder=False` keeps the spec's calls exactly, in order and out of place (the summary's layer table
    wants it; the fuzzer compares both)."""
    root = build_modules(graph, shapes)
    apply_orders(root, graph.orders)
    init_weights(root, graph.init)
    plan = forward_plan(graph, shapes, reorder)
    for path in plan.inplace:
        mod = root.get_submodule(path)
        if hasattr(mod, "inplace"):
            mod.inplace = True
    return SpecModule(root, dict(plan.modes), class_name(graph.name), {mode: list(f.names) for mode, f in plan.modes.items()})


def class_name(name: str) -> str:
    """The spec's name as the compiled module's class name: an identifier, as fx's print_readable and
    to_folder write it into Python source (a name holding a quote or a newline would break out)."""
    out = re.sub(r"\W", "_", name) or "network"
    return f"_{out}" if out[0].isdigit() or keyword.iskeyword(out) else out


class Plan(NamedTuple):
    """What compile_graph decides from the analysis alone, so once per analysis (Graph.code_memo)."""

    inplace: tuple[str, ...]  # paths of the activations that overwrite their input
    modes: dict[bool, Forward]  # training and eval forwards (one object when the outputs are the same)


def forward_plan(graph: Graph, shapes: list[Shape], reorder: bool) -> Plan:
    key = ("plan", reorder)
    if key not in graph.code_memo:
        graph.code_memo[key] = make_plan(graph, shapes, reorder)
    return graph.code_memo[key]


def make_plan(graph: Graph, shapes: list[Shape], reorder: bool) -> Plan:
    moved = pool_first(graph) if reorder else {}
    overwrite = frozenset(inplace_merges(graph, shapes)) if reorder else frozenset()
    # an activation moved behind its pool reads the pool's fresh output, read by nothing else
    late = [graph.nodes[a] for a in moved.values() if inplace_differentiable(graph.nodes[a].block)]
    inplace = tuple(n.path for n in [*inplace_activations(graph), *late])
    train_names = tuple(graph.outputs)
    eval_names = tuple(n for n, o in graph.outputs.items() if not o.training_only)
    order = tuple(sorted(moved.items()))
    train = Forward(graph, train_names, order, overwrite)
    modes = {True: train, False: train if eval_names == train_names else Forward(graph, eval_names, order, overwrite)}
    return Plan(inplace, modes)


def build_modules(graph: Graph, shapes: list[Shape]) -> nn.Module:
    root = scope_module(class_name(graph.name))
    for node in graph.nodes:
        if node.op != "module":
            continue
        parent = root
        parts = node.path.split(".")
        for i, part in enumerate(parts[:-1]):
            if part not in parent._modules:
                attach(parent, part, scope_module(graph.scopes.get(".".join(parts[: i + 1]), "Scope")))
            parent = parent._modules[part]  # type: ignore[assignment]
        assert node.block is not None
        built = build_one(node, shapes[node.inputs[0]])
        if isinstance(built, nn.Parameter):
            parent.register_parameter(parts[-1], built)  # a learned tensor lives on its scope: features.1.0.layer_scale
        else:
            attach(parent, parts[-1], built)
    return root


def attach(parent: nn.Module, name: str, child: nn.Module) -> None:
    """add_module, with the child mirrored in a scope's instance dict (see shadow_children)."""
    parent.add_module(name, child)
    parent.__dict__[name] = child


def apply_orders(root: nn.Module, orders: dict[str, list[str]]) -> None:
    """Registration order of a user block's children where it asks for one (its `order:`): state_dict
    keys follow it; names it does not list keep their place after those it does."""
    for path, order in orders.items():
        reorder_children(root.get_submodule(path) if path else root, order)


def reorder_children(mod: nn.Module, order: list[str]) -> None:
    """`mod`'s children registered in `order`; children it does not name keep their order after them."""
    mods = dict(mod._modules)
    mod._modules.clear()
    mod._modules.update({**{n: mods[n] for n in order if n in mods}, **mods})


def build_one(node: Node, x: Shape) -> nn.Module | nn.Parameter:
    from .errors import SpecError

    try:
        return node.block.build(x)  # type: ignore[union-attr]
    except (ValueError, RuntimeError, TypeError) as e:
        raise SpecError(f"torch could not build this block: {e}", node.loc, node.display, node.type, code="build") from e


def init_weights(root: nn.Module, policy: str) -> None:
    """Apply the spec's init policy (archspec/inits: torchvision's ResNet init by default)."""
    from .inits import apply_init

    apply_init(root, policy)


def reader_counts(graph: Graph) -> list[int]:
    readers = [0] * len(graph.nodes)
    for node in graph.nodes:
        for i in node.inputs:
            readers[i] += 1
    return readers


def overwritable(graph: Graph) -> Callable[[int], bool]:
    """Whether a node's output may be overwritten by its one reader: nothing else reads it, it is no
    output, and its producer keeps no view of it nor needs it for its backward (a norm, conv or linear
    saves its input, a fresh merge nothing). A block that may hand back its input itself (dropout or
    stochastic depth in eval mode) is safe when its input is: torchvision's `result += input` after
    stochastic depth (ConvNeXt, EfficientNet) relies on that."""
    readers = reader_counts(graph)
    outputs = {o.node for o in graph.outputs.values()}

    def ok(i: int) -> bool:
        while readers[i] == 1 and i not in outputs:
            src = graph.nodes[i]
            if src.op in MERGES:
                return not MERGES[src.op].view
            if src.block is None:
                return False
            if src.block.inplace_safe_after:
                return True
            if not (src.block.passes_input and src.inputs):
                return False
            i = src.inputs[0]
        return False
    return ok


def inplace_activations(graph: Graph) -> list[Node]:
    """The activations that may overwrite their input: nothing else reads it and its producer keeps no copy."""
    ok = overwritable(graph)
    return [node for node in graph.nodes
            if node.type == "act" and node.inputs and ok(node.inputs[0]) and inplace_differentiable(node.block)]


def inplace_merges(graph: Graph, shapes: list[Shape]) -> set[int]:
    """The merges to compute in place on their first input (a residual's `out += identity`, as
    torchvision writes it): no new tensor for the sum, which at batch 32 was a tenth of ResNet-50's
    forward. The first input must be overwritable and already of the output's shape (no broadcast)."""
    ok = overwritable(graph)
    return {n.id for n in graph.nodes if n.op in MERGES and MERGES[n.op].inplace and len(n.inputs) > 1
            and ok(n.inputs[0]) and shapes[n.inputs[0]] == shapes[n.id]}


def negative_leak(act: Any) -> bool:
    """A leaky ReLU whose slope for x < 0 is negative: it decreases there, and run in place it cannot
    tell its input's sign from its output (torch refuses its backward)."""
    return getattr(act, "fn", None) == "leaky_relu" and act.negative_slope < 0


def inplace_differentiable(act: Any) -> bool:
    """Whether torch can differentiate the activation run in place."""
    return not negative_leak(act)


# activations that never decrease: max-pooling after them equals max-pooling before them
MONOTONE = frozenset({"relu", "relu6", "sigmoid", "tanh", "hardsigmoid", "leaky_relu", "elu", "softplus", "identity"})


def non_decreasing(act: Any) -> bool:
    return getattr(act, "fn", None) in MONOTONE and not negative_leak(act)


def pool_first(graph: Graph) -> dict[int, int]:
    """{max-pool id: activation id} for each non-decreasing activation read only by a max-pool, to be
    called after the pool instead.

    Max commutes with a non-decreasing function, so the values are the same, and the activation (and
    its backward) then touches a quarter of the elements behind a 2x2 pool. For ReLU the gradients are
    bitwise the same too (where it makes ties, inputs <= 0, its gradient is 0 either way); for the
    others they differ only where the activation rounds two entries of one window to the same value
    (a saturated sigmoid), which sends that window's gradient to the other entry."""
    readers = reader_counts(graph)
    outputs = {o.node for o in graph.outputs.values()}
    moved: dict[int, int] = {}
    for pool in graph.nodes:
        if pool.type != "maxpool":
            continue
        act = graph.nodes[pool.inputs[0]]
        if act.type == "act" and non_decreasing(act.block) and readers[act.id] == 1 and act.id not in outputs:
            moved[pool.id] = act.id
    return moved


def emit(graph: Graph, names: list[str], moved: dict[int, int], overwrite: set[int], g: Any) -> Any:
    """The calls computing the outputs `names`, made on `g` (an fx.Graph, or pycode's Recorder, which
    takes the same calls); nodes the outputs do not need are left out.

    For each pair in `moved` (see pool_first) the pool reads the ReLU's input and the ReLU follows it."""
    needed = live_nodes(graph, [graph.outputs[n].node for n in names])
    late = set(moved.values())
    vals: dict[int, fx.Node] = {}
    for node in graph.nodes:
        if node.id not in needed:
            continue
        if node.id in late:
            vals[node.id] = vals[node.inputs[0]]
            continue
        vals[node.id] = emit_node(g, node, [vals[i] for i in node.inputs], node.id in overwrite)
        if node.id in moved:
            vals[node.id] = emit_node(g, graph.nodes[moved[node.id]], [vals[node.id]])
    if len(names) == 1:
        g.output(vals[graph.outputs[names[0]].node])
    else:
        g.output({n: vals[graph.outputs[n].node] for n in names})
    g.lint()
    return g


def emit_node(g: Any, node: Node, args: list[Any], in_place: bool = False) -> Any:
    """One node's calls on `g` (an fx.Graph or a Recorder); returns the value it computes."""
    if node.op == "input":
        return g.placeholder("x")
    if node.op == "module":
        assert node.block is not None
        return node.block.emit(g, node.path, args[0])
    merge = MERGES[node.op]
    if not merge.pairwise:
        return merge.fn(g, args, **node.args)
    out = args[0]
    for a in args[1:]:
        out = g.call_method(merge.inplace, (out, a)) if in_place else g.call_function(merge.fn, (out, a))
    return out


def live_nodes(graph: Graph, roots: list[int]) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        i = stack.pop()
        if i not in seen:
            seen.add(i)
            stack.extend(graph.nodes[i].inputs)
    return seen
