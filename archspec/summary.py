"""`archspec summary`: a header of spec facts over archspec's own layer table (table.tree_table).

Everything is static: shapes come from shape inference, parameters are counted on the meta device and
MACs by each block type's rule, the numbers `diff` and `list --models` print. Nothing is allocated or
run, so a batch norm that sees a 1x1 map or a network of hundreds of millions of weights summarises
like any other."""
from __future__ import annotations

from typing import Any, Sequence

from . import analyze
from .graph import Graph
from .registry import fmt_shape
from .table import macs, tree_table


def summary_text(spec: Any, params: dict[str, Any] | None = None, input_shape: Sequence[int] | None = None, depth: int = 3,
                 variant: str | None = None) -> str:
    """The header (name, input, outputs, parameters, MACs), the layer table and its totals."""
    a = analyze(spec, params, input_shape, variant)
    table, total = tree_table(a.graph, a.shapes, depth)
    outputs = ", ".join(
        f"{name} {fmt_shape(a.shapes[o.node])}" + (" (training only)" if o.training_only else "")
        for name, o in a.graph.outputs.items())
    eval_macs = inference_macs(a.graph, a.shapes)
    header = [
        f"spec:       {a.spec.name}" + (f" ({a.spec.source.file})" if a.spec.source.file not in ("<spec>", "<dict>") else ""),
        f"input:      {fmt_shape(a.graph.input_shape)}",
        f"outputs:    {outputs}",
        f"parameters: {total.params:,}",
        f"MACs:       {total.macs:,} per sample" + (f" ({eval_macs:,} in eval mode)" if eval_macs != total.macs else ""),
    ]
    footer = [
        f"Total params: {total.params:,}",
        f"Trainable params: {total.trainable:,}",
        f"Non-trainable params: {total.params - total.trainable:,}",
        f"Total MACs: {total.macs:,} per sample ({human(total.macs)})" + ("; training-only outputs included" if eval_macs != total.macs else ""),
    ]
    return "\n".join([*header, table, *footer])


def inference_macs(graph: Graph, shapes: list) -> int:
    """MACs of the eval-mode forward: the nodes the outputs that are not training-only read."""
    stack = [o.node for o in graph.outputs.values() if not o.training_only]
    seen: set[int] = set()
    while stack:
        i = stack.pop()
        if i not in seen:
            seen.add(i)
            stack.extend(graph.nodes[i].inputs)
    return sum(macs(n, shapes[n.inputs[0]], shapes[n.id]) for n in graph.nodes if n.id in seen and n.inputs)


def human(n: int) -> str:
    """286,334 -> '286.33 K'; 4,458,000,000 -> '4.46 G'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return str(n)
