"""One registry of block types: each entry is a pydantic model with its fields, shape rule and builder."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from .errors import ShapeError, did_you_mean
from .types import Bool, Shape

if TYPE_CHECKING:
    import torch.fx as fx
    import torch.nn as nn

ChildKind = Literal["item", "items", "branches"]


class Block(BaseModel):
    """Base of every block type. Leaf blocks define `infer` and `build`; containers define `lower`."""

    # defer_build: a block type's validator is made when a spec first uses it, so `archspec list`
    # and start-up do not pay for building ~40 validators nobody calls
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, defer_build=True)

    type: str = Field(description="the block type")
    when: Bool = Field(True, description="include this block only when true, e.g. ${aux_logits}")

    children: ClassVar[dict[str, ChildKind]] = {}  # fields holding nested blocks, parsed recursively
    container: ClassVar[bool] = False
    inplace_safe_after: ClassVar[bool] = False  # an in-place activation may overwrite this block's output
    passes_input: ClassVar[bool] = False  # its output may be its input itself (dropout in eval): as safe to overwrite as that
    learns: ClassVar[bool] = True  # False: its module holds no parameters (an activation, a pool, a reshape)

    @classmethod
    def type_name(cls) -> str:
        """The `type:` value that selects this block."""
        return get_args(cls.model_fields["type"].annotation)[0]

    @classmethod
    def describe(cls) -> str:
        """The one-line description shown by `archspec list`."""
        return (cls.__doc__ or "").strip().splitlines()[0]

    def infer(self, x: Shape) -> Shape:
        """The output shape for input shape `x` (batch dim excluded); raises ShapeError."""
        raise NotImplementedError

    def build(self, x: Shape) -> "nn.Module":
        """The torch module for input shape `x`."""
        raise NotImplementedError

    def emit(self, g: "fx.Graph", path: str, x: "fx.Node") -> "fx.Node":
        """The generated forward's call of this block (built at `path`) on `x`: a module call, unless a
        block holds a bare tensor (a learned class token) and says how it is applied."""
        return g.call_module(path, (x,))

    def macs(self, x: Shape, y: Shape) -> int:
        """Multiply-accumulates of one sample from input shape `x` to output shape `y`."""
        return 0

    def params(self, x: Shape) -> int | None:
        """Parameters of the module built for input shape `x`, by rule: the memory check counts every
        block before anything is allocated, and a meta-device build per block was a third of a small
        network's first build. None: no rule, count a meta-device build (every parameter trainable
        with a rule; tests/test_block_properties.py holds each rule to the built module)."""
        return None if self.learns else 0


REGISTRY: dict[str, type[Block]] = {}


def register(cls: type[Block]) -> type[Block]:
    """Class decorator adding a block type to the registry."""
    name = cls.type_name()
    assert name not in REGISTRY, f"block type {name} registered twice"
    REGISTRY[name] = cls
    return cls


def unknown_type_message(name: str, user_blocks: Any = ()) -> str:
    """The message for an unknown `type:`, with a suggestion from primitives and user blocks."""
    what = "block type" if name[:1].islower() else "block"
    return f"unknown {what} '{name}'{did_you_mean(name, [*REGISTRY, *user_blocks])}"


def expect_rank(x: Shape, rank: int, what: str) -> None:
    """Raise a ShapeError unless `x` has `rank` dims (batch excluded)."""
    if len(x) != rank:
        names = {1: "(B, F)", 3: "(B, C, H, W)"}
        hint = "; add a flatten before it" if rank == 1 and len(x) == 3 else ""
        raise ShapeError(f"{what} expects input {names.get(rank, rank)}, found {fmt_shape(x)}{hint}")


def fmt_shape(x: Shape) -> str:
    """(B, 16, 4, 4) style."""
    return "(" + ", ".join(["B", *map(str, x)]) + ")"
