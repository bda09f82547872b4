"""The layer table archspec prints itself: for a network that does not build (torchinfo needs one that runs)."""
from __future__ import annotations

from .graph import Graph, Node
from .registry import fmt_shape
from .types import Shape


def param_count(node: Node, x: Shape) -> int:
    """Parameters of a node's module, counted on the meta device: nothing is allocated."""
    if node.block is None:
        return 0
    import torch

    with torch.device("meta"):
        built = node.block.build(x)
        return built.numel() if isinstance(built, torch.nn.Parameter) else sum(p.numel() for p in built.parameters())


def partial_table(graph: Graph, shapes: list[Shape], failing: int) -> str:
    """Rows up to the failing node, which is marked with '>>'."""
    rows = [("", "block", "type", "output shape", "params")]
    for node in graph.nodes[:failing]:
        x = shapes[node.inputs[0]] if node.inputs else shapes[0]
        try:
            count = f"{param_count(node, x):,}"
        except (RuntimeError, ValueError, OverflowError):
            count = "?"  # torch cannot size it; the failing block is what the message is about
        rows.append(("", node.display, node.type, fmt_shape(shapes[node.id]), count))
    bad = graph.nodes[failing]
    rows.append((">>", bad.display, bad.type, "error", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    rule = "-" * len(lines[0])
    return "\n".join([rule, lines[0], rule, *lines[1:], rule])


def macs(node: Node, x: Shape, y: Shape) -> int:
    """Multiply-accumulates of one sample through a node (each block type counts its own)."""
    return node.block.macs(x, y) if node.block is not None else 0


def node_facts(graph: Graph, shapes: list[Shape]) -> dict[str, tuple[str, Shape, int, int]]:
    """block path -> (type, output shape, parameters, MACs), for comparing two networks."""
    out = {}
    for node in graph.nodes:
        x = shapes[node.inputs[0]] if node.inputs else shapes[0]
        key = node.display if node.op == "module" else f"{node.display} ({node.op})"
        out[key] = (node.type, shapes[node.id], param_count(node, x), macs(node, x, shapes[node.id]))
    return out
