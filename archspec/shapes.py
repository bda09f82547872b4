"""Static shape inference: a node's output shape from its inputs', before any weight exists.

The graph stage calls `node_shape` as it adds each node, so that expressions can read the shape
flowing into a block (`${in_channels}`); `infer_shapes` returns what it found."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ShapeError, SpecError
from .merges import MERGES
from .registry import fmt_shape
from .types import Shape

if TYPE_CHECKING:
    from .graph import Graph, Node


def infer_shapes(graph: "Graph") -> list[Shape]:
    """The output shape of every node (batch dim excluded), inferred while the graph was lowered."""
    return graph.shapes


def node_shape(node: "Node", ins: list[Shape], input_shape: Shape) -> Shape:
    """One node's output shape; raises ShapeError."""
    if node.op == "input":
        return input_shape
    if node.op in MERGES:
        return MERGES[node.op].infer(ins, **node.args)
    assert node.block is not None
    return node.block.infer(ins[0])


def shape_error(graph: "Graph", shapes: list[Shape], node: "Node", ins: list[Shape], msg: str) -> SpecError:
    from .table import partial_table

    flowing = ", ".join(fmt_shape(s) for s in ins)
    text = f"{msg} (input {flowing})" if node.op == "module" and "input" not in msg else msg
    return SpecError(text + node.trace, node.loc, node.display, node.type, code="shape",
                     detail=partial_table(graph, shapes + [()], node.id))
