"""The small safe evaluator for `${...}` arithmetic on spec parameters.

Expressions are parsed with `ast` and walked node by node against a whitelist; spec text is
never handed to `eval`. Names resolve only to spec parameters.
"""
from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

from .errors import MAX_NESTING, did_you_mean

EXPR_RE = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
MAX_LEN = 500
MAX_MAGNITUDE = 10**12  # no spec needs larger numbers; bounds `**` and repeated multiplication
MAX_SIZE = 10_000  # characters of a string, elements of a list (nested ones counted): bounds strings and
# lists that double through params and let (`a + a`), and the work of comparing or summing them

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """`v` rounded to a multiple of `divisor`, never below 90 % of `v`: the width rule of MobileNet,
    EfficientNet, MNASNet and RegNet (torchvision's _make_divisible)."""
    if not isinstance(divisor, int) or divisor < 1:
        raise ValueError(f"make_divisible: divisor must be a positive integer, found {divisor!r}")
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _round(x: Any, ndigits: Any = None) -> Any:
    if ndigits is not None and not -20 <= ndigits <= 20:
        raise ValueError(f"round: ndigits must be between -20 and 20, found {ndigits}")
    return round(x) if ndigits is None else round(x, ndigits)


def _positive(f: Callable[[float], float], name: str) -> Callable[[float], float]:
    def g(x: float) -> float:
        if x <= 0:
            raise ValueError(f"{name}: needs a positive number, found {x}")
        return f(x)
    return g


def _sum(xs: Any) -> Any:
    if not isinstance(xs, list) or len(xs) > 100_000:
        raise ValueError("sum takes a list")
    return sum(xs)


_FUNCS: dict[str, Callable[..., Any]] = {
    "int": int, "float": float, "round": _round, "min": min, "max": max, "abs": abs,
    "ceil": math.ceil, "floor": math.floor, "len": len, "sum": _sum,
    "log": _positive(math.log, "log"), "log2": _positive(math.log2, "log2"), "sqrt": math.sqrt, "exp": math.exp,
    "make_divisible": make_divisible,
}


class ExprError(Exception):
    """An expression that cannot be parsed or evaluated; the caller adds the location."""


@dataclass(frozen=True)
class Expr:
    """A parsed `${...}` expression."""

    text: str
    tree: ast.Expression

    @classmethod
    def parse(cls, raw: str) -> "Expr":
        """Parse `${...}`; raises ExprError for bad syntax or disallowed constructs. An Expr is immutable,
        so one parse serves every use of the same text (a repeat's name template, each build)."""
        return _parse(raw) if cls is Expr else cls._parse_uncached(raw)

    @classmethod
    def _parse_uncached(cls, raw: str) -> "Expr":
        m = EXPR_RE.match(raw.strip())
        if not m:
            raise ExprError(f"expected an expression written as ${{...}}, found {raw!r}")
        body = m.group(1).strip()
        if len(body) > MAX_LEN:
            raise ExprError(f"expression is {len(body)} characters; the limit is {MAX_LEN}")
        try:
            tree = ast.parse(body, mode="eval")
        except SyntaxError as e:
            raise ExprError(f"invalid expression ${{{body}}}: {e.msg}") from None
        _check(tree.body)
        return cls(body, tree)

    def names(self) -> set[str]:
        """The parameter names the expression reads."""
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name) and n.id not in _FUNCS}

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """Evaluate against parameter values."""
        try:
            return _eval(self.tree.body, env)
        except ExprError:
            raise
        except (ArithmeticError, TypeError, ValueError, IndexError, KeyError) as e:
            raise ExprError(f"${{{self.text}}} failed: {e}") from None

    def __str__(self) -> str:
        return f"${{{self.text}}}"


@lru_cache(maxsize=8192)
def _parse(raw: str) -> Expr:
    return Expr._parse_uncached(raw)


def is_expr(value: Any) -> bool:
    """Whether a raw YAML value is written as `${...}`."""
    return isinstance(value, str) and bool(EXPR_RE.match(value.strip()))


_ALLOWED = (
    ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp,
    ast.Call, ast.Subscript, ast.List, ast.Tuple, ast.Load, ast.And, ast.Or, ast.Not,
    ast.USub, ast.UAdd, *_BINOPS, *_CMPOPS,
)


