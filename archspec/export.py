"""`archspec export`: the eval-mode network (training-only outputs left out) as ONNX or TorchScript,
with a dynamic batch dimension."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional

import torch

from . import analyze
from .compile import compile_graph
from .limits import check_memory
from .errors import SpecError

FORMATS = ("onnx", "torchscript")


def export(spec: Any, out: Path, fmt: str, checkpoint: Optional[Path] = None, params: dict[str, Any] | None = None,
           variant: str | None = None, input_shape: list[int] | None = None) -> torch.nn.Module:
    """Write the network to `out`; returns the eval-mode module that was exported."""
    if fmt not in FORMATS:
        raise SpecError(f"unknown export format '{fmt}'; use one of: {', '.join(FORMATS)}", code="cli")
    a = analyze(spec, params, input_shape, variant=variant)
    check_memory(a.graph, a.shapes)
    model = compile_graph(a.graph, a.shapes).eval()
    if checkpoint is not None:
        from .train.checkpoint import CheckpointError, load

        try:
            model.load_state_dict(load(checkpoint)["model"], strict=True)
        except RuntimeError as e:
            raise CheckpointError(f"{checkpoint} does not fit {a.spec.name}: {str(e).splitlines()[0]}") from None
    x = torch.zeros(2, *a.graph.input_shape)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torchscript":
        torch.jit.script(model).save(str(out))
        return model
    names = model.output_names[False]
    with warnings.catch_warnings():
        # the TorchScript-based exporter: a second per network, where torch.export's takes ten or more
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (x,), str(out), input_names=["x"], output_names=names, dynamo=False,
                          dynamic_axes={"x": {0: "batch"}, **{n: {0: "batch"} for n in names}})
    return model
