"""Composition: seq, residual, parallel, repeat and tap. They hold other blocks and are lowered
into graph nodes by the graph stage; they make no modules of their own."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Optional

from pydantic import Field

from ..registry import Block, register
from ..types import Bool, Int1

if TYPE_CHECKING:
    from ..graph import Lowering, Scope
    from ..schema import Item


class Container(Block):
    container = True

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        """Append this block's nodes to the graph; returns the node id of its output."""
        raise NotImplementedError


@register
class Seq(Container):
    """Blocks run one after another (a plain YAML list is a seq)."""

    type: Literal["seq"]
    body: Any = Field(description="the blocks, in order")
    children = {"body": "items"}

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        return ctx.lower_items(self.body, scope, env, x)


@register
class Residual(Container):
    """body(x) + shortcut(x), where the shortcut is the identity unless given (ResNet's downsample)."""

    type: Literal["residual"]
    body: Any = Field(description="the residual branch, a list of blocks")
    shortcut: Any = Field(None, description="the projection path, e.g. {downsample: [conv, bn]}; identity when absent")
    children = {"body": "items", "shortcut": "item"}

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        y = ctx.lower_items(self.body, scope, env, x)
        s = ctx.lower_item(self.shortcut, scope, env, x) if self.shortcut else x
        return ctx.merge("add", [y, s], scope, item)


@register
class Parallel(Container):
    """Branches run on the same input, joined by concat (along channels) or add."""

    type: Literal["parallel"]
    branches: Any = Field(description="a list of branches; each is a block or a list of blocks")
    merge: Literal["concat", "add"] = Field("concat", description="how branch outputs are joined")
    children = {"branches": "branches"}

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        outs = [ctx.lower_item(b, scope, env, x) for b in self.branches]
        return ctx.merge(self.merge, outs, scope, item)


@register
class Repeat(Container):
    """n copies of a block, numbered 0..n-1; `first` overrides fields of copy 0 (a ResNet stage's stride 2 and downsample)."""

    type: Literal["repeat"]
    n: Int1 = Field(description="number of copies")
    body: Any = Field(description="the block to repeat")
    first: Optional[dict[str, Any]] = Field(None, description="field overrides for the first copy")
    children = {"body": "item"}

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        ctx.check_repeat(self.n, item)
        first = ctx.override(self.body, self.first, item) if self.first else self.body
        for i in range(self.n):
            x = ctx.lower_item(first if i == 0 else self.body, scope, env, x, name=ctx.next_index(scope))
        return x


@register
class Tap(Container):
    """A side output: runs `body` on the current value and emits it as a named output; the main flow
    continues unchanged (GoogLeNet's aux heads)."""

    type: Literal["tap"]
    body: Any = Field(description="the head computing the side output")
    output: Optional[str] = Field(None, description="output name; defaults to the tap's name")
    training_only: Bool = Field(False, description="emit only in training mode (left out of eval and export)")
    children = {"body": "item"}

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        y = ctx.lower_item(self.body, scope, env, x)
        ctx.set_output(self.output or item.name, y, self.training_only, item)
        return x
