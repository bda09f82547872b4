"""Composition: seq, residual, parallel, repeat and tap. They hold other blocks and are lowered
into graph nodes by the graph stage; they make no modules of their own."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Optional, Union

from pydantic import Field

from ..merges import merge_names
from ..registry import Block, fmt_shape, register
from ..types import Bool, Int1, P, PosInt

MergeName = P(Literal[tuple(merge_names())], "one of " + ", ".join(merge_names()))  # type: ignore[valid-type]
Dim = P(int, "a dim index, batch excluded (0: channels or tokens; -1: the last)")
Name = P(str, "a name")

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
    merge: MergeName = Field("add", description="how body and shortcut are joined")
    children = {"body": "items", "shortcut": "item"}

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        y = ctx.lower_items(self.body, scope, env, x)
        s = ctx.lower_item(self.shortcut, scope, env, x) if self.shortcut else x
        return ctx.merge(self.merge, [y, s], scope, item)


@register
class Gate(Container):
    """x * body(x), broadcasting: a gate computed from the value scales it (squeeze-excitation:
    (C, H, W) * (C, 1, 1))."""

    type: Literal["gate"]
    body: Any = Field(description="the blocks computing the gate from x")
    children = {"body": "items"}

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        g = ctx.lower_items(self.body, scope, env, x)
        return ctx.merge("mul", [g, x], scope, item)


@register
class Parallel(Container):
    """Branches run on the same input (or, with `split`, each on its slice of it), joined by concat
    (along `dim`), add or mul."""

    type: Literal["parallel"]
    branches: Any = Field(description="a list of branches; each is a block or a list of blocks")
    merge: MergeName = Field("concat", description="how branch outputs are joined")
    dim: Dim = Field(0, description="the dim that concat and split work along, batch excluded (0: channels or tokens)")
    split: Optional[P(Union[PosInt, list[PosInt]], "a number of equal parts or a list of sizes")] = Field(  # type: ignore[valid-type]
        None, description="give branch k the k-th slice of the input along `dim` (ShuffleNet's chunk) instead of all of it")
    children = {"branches": "branches"}

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        ins = self.slices(ctx, scope, x, item) if self.split is not None else [x] * len(self.branches)
        outs = [ctx.lower_item(b, scope, env, i) for b, i in zip(self.branches, ins)]
        return ctx.merge(self.merge, outs, scope, item, **({"dim": self.dim} if self.merge == "concat" else {}))

    def slices(self, ctx: "Lowering", scope: "Scope", x: int, item: "Item") -> list[int]:
        shape = ctx.shapes[x]
        if not -len(shape) <= self.dim < len(shape):
            ctx.fail(f"split: dim {self.dim} is out of range for input {fmt_shape(shape)}", item, "structure")
        size = shape[self.dim]
        parts = self.split if isinstance(self.split, list) else [size // self.split] * self.split
        if len(parts) != len(self.branches) or sum(parts) != size:
            ctx.fail(f"split {self.split} must give one part per branch ({len(self.branches)}) and cover the "
                     f"size {size} of dim {self.dim}", item, "structure")
        starts = [sum(parts[:k]) for k in range(len(parts))]
        return [ctx.call("narrow", [x], scope, item, dim=self.dim, start=s, length=n) for s, n in zip(starts, parts)]


@register
class Repeat(Container):
    """n copies of a block, numbered 0..n-1; `first` overrides fields of copy 0 (a ResNet stage's stride 2 and downsample)."""

    type: Literal["repeat"]
    n: Int1 = Field(description="number of copies")
    body: Any = Field(description="the block to repeat")
    first: Optional[dict[str, Any]] = Field(None, description="field overrides for the first copy")
    var: str = Field("i", description="name of the copy's index (0..n-1), readable in the body's fields and names: denselayer${i + 1}")
    counter: Optional[str] = Field(None, description="name of an index that runs on across every repeat using the same name (a block's index over all stages)")
    flat: Bool = Field(False, description="copies add no level of their own: their blocks are numbered on in the enclosing level (VGG's features.0 .. features.30)")
    children = {"body": "item"}

    def lower(self, ctx: "Lowering", scope: "Scope", env: dict[str, Any], x: int, item: "Item") -> int:
        ctx.check_repeat(self.n, item, {"var": self.var, "counter": self.counter})
        first = ctx.override(self.body, self.first, item) if self.first else self.body
        for i in range(self.n):
            local = {**env, self.var: i}
            if self.counter:
                local[self.counter] = ctx.running.get(self.counter, 0)
                ctx.running[self.counter] = local[self.counter] + 1
            body = first if i == 0 else self.body
            name = body.name or (None if self.flat else ctx.next_index(scope))
            x = ctx.lower_item(body, scope, local, x, name=name)
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