def _check(node: ast.AST) -> None:
    for sub in ast.walk(node):
        if not isinstance(sub, _ALLOWED):
            raise ExprError(f"'{type(sub).__name__}' is not allowed in expressions (only arithmetic, comparisons, "
                            f"conditionals, indexing and {', '.join(sorted(_FUNCS))})")
        if isinstance(sub, ast.Call) and not (isinstance(sub.func, ast.Name) and sub.func.id in _FUNCS) :
            raise ExprError(f"only these functions may be called: {', '.join(sorted(_FUNCS))}")
        if isinstance(sub, ast.Call) and sub.keywords:
            raise ExprError("keyword arguments are not allowed in expressions")
        if isinstance(sub, ast.Constant) and not isinstance(sub.value, (int, float, bool, str, type(None))):
            raise ExprError(f"constant {sub.value!r} is not allowed in expressions")


PLAIN = (type(None), bool, int, float, str)  # what YAML gives a spec parameter, besides lists and mappings
NESTED = (list, tuple, dict)
SIZED = (str, list, tuple, dict)  # what counts toward MAX_SIZE


def out_of_bounds(value: Any) -> str | None:
    """Why `value` is outside the bounds every expression result keeps to, or None: finite numbers of
    magnitude at most MAX_MAGNITUDE; at most MAX_SIZE characters and elements, nested ones counted; at most
    MAX_NESTING levels; only what YAML can write. Values that reach expressions from outside a spec
    (build(**params), --set, a checkpoint's parameters) are held to the same. Walks without recursion and
    stops at the first excess, so a structure nested thousands deep or holding itself costs little."""
    if not isinstance(value, SIZED):
        return scalar_problem(value)  # most results: one number
    stack, total = [(value, 0)], 0
    while stack:
        v, depth = stack.pop()
        if not isinstance(v, SIZED):
            problem = scalar_problem(v)
            if problem is not None:
                return problem
            continue
        total += len(v)  # before walking it: a list of millions is refused without visiting them
        if total > MAX_SIZE:
            return f"a {type(value).__name__} of more than {MAX_SIZE:,} characters or elements is out of range"
        if isinstance(v, NESTED) and depth >= MAX_NESTING:
            return f"a {type(value).__name__} nested more than {MAX_NESTING} levels deep is out of range"
        if isinstance(v, NESTED):
            stack += [(x, depth + 1) for x in ([*v, *v.values()] if isinstance(v, dict) else v)]
    return None


def scalar_problem(value: Any) -> str | None:
    """Why a single value (not a string, list or mapping) is out of bounds, or None."""
    if not isinstance(value, PLAIN):
        return f"a {type(value).__name__} is not a parameter value (numbers, strings, true/false, null, lists and mappings are)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"value {value} is not a finite number"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_MAGNITUDE:
        shown = f"value {value:.3g}" if isinstance(value, float) or value.bit_length() < 1000 else \
            f"an integer of about {int(value.bit_length() * math.log10(2)):,} digits"  # its str() is slow, and refused
        return f"{shown} is out of range (limit {MAX_MAGNITUDE:.0e})"
    return None


def _bounded(value: Any) -> Any:
    problem = out_of_bounds(value)
    if problem is not None:
        raise ExprError(problem)
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        try:
            return env[node.id]
        except KeyError:
            raise ExprError(f"undefined parameter '{node.id}'{did_you_mean(node.id, env)}") from None
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 64:
            raise ExprError(f"exponent {right} is out of range")
        if isinstance(node.op, ast.Mult) and (isinstance(left, (str, list)) or isinstance(right, (str, list))):
            raise ExprError("only numbers can be multiplied in expressions")
        if isinstance(node.op, ast.Mod) and not _is_number(left):  # '%0999999999d' % 1 formats a gigabyte
            raise ExprError("'%' works on numbers only (string formatting is not allowed in expressions)")
        return _bounded(_BINOPS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return _bounded({ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}[type(node.op)](v))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, env) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if isinstance(node, ast.Call):
        return _bounded(_FUNCS[node.func.id](*(_eval(a, env) for a in node.args)))  # type: ignore[attr-defined]
    if isinstance(node, ast.Subscript):
        return _eval(node.value, env)[_eval(node.slice, env)]
    if isinstance(node, (ast.List, ast.Tuple)):
        return _bounded([_eval(e, env) for e in node.elts])
    raise ExprError(f"'{type(node).__name__}' is not allowed in expressions")
