"""The safe evaluator: arithmetic as Python computes it, and nothing else."""
from __future__ import annotations

import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archspec.expr import Expr, ExprError


def test_resnext_width() -> None:
    e = Expr.parse("${int(planes * width_per_group / 64) * groups}")
    assert e.evaluate({"planes": 64, "width_per_group": 4, "groups": 32}) == 128
    assert e.names() == {"planes", "width_per_group", "groups"}


def test_conditionals_indexing_and_comparisons() -> None:
    env = {"layers": [3, 4, 6, 3], "stride": 2, "c": 64}
    assert Expr.parse("${layers[2]}").evaluate(env) == 6
    assert Expr.parse("${stride != 1 or c != 256}").evaluate(env) is True
    assert Expr.parse("${c * 4 if stride == 2 else c}").evaluate(env) == 256
    assert Expr.parse("${max(1, c // 3) + len(layers)}").evaluate(env) == 25


@pytest.mark.parametrize("text,message", [
    ("${__import__('os').system('true')}", "only these functions may be called"),
    ("${c.__class__}", "'Attribute' is not allowed"),
    ("${[x for x in layers]}", "'ListComp' is not allowed"),
    ("${(lambda: 1)()}", "only these functions may be called"),
    ("${2 ** 100000}", "exponent 100000 is out of range"),
    ("${'a' * 10**9}", "only numbers can be multiplied"),
    ("${10**13}", "out of range"),
    ("${c +}", "invalid expression"),
    ("plain text", "expected an expression written as"),
])
def test_rejected(text: str, message: str) -> None:
    with pytest.raises(ExprError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        Expr.parse(text).evaluate({"c": 1, "layers": [1]})


def test_undefined_name_suggests() -> None:
    with pytest.raises(ExprError, match=r"undefined parameter 'plane'; did you mean 'planes'\?"):
        Expr.parse("${plane * 4}").evaluate({"planes": 2})


OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod}
ops = st.sampled_from(sorted(OPS))


@given(st.integers(-1000, 1000), ops, st.integers(1, 1000), ops, st.integers(-1000, 1000))
def test_integer_arithmetic_matches_python(a: int, op1: str, b: int, op2: str, c: int) -> None:
    text = f"(a {op1} b) {op2} c"
    env = {"a": a, "b": b, "c": c}
    try:
        want = OPS[op2](OPS[op1](a, b), c)
    except ZeroDivisionError:
        with pytest.raises(ExprError):
            Expr.parse("${" + text + "}").evaluate(env)
        return
    assert Expr.parse("${" + text + "}").evaluate(env) == want
