"""`archspec export`: the eval-mode network (training-only outputs left out) as ONNX or TorchScript,
with a dynamic batch dimension.

Weights from an archspec run carry their preprocessing: the exported graph then takes images in
[0, 1] and normalises them itself with the training set's mean and std, and the class names go into
the file's metadata, so a user of the file needs nothing from the run. With `uint8=True` the graph
takes uint8 images in [0, 255] and divides by 255 itself (normalisation or not), as decoders give them."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Optional

import torch

from . import analyze
from .compile import compile_graph
from .limits import check_memory
from .errors import SpecError
from .errors import first_line

FORMATS = ("onnx", "torchscript")


class Normalized(torch.nn.Module):
    """(x - mean) / std per channel, then the network: the run's preprocessing inside the exported graph."""

    def __init__(self, net: torch.nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))  # (1, C, 1, 1): images only
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


class FromUint8(torch.nn.Module):
    """uint8 images in [0, 255] -> float in [0, 1], then the network: decoded images go in as they are."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8:  # images in [0, 1] would pass as near-black ones; ONNX checks this itself
            raise TypeError("this network takes uint8 images in [0, 255] (exported with --uint8)")
        return self.net(x.to(torch.float32) / 255.0)


def preprocess(model: torch.nn.Module, rec: dict[str, Any], input_shape: tuple[int, ...], uint8: bool) -> torch.nn.Module:
    """The model with the preprocessing the export puts in front of it: normalisation (if the run has it), /255 (uint8)."""
    if uint8 and len(input_shape) != 3:
        raise SpecError(f"--uint8 needs an image input (C, H, W); the spec's input is {tuple(input_shape)}", code="cli")
    net = model
    if rec.get("mean") is not None and len(input_shape) == 3:
        net = Normalized(net, rec["mean"], rec["std"])
    return (FromUint8(net) if uint8 else net).eval()


def describe_input(net: torch.nn.Module) -> str:
    """The input convention of an exported module, for the printed line and the metadata."""
    uint8 = isinstance(net, FromUint8)
    normalized = isinstance(net.net if uint8 else net, Normalized)
    if uint8:
        return "uint8 images in [0, 255], " + ("normalised inside" if normalized else "scaled to [0, 1] inside, no normalisation")
    return "images in [0, 1], normalised inside" if normalized else "the network's input as trained, no preprocessing inside"


def export(spec: Any, out: Path, fmt: str, checkpoint: Optional[Path] = None, params: dict[str, Any] | None = None,
           variant: str | None = None, input_shape: list[int] | None = None, uint8: bool = False) -> torch.nn.Module:
    """Write the network to `out`; returns the eval-mode module that was exported (with its preprocessing, if any)."""
    if fmt not in FORMATS:
        raise SpecError(f"unknown export format '{fmt}'; use one of: {', '.join(FORMATS)}", code="cli")
    state = load_checkpoint(checkpoint) if checkpoint is not None else {}
    rec = state.get("record") or {}
    a = analyze(spec, {**rec.get("params", {}), **(params or {})}, input_shape, variant=variant or rec.get("variant"))
    check_memory(a.graph, a.shapes)
    model = compile_graph(a.graph, a.shapes).eval()
    if checkpoint is not None:
        from .train.checkpoint import CheckpointError

        try:
            model.load_state_dict(state["model"], strict=True)
        except RuntimeError as e:
            raise CheckpointError(f"{checkpoint} does not fit {a.spec.name}: {first_line(e)}") from None
    names = model.output_names[False]
    net = preprocess(model, rec, a.graph.input_shape, uint8)
    meta = metadata(rec, net)
    x = torch.zeros(2, *a.graph.input_shape, dtype=torch.uint8 if uint8 else torch.float32)  # the traced input's dtype is the file's
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torchscript":
        torch.jit.script(net).save(str(out), _extra_files={"archspec.json": json.dumps(meta)})
        return net
    with warnings.catch_warnings():
        # the TorchScript-based exporter: a second per network, where torch.export's takes ten or more
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (x,), str(out), input_names=["x"], output_names=names, dynamo=False,
                          dynamic_axes={"x": {0: "batch"}, **{n: {0: "batch"} for n in names}})
    add_onnx_metadata(out, meta)
    return net


def load_checkpoint(path: Path) -> dict[str, Any]:
    from .train.checkpoint import load

    return load(path)


def metadata(rec: dict[str, Any], net: torch.nn.Module) -> dict[str, str]:
    """What a user of the exported file needs: the input it expects and the class of each output index.

    `input` is for people; `input_dtype` and `input_range` (JSON, like the other values) for programs."""
    uint8 = isinstance(net, FromUint8)
    meta = {"input": describe_input(net), "input_dtype": json.dumps("uint8" if uint8 else "float32")}
    if uint8 or isinstance(net, Normalized):  # image preprocessing inside; otherwise the range is the network's own
        meta["input"] += ", (B, C, H, W)"
        meta["input_range"] = json.dumps([0, 255] if uint8 else [0, 1])
    for key in ("classes", "input_shape", "mean", "std", "spec_name", "variant"):
        if rec.get(key) is not None:
            meta[key] = json.dumps(rec[key])
    return meta


def add_onnx_metadata(path: Path, meta: dict[str, str]) -> None:
    import onnx

    m = onnx.load(str(path))
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(path))
