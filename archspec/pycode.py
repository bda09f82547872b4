"""The generated forward's Python source, written from the planned calls directly.

Blocks and merges say what the forward calls through a small part of torch.fx's Graph API
(placeholder, call_module, call_function, call_method, get_attr, output). `Recorder` takes those
calls as plain tuples, the same (op, name, target, args, kwargs) rows that compile.graph_data pickles,
and `python_source` writes the forward from them as one would by hand: one line per call, the values
in a few variables (`x = self.conv1(x)`), each dropped (`x = None`) after its last use. Emitting an fx graph and having fx generate the code took 6-9 ms of a
small network's first build; recording and writing take 2-3 ms (shufflenet_v2_x0_5: 8.2 -> 2.8 ms,
regnet_y_400mf 8.6 -> 2.8 ms). The fx graph is made from the same rows, with the same names, only
when someone reads `.graph`; code fx writes from it computes the same (tests/test_compile.py).

Anything outside that part (type annotations, keyword-only fx features, values that have no literal
form) raises Unsupported, and the caller lets fx generate the code as before."""
from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .names import read_as

Row = tuple[str, str, Any, Any, Any]  # (op, name, target, args, kwargs); inputs are Ref


class Unsupported(Exception):
    """A call this generator does not write; fx generates the code instead."""


@dataclass(frozen=True)
class Ref:
    """A value computed earlier in the forward, by name (compile.NodeRef is the same thing for fx)."""

    name: str


# infix forms of the operator functions merges use, as fx writes them
INFIX = {"add": "{} + {}", "mul": "{} * {}", "sub": "{} - {}", "truediv": "{} / {}", "matmul": "{} @ {}", "getitem": "{}[{}]"}
TAKEN = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {"self", "torch"}
VAR = "x"  # the generated code's variables: x, x1, x2, ... (a global never takes such a name)
VAR_RE = re.compile(VAR + r"(_in)?[0-9]*")
_ILLEGAL = re.compile(r"[^0-9a-zA-Z_]+")


