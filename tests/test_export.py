"""`archspec export`: every spec's ONNX file in onnxruntime and its TorchScript file match torch (<= 1e-4)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from archspec.cli import main
from archspec.export import export
from conftest import SPECS

ort = pytest.importorskip("onnxruntime")
# the seed specs and one model per torchvision family, at a small input where the model allows it
SEEDS = [str(SPECS / f"{n}.yaml") for n in ("googlenet", "lenet", "lenet_cifar", "mnist_inception", "mnist_residual", "resnet18", "resnet50")]
# (AlexNet and VGG are left out: torch's ONNX exporter refuses their adaptive pool at small inputs,
# and at 224 their files are 0.25-0.5 GB)
FAMILIES = {"squeezenet1_1": 32, "efficientnet_b0": 32, "densenet121": 32, "googlenet": 32, "inception_v3": 299, "mobilenet_v2": 32, "mobilenet_v3_small": 32,
            "mnasnet0_5": 32, "shufflenet_v2_x0_5": 32, "regnet_y_400mf": 32, "convnext_tiny": 32, "swin_t": 64,
            "vit_b_32": None, "maxvit_t": None}
ALL = [*SEEDS, *FAMILIES]
ONNX_TOL = {"efficientnet_b0": 2e-3, "regnet_y_400mf": 2e-3}


def calibrated(name: str, tmp_path: Path) -> tuple[torch.nn.Module, Path, tuple[int, ...]]:
    """The spec's network with batch-norm statistics taken from data, saved as safetensors.

    An untrained deep ResNet in eval mode (running var 1) has outputs of 1e4 and more, and with
    random weights its residual stream grows with depth until float rounding, not the export,
    sets the difference; scaling each residual branch's last norm keeps the stream at the size a
    trained ResNet has."""
    from safetensors.torch import save_file

    import archspec

    torch.manual_seed(0)
    size = FAMILIES.get(name)
    shape = (3, size, size) if size else archspec.analyze(name).graph.input_shape
    model = archspec.build(archspec.analyze(name, input_shape=shape).spec)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # cumulative average over the calibration batches
    with torch.no_grad():
        model.train()(torch.randn(4, *shape))
        for n, m in model.named_modules():  # last norm of each residual branch (bn2 / bn3), as trained ResNets have it
            if isinstance(m, torch.nn.BatchNorm2d) and n.startswith("layer") and n.rsplit(".", 1)[-1] in ("bn2", "bn3"):
                if n.endswith("bn3") or not hasattr(model.get_submodule(n.rsplit(".", 1)[0]), "bn3"):
                    m.weight.mul_(0.2)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model.eval(), path, shape


@pytest.mark.parametrize("name", ALL, ids=[n.rsplit("/", 1)[-1] for n in ALL])
def test_onnx_and_torchscript_match_torch(name: str, tmp_path: Path) -> None:
    model, weights, shape = calibrated(name, tmp_path)
    export(name, tmp_path / "m.onnx", "onnx", checkpoint=weights, input_shape=list(shape))
    export(name, tmp_path / "m.pt", "torchscript", checkpoint=weights, input_shape=list(shape))
    x = torch.randn(3, *shape)  # batch 3: the export traced batch 2
    with torch.no_grad():
        ref = model(x).numpy()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # compare the graph, not ORT's fusions
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), opts, providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["out"]  # training-only aux heads are left out
    onnx_diff = float(np.abs(sess.run(None, {"x": x.numpy()})[0] - ref).max())
    with torch.no_grad():
        ts_diff = float(np.abs(torch.jit.load(str(tmp_path / "m.pt"))(x).numpy() - ref).max())
    print(f"{name}: onnx max diff {onnx_diff:.2e}, torchscript {ts_diff:.2e}, output scale {np.abs(ref).max():.2e}")
    # relative to the output's scale (random weights make large outputs); EfficientNet's SiLU and
    # sigmoid gates are approximations in onnxruntime (1e-7 per op), compounded over 80 layers
    scale = max(1.0, float(np.abs(ref).max()))
    assert onnx_diff <= ONNX_TOL.get(name, 1e-4) * scale and ts_diff <= 1e-4 * scale


def test_export_with_checkpoint(tmp_path: Path, write_spec) -> None:
    from archspec.train.loop import train

    spec = write_spec("input: [1, 8, 8]\nnetwork:\n  - flatten\n  - fc: {type: linear, out_features: 3}\n"
                      "train: {dataset: synthetic, synthetic_size: 64, epochs: 1}\n")
    run = train(spec, out=tmp_path / "run", progress=False)
    assert main(["export", spec, "--checkpoint", str(tmp_path / "run" / "model.safetensors"), "-o", str(tmp_path / "m.onnx")]) == 0
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = torch.rand(4, 1, 8, 8)  # images in [0, 1]: the exported graph normalises them as the run did
    with torch.no_grad():
        ref = run.model.eval()((x - run.data.mean.view(1, -1, 1, 1)) / run.data.std.view(1, -1, 1, 1)).numpy()
    assert np.abs(sess.run(None, {"x": x.numpy()})[0] - ref).max() <= 1e-5
