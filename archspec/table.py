"""The layer tables archspec prints: `archspec summary`'s tree, the partial table of a shape error, and
the per-block facts `diff` and `list --models` read. All static: shapes inferred, parameters counted on
the meta device, MACs from each block type's own rule; nothing is allocated or run."""
from __future__ import annotations

from functools import lru_cache

from dataclasses import dataclass, field

from .graph import Graph, Node
from .registry import fmt_shape
from .types import Shape


def param_counts(node: Node, x: Shape) -> tuple[int, int]:
    """(all, trainable) parameters of a node's module, by its block's rule or else counted on the meta
    device: nothing is allocated."""
    if node.block is None:
        return 0, 0
    n = node.block.params(x)
    if n is not None:
        return n, n
    return block_param_counts(type(node.block), node.block.model_dump_json(), tuple(x))


@lru_cache(maxsize=4096)
def block_param_counts(cls: type, fields: str, x: Shape) -> tuple[int, int]:
    """Cached by block type, fields and input shape: a network repeats the same blocks, and the memory
    check, the summary and list --models all count them."""
    import torch

    with torch.device("meta"):
        built = cls.model_validate_json(fields).build(x)
    params = [built] if isinstance(built, torch.nn.Parameter) else list(built.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def param_count(node: Node, x: Shape) -> int:
    """Parameters of a node's module, counted on the meta device: nothing is allocated."""
    return param_counts(node, x)[0]


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


@dataclass
class Row:
    """One line of the summary tree: a block, a merge, or a scope (its totals over everything inside)."""

    name: str
    type: str
    level: int
    shape: Shape = ()
    params: int = 0
    trainable: int = 0
    macs: int = 0
    children: list["Row"] = field(default_factory=list)


def parent_scope(node: Node) -> str:
    """The scope a node sits in: a module's path minus its own name; a merge's path is its scope."""
    return node.path.rpartition(".")[0] if node.op == "module" else node.path


def ancestors(path: str) -> list[str]:
    """'a.b.c' -> ['', 'a', 'a.b', 'a.b.c']: the scope and every scope around it."""
    parts = path.split(".") if path else []
    return [""] + [".".join(parts[: i + 1]) for i in range(len(parts))]


def enter_scopes(graph: Graph, scopes: dict[str, Row], where: str) -> None:
    """Make the rows of `where` and the scopes around it that have none yet, each attached to its parent
    as the forward first enters it."""
    chain = ancestors(where)
    for level, (outer, path) in enumerate(zip(chain, chain[1:]), 1):
        if path not in scopes:
            scopes[path] = Row(path.rpartition(".")[2], graph.scopes.get(path, "seq"), level)
            scopes[outer].children.append(scopes[path])


def node_row(node: Node, level: int, shape: Shape, x: Shape) -> Row:
    if node.op != "module":
        return Row(f"({node.op})", node.op, level, shape)
    name = node.path.rpartition(".")[2]
    kind = str(getattr(node.block, "fn", node.type)) if node.type == "act" else node.type  # relu, not act
    total, trainable = param_counts(node, x)
    return Row(name, kind, level, shape, total, trainable, macs(node, x, shape))


def tree(graph: Graph, shapes: list[Shape]) -> Row:
    """The network as a tree of rows; a scope's shape is its last node's, its counts the sums inside."""
    main = list(graph.outputs.values())[-1].node  # the main output is set last
    root = Row(graph.name, "network", 0, shapes[main])
    root.children.append(Row("input", "input", 1, shapes[0]))
    scopes = {"": root}
    for node in graph.nodes[1:]:
        where = parent_scope(node)
        enter_scopes(graph, scopes, where)
        row = node_row(node, scopes[where].level + 1, shapes[node.id], shapes[node.inputs[0]])
        scopes[where].children.append(row)
        for path in ancestors(where):
            add_to(scopes[path], row, take_shape=path != "")  # the network's shape is its main output's
    return root


def add_to(scope: Row, row: Row, take_shape: bool) -> None:
    scope.params += row.params
    scope.trainable += row.trainable
    scope.macs += row.macs
    if take_shape:
        scope.shape = row.shape


def tree_lines(root: Row, depth: int) -> list[tuple[str, str, str, str, str]]:
    """Rows down to `depth` levels, names indented by level."""
    out = [("  " * max(root.level - 1, 0) + root.name, root.type, fmt_shape(root.shape), f"{root.params:,}", f"{root.macs:,}")]
    for child in root.children:
        if child.level <= depth:
            out += tree_lines(child, depth)
    return out


def tree_table(graph: Graph, shapes: list[Shape], depth: int) -> tuple[str, Row]:
    """The summary's layer table and the tree's root (totals)."""
    root = tree(graph, shapes)
    rows = [("block", "type", "output shape", "params", "MACs"), *tree_lines(root, depth)]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    rule = "-" * len(lines[0])
    return "\n".join([rule, lines[0], rule, *lines[1:], rule]), root
