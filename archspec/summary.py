"""`archspec summary`: torchinfo's layer table under a header of spec facts."""
from __future__ import annotations

from typing import Any, Sequence

from . import analyze
from .compile import compile_graph
from .limits import check_memory
from .registry import fmt_shape


def summary_text(spec: Any, params: dict[str, Any] | None = None, input_shape: Sequence[int] | None = None, depth: int = 3,
                 variant: str | None = None) -> str:
    """The header (name, input, outputs, parameters, MACs) and torchinfo's table."""
    import torchinfo

    a = analyze(spec, params, input_shape, variant)
    check_memory(a.graph, a.shapes)
    model = compile_graph(a.graph, a.shapes, reorder=False)
    x = (1, *a.graph.input_shape)
    # training mode, so that training-only heads (aux outputs) appear in the table and the totals
    stats = torchinfo.summary(model, input_size=x, depth=depth, mode="train", verbose=0,
                              col_names=("output_size", "num_params", "mult_adds"), row_settings=("var_names",))
    n_params = sum(p.numel() for p in model.parameters())
    outputs = ", ".join(
        f"{name} {fmt_shape(a.shapes[o.node])}" + (" (training only)" if o.training_only else "")
        for name, o in a.graph.outputs.items())
    header = [
        f"spec:       {a.spec.name}" + (f" ({a.spec.source.file})" if a.spec.source.file not in ("<spec>", "<dict>") else ""),
        f"input:      {fmt_shape(a.graph.input_shape)}",
        f"outputs:    {outputs}",
        f"parameters: {n_params:,}",
        f"MACs:       {stats.total_mult_adds:,} per sample",
    ]
    return "\n".join(header) + "\n" + str(stats)
