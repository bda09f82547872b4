"""Static shape inference over the graph: every node's output shape, before any weight exists."""
from __future__ import annotations

from .errors import ShapeError, SpecError
from .graph import Graph, Node
from .registry import fmt_shape
from .types import Shape


def infer_shapes(graph: Graph) -> list[Shape]:
    """The output shape of every node (batch dim excluded); a located SpecError on the first mismatch."""
    shapes: list[Shape] = []
    for node in graph.nodes:
        ins = [shapes[i] for i in node.inputs]
        try:
            shapes.append(node_shape(node, ins, graph.input_shape))
        except ShapeError as e:
            raise shape_error(graph, shapes, node, ins, str(e)) from None
    return shapes


def node_shape(node: Node, ins: list[Shape], input_shape: Shape) -> Shape:
    if node.op == "input":
        return input_shape
    if node.op == "add":
        return add_shape(ins)
    if node.op == "concat":
        return concat_shape(ins)
    assert node.block is not None
    return node.block.infer(ins[0])


def add_shape(ins: list[Shape]) -> Shape:
    """Elementwise sum: all inputs must have the same shape."""
    first = ins[0]
    for i, s in enumerate(ins[1:], 1):
        if s != first:
            what = "channel" if len(s) == len(first) and s[0] != first[0] else "shape"
            raise ShapeError(f"{what} mismatch at add: branch 0 gives {fmt_shape(first)}, branch {i} gives {fmt_shape(s)}")
    return first


def concat_shape(ins: list[Shape]) -> Shape:
    """Concatenation along channels: all other dims must agree."""
    first = ins[0]
    for i, s in enumerate(ins[1:], 1):
        if len(s) != len(first) or s[1:] != first[1:]:
            what = "spatial" if len(s) == len(first) == 3 else "shape"
            raise ShapeError(f"{what} mismatch at concat: branch 0 gives {fmt_shape(first)}, branch {i} gives {fmt_shape(s)}")
    return (sum(s[0] for s in ins), *first[1:])


def shape_error(graph: Graph, shapes: list[Shape], node: Node, ins: list[Shape], msg: str) -> SpecError:
    from .table import partial_table

    flowing = ", ".join(fmt_shape(s) for s in ins)
    text = f"{msg} (input {flowing})" if node.op == "module" and "input" not in msg else msg
    return SpecError(text + node.trace, node.loc, node.display, node.type, code="shape",
                     detail=partial_table(graph, shapes, node.id))
