"""Field types for block models: each accepts a literal value or a `${...}` expression.

An expression is parsed when the spec is read and evaluated when a block is instantiated; its
result is then checked against the field's concrete type (`Concrete`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Callable, Literal, Union, get_args, get_origin

from pydantic import Field, PlainSerializer, PlainValidator, StrictBool, StrictInt, TypeAdapter, WithJsonSchema

from .expr import EXPR_RE, Expr, ExprError, is_expr

Shape = tuple[int, ...]  # one sample's shape, batch dim excluded: (C, H, W), (F,) or tokens (N, D)


class ChannelsLast(tuple):
    """An image shape in (H, W, C) order, as `permute: [1, 2, 0]` makes it (ConvNeXt, Swin): blocks that
    work on the last dim (linear, layer_norm) accept it where they refuse a (C, H, W) image."""


def _to_expr(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    if not is_expr(value):
        raise ValueError("not an expression")
    try:
        return Expr.parse(value)
    except ExprError as e:
        raise ValueError(str(e)) from None


ExprT = Annotated[
    Expr,
    PlainValidator(_to_expr),
    PlainSerializer(str),
    WithJsonSchema({"type": "string", "pattern": EXPR_RE.pattern, "description": "an expression on spec parameters, e.g. ${planes * 4}"}),
]


@dataclass(frozen=True)
class Concrete:
    """Marks a field as parameterizable: the type its value must have once expressions are evaluated."""

    tp: Any
    desc: str

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], dict]) -> dict:
        # a field type's schema is made once and copied for every block type using it: generating it
        # again per field was most of a block type's first validation (1-6 ms each, in a network's
        # first build). Sharing is sound because these types spell out everything (strict ints and
        # bools, explicit bounds): nothing in their schema comes from the model's config
        if source not in _SCHEMAS:
            _SCHEMAS[source] = handler(source)
        return copy.deepcopy(_SCHEMAS[source])

    def validate(self, value: Any) -> Any:
        """`value` checked against the concrete type (pydantic's ValidationError, a ValueError, if not)."""
        a = self.__dict__.get("_adapter")
        if a is None:  # kept on the marker: looking it up by type hashed the whole annotation each time
            a = adapter(self.tp)
            object.__setattr__(self, "_adapter", a)
        return a.validate_python(value)


_SCHEMAS: dict[Any, dict] = {}


def P(tp: Any, desc: str) -> Any:
    """A field type accepting `tp` or an expression that evaluates to `tp`."""
    return Annotated[Union[tp, ExprT], Concrete(tp, desc)]


@lru_cache(maxsize=4096)  # per field of a block type (FieldInfo hashes by identity); lowering asks for every field it evaluates
def field_concrete(info: Any) -> tuple[Concrete | None, bool]:
    """A field's Concrete marker (also inside Optional[...]) and whether it may be null."""
    args = get_args(info.annotation)
    metas = list(info.metadata) + [m for a in args for m in getattr(a, "__metadata__", ())]
    return next((m for m in metas if isinstance(m, Concrete)), None), type(None) in args


def PList(tp: Any, desc: str, min_length: int = 0) -> Any:
    """A list field whose elements may each be an expression: [1, "${in_channels}", 1]."""
    concrete, union = list_types(tp, min_length)
    return Annotated[union, Concrete(concrete, desc)]


@lru_cache(maxsize=None)  # one type per element type and length, so its schema is made once (Concrete)
def list_types(tp: Any, min_length: int) -> tuple[Any, Any]:
    concrete = Annotated[list[tp], Field(min_length=min_length, max_length=8)]
    return concrete, Union[concrete, ExprT, list[Union[StrictInt, ExprT]]]


@lru_cache(maxsize=None)
def adapter(tp: Any) -> TypeAdapter:
    """A cached TypeAdapter for a concrete field type."""
    return TypeAdapter(tp)


MAX_DIM = 2**24  # bounds every size field: no layer needs more, and torch's size arithmetic overflows far beyond
MAX_ELEMENTS = 2**40  # elements of one sample's tensor at any node (4 TB as float32): beyond, torch's sizes overflow int64
PosInt = Annotated[StrictInt, Field(ge=1, le=MAX_DIM)]
NonNegInt = Annotated[StrictInt, Field(ge=0, le=MAX_DIM)]
Pair = Annotated[list[PosInt], Field(min_length=2, max_length=2)]
NonNegPair = Annotated[list[NonNegInt], Field(min_length=2, max_length=2)]
# every float field is finite: NaN or inf in a hyperparameter only makes the network compute NaN
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Prob = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
PosFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]

Int1 = P(PosInt, "a positive integer")
Int0 = P(NonNegInt, "a non-negative integer")
Size = P(Union[PosInt, Pair], "a positive integer or a pair [h, w]")
Padding = P(Union[NonNegInt, NonNegPair, Literal["same", "valid"]], "a non-negative integer, a pair [h, w], 'same' or 'valid'")
# messages name the bound only when it is what failed, see schema.field_message
Bool = P(StrictBool, "true or false")
Probability = P(Prob, "a number between 0 and 1")
Float = P(FiniteFloat, "a finite number")
PositiveFloat = P(PosFloat, "a finite positive number")


def pair(v: int | list[int]) -> tuple[int, int]:
    """(h, w) from an int or a two-element list."""
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def range_hint(value: object) -> str:
    """', at most 16,777,216' when an integer failed by being over the size bound, else ''."""
    return f", at most {MAX_DIM:,}" if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_DIM else ""


def expected(info: Any) -> str:
    """A human description of a field's type."""
    concrete, optional = field_concrete(info)
    if concrete is not None:
        return concrete.desc + (", or null" if optional else "") + " (or a ${...} expression)"
    choices = literal_choices(info)
    if choices:
        return "one of " + ", ".join(choices)
    ann = getattr(info.annotation, "__name__", None) or str(info.annotation).replace("typing.", "")
    return {"str": "a string", "float": "a number", "bool": "true or false", "int": "an integer"}.get(ann, ann) + bounds_text(info)


def bounds_text(info: Any) -> str:
    """' > 0', ' >= 1', ' in [0, 1]', ' in [0, 1)': a field's numeric bounds as the message states them."""
    lo = next(((f">= {m.ge:g}", "[", m.ge) if hasattr(m, "ge") else (f"> {m.gt:g}", "(", m.gt)
               for m in info.metadata if hasattr(m, "ge") or hasattr(m, "gt")), None)
    hi = next(((f"<= {m.le:g}", "]", m.le) if hasattr(m, "le") else (f"< {m.lt:g}", ")", m.lt)
               for m in info.metadata if hasattr(m, "le") or hasattr(m, "lt")), None)
    if lo and hi:
        return f" in {lo[1]}{lo[2]:g}, {hi[2]:g}{hi[1]}"
    return f" {(lo or hi)[0]}" if lo or hi else ""


def literal_choices(info: Any) -> list[str]:
    """The allowed strings of a Literal (or Optional[Literal]) field."""
    out: list[str] = []
    stack = [info.annotation]
    while stack:
        t = stack.pop()
        if get_origin(t) is Literal:
            out += [a for a in get_args(t) if isinstance(a, str)]
        else:
            stack += list(get_args(t))
    return out