class Recorder:
    """Takes the fx.Graph calls that blocks' and merges' `emit` make, as rows."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.used: set[str] = set()

    def name(self, candidate: str) -> str:
        """A fresh identifier from `candidate` (a module path or a function's name), as fx derives one."""
        base = _ILLEGAL.sub("_", candidate) or "_unnamed"
        if base[0].isdigit():
            base = "_" + base
        name, n = base, 0
        while name in self.used or name in TAKEN:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name

    def add(self, op: str, candidate: str, target: Any, args: Any = (), kwargs: Any = None, type_expr: Any = None) -> Ref:
        if type_expr is not None:
            raise Unsupported("type annotations")
        ref = Ref(self.name(candidate))
        self.rows.append((op, ref.name, target, tuple(args or ()), dict(kwargs or {})))
        return ref

    def placeholder(self, name: str, type_expr: Any = None) -> Ref:
        return self.add("placeholder", name, name, type_expr=type_expr)

    def call_module(self, module_name: str, args: Any = None, kwargs: Any = None, type_expr: Any = None) -> Ref:
        return self.add("call_module", module_name, module_name, args, kwargs, type_expr)

    def call_function(self, the_function: Callable[..., Any], args: Any = None, kwargs: Any = None, type_expr: Any = None) -> Ref:
        return self.add("call_function", the_function.__name__, the_function, args, kwargs, type_expr)

    def call_method(self, method_name: str, args: Any = None, kwargs: Any = None, type_expr: Any = None) -> Ref:
        return self.add("call_method", method_name, method_name, args, kwargs, type_expr)

    def get_attr(self, qualified_name: str, type_expr: Any = None) -> Ref:
        return self.add("get_attr", qualified_name, qualified_name, type_expr=type_expr)

    def output(self, result: Any, type_expr: Any = None) -> Ref:
        return self.add("output", "output", "output", (result,), type_expr=type_expr)

    def lint(self) -> None:
        """fx.Graph's check; rows are made in order, so there is nothing to check."""


@dataclass
class Code:
    """What fx's PythonCode carries, for GraphModule's `.code` and its error messages."""

    src: str
    globals: dict[str, Any]
    _lineno_map: dict[int, int | None]
    _prologue_start: int = 0


def refs(a: Any) -> Iterator[str]:
    """The names of the earlier values inside an argument, in order."""
    if isinstance(a, Ref):
        yield a.name
    elif isinstance(a, (list, tuple)):
        for v in a:
            yield from refs(v)
    elif isinstance(a, dict):
        for v in a.values():
            yield from refs(v)


def last_uses(rows: list[Row]) -> dict[int, list[str]]:
    """{row index: the values to drop after it}: each value after its last reader, or after itself
    when nothing reads it."""
    last: dict[str, int] = {}
    for i, (op, _, _, args, kwargs) in enumerate(rows):
        for n in refs((args, kwargs)):
            last[n] = i
    drop: dict[int, list[str]] = {}
    for i, (op, name, *_rest) in enumerate(rows):
        if op != "output":
            drop.setdefault(last.get(name, i), []).append(name)
    return {i: names for i, names in drop.items() if rows[i][0] != "output"}


class Writer:
    """Formats rows as Python expressions, in fx's style; collects the globals the code names."""

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.globals: dict[str, Any] = {"torch": torch}
        self.var: dict[str, str] = {}  # a value's row name -> the variable holding it (see python_source)

    def value(self, a: Any) -> str:
        if isinstance(a, Ref):
            return self.var.get(a.name, a.name)
        if isinstance(a, list):
            return "[" + ", ".join(map(self.value, a)) + "]"
        if isinstance(a, tuple):
            return f"({self.value(a[0])},)" if len(a) == 1 else "(" + ", ".join(map(self.value, a)) + ")"
        if isinstance(a, dict) and all(isinstance(k, str) for k in a):
            return "{" + ", ".join(f"{k!r}: {self.value(v)}" for k, v in a.items()) + "}"
        if a is None or isinstance(a, (bool, int, str)) or (isinstance(a, float) and a == a and abs(a) != float("inf")):
            return repr(a)
        raise Unsupported(f"no literal for {type(a).__name__}")

    def call(self, args: Any, kwargs: Any) -> str:
        return ", ".join([*map(self.value, args), *(f"{k} = {self.value(v)}" for k, v in kwargs.items())])

    def function(self, fn: Callable[..., Any]) -> str:
        """How the code names `fn`: torch's functions by their path from `torch` (torch.cat), others as
        a global of their own name, made unique."""
        module, name = getattr(fn, "__module__", None) or "", getattr(fn, "__name__", "")
        if module == "torch" or module.startswith("torch."):
            for path in (f"{module}.{getattr(fn, '__qualname__', name)}", f"torch.{name}"):
                obj: Any = self.torch
                for part in path.split(".")[1:]:
                    obj = getattr(obj, part, None)
                if obj is fn:
                    return path
        if not name.isidentifier():
            raise Unsupported(f"no global name for {fn!r}")
        for key, value in self.globals.items():
            if value is fn:
                return key
        base, n = f"{name}_fn" if name in TAKEN or VAR_RE.fullmatch(name) else name, 0
        key = base
        while key in self.globals or key in TAKEN:
            n += 1
            key = f"{base}_{n}"
        self.globals[key] = fn
        return key

    def line(self, op: str, name: str, target: Any, args: Any, kwargs: Any) -> str:
        """The row's expression (its statement for the output)."""
        if op == "call_module":
            return f"{attribute('self', target)}({self.call(args, kwargs)})"
        if op == "get_attr":
            return attribute("self", target)
        if op == "call_method":
            return f"{attribute(self.value(args[0]), target)}({self.call(args[1:], kwargs)})"
        if op == "call_function":
            infix = INFIX.get(target.__name__) if getattr(target, "__module__", "") == "_operator" else None
            if infix and len(args) == 2 and not kwargs:
                return infix.format(*map(self.value, args))
            return f"{self.function(target)}({self.call(args, kwargs)})"
        if op == "output":
            return f"return {self.value(args[0])}"
        raise Unsupported(f"op {op}")


def attribute(base: str, path: str) -> str:
    """`self.layer1` / `getattr(self.features, "0")`: a dotted path as Python reaches it."""
    for part in path.split("."):
        if part.isidentifier() and not keyword.iskeyword(part) and read_as(part) is None:
            base = f"{base}.{part}"
        else:  # repr where the name holds what a "..." literal cannot (names.py refuses such names anyway)
            literal = f'"{part}"' if part.isprintable() and '"' not in part and "\\" not in part else repr(part)
            base = f"getattr({base}, {literal})"
    return base


def python_source(rows: list[Row]) -> Code:
    """The forward's source: `def forward(self, <placeholders>):` then one line per row, its values in
    few variables, as hand-written code keeps them (`x = self.conv1(x)`).

    A call whose first input dies with it stores its result in that input's variable; any other takes
    a variable freed earlier (x1, x2, ...), and a value's variable is set to None after its last use,
    so memory is freed as soon as with one variable per value. CPython compiles a function in time
    growing faster than its count of distinct locals (a chain of 800 calls: 8.2 ms with one local per
    value, 3.8 ms with one), and a network keeps only a few values alive at once. The line's callee
    (`getattr(self.layer1, "0").conv1`) says which block computed it; `.graph` names every value."""
    w = Writer()
    drop = last_uses(rows)
    free: list[str] = []
    count = 0
    body: list[str] = []
    lineno: dict[int, int | None] = {}
    params = []
    for i, (op, name, target, args, kwargs) in enumerate(rows):
        if op == "placeholder":
            w.var[name] = VAR if not params else f"{VAR}_in{len(params)}"
            params.append(w.var[name])
            continue
        dying = drop.get(i, [])
        first = next(refs(args), None) if op not in ("output", "get_attr") else None
        text = w.line(op, name, target, args, kwargs)  # inputs by their variables, before this row's own is chosen
        if op != "output":
            if first in dying and first != name:
                w.var[name] = w.var[first]
            elif free:
                w.var[name] = free.pop()
            else:
                count += 1
                w.var[name] = f"{VAR}{count}"
            text = f"{w.var[name]} = {text}"
        gone = list(dict.fromkeys(w.var[n] for n in dying if n == name or w.var[n] != w.var.get(name)))
        if gone:
            text += ";  " + " = ".join([*gone, "None"])
            free += reversed(gone)
        lineno[len(body) + 2] = i  # line 1 is the def
        body.append("    " + text)
    src = "\n\n\ndef forward(self, " + ", ".join(params) + "):\n" + "\n".join(body) + "\n    "
    return Code(src, w.globals, lineno, 4)


def compile_forward(code: Code) -> Callable[..., Any]:
    """The forward function of `code`, compiled as fx compiles its own (its source registered, so
    tracebacks, inspect and TorchScript can read it)."""
    try:
        from torch.fx.graph_module import _forward_from_src
    except ImportError:  # fx's helper gone: compile it here, with the source where linecache finds it
        return _compile_here(code)
    return _forward_from_src(code.src, code.globals)


_COUNT = iter(range(1 << 62))


def _compile_here(code: Code) -> Callable[..., Any]:
    import linecache

    key = f"<archspec-forward-{next(_COUNT)}>"
    linecache.cache[key] = (len(code.src), None, code.src.splitlines(True), key)
    scope = dict(code.globals)
    exec(compile(code.src, key, "exec", dont_inherit=True), scope)  # noqa: S102  our own generated source, never spec text
    return scope["forward"]
