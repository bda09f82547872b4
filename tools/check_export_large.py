"""ONNX and TorchScript export of the families the test suite leaves out: AlexNet and VGG (and any
model named on the command line), at their 224 px input, where their adaptive pools are fixed pools
that torch's ONNX exporter accepts. Their files are 0.25-0.5 GB, too large for CI, so the check lives
here: each model's ONNX in onnxruntime and its TorchScript against the torch module, batch-norm
statistics randomised first, max abs difference relative to the output scale.

    python tools/check_export_large.py                 # alexnet, vgg11, vgg11_bn
    python tools/check_export_large.py vgg16_bn
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import archspec
from archspec.export import export
from archspec.oracle import randomize_stats

TOL = 1e-4


def check(name: str, folder: Path) -> bool:
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = archspec.build(name)
    randomize_stats(model)
    weights = folder / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    t0 = time.perf_counter()
    export(name, folder / f"{name}.onnx", "onnx", checkpoint=weights)
    export(name, folder / f"{name}.pt", "torchscript", checkpoint=weights)
    x = torch.randn(2, *archspec.analyze(name).graph.input_shape)
    with torch.no_grad():
        ref = model.eval()(x).numpy()
        ts = torch.jit.load(str(folder / f"{name}.pt"))(x).numpy()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as exported, not ORT's fusions
    sess = ort.InferenceSession(str(folder / f"{name}.onnx"), opts, providers=["CPUExecutionProvider"])
    onnx_out = sess.run(None, {"x": x.numpy()})[0]
    scale = max(1.0, float(np.abs(ref).max()))
    onnx_diff, ts_diff = float(np.abs(onnx_out - ref).max()), float(np.abs(ts - ref).max())
    ok = onnx_diff <= TOL * scale and ts_diff <= TOL * scale
    size = (folder / f"{name}.onnx").stat().st_size / 2**20
    print(f"{name:<12} onnx {size:6.0f} MiB  max diff onnx {onnx_diff:.1e}  torchscript {ts_diff:.1e}  "
          f"(output scale {scale:.1e}, {time.perf_counter() - t0:.0f} s)  {'ok' if ok else 'MISMATCH'}", flush=True)
    for f in folder.iterdir():
        f.unlink()  # half a gigabyte each: do not keep two models' files at once
    return ok


def main() -> int:
    names = sys.argv[1:] or ["alexnet", "vgg11", "vgg11_bn"]
    with tempfile.TemporaryDirectory() as d:
        bad = sum(not check(n, Path(d)) for n in names)
    print(f"{len(names) - bad} of {len(names)} match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
