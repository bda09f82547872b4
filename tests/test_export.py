"""`archspec export`: every spec's ONNX file in onnxruntime and its TorchScript file match torch (<= 1e-4);
with --uint8 the files take uint8 images and score what the float export scores on images / 255."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from archspec.cli import main
from archspec.export import export
from conftest import SPECS
from test_predict import SPEC as TINY

ort = pytest.importorskip("onnxruntime")
# the seed specs and one model per torchvision family, at a small input where the model allows it
SEEDS = [str(SPECS / f"{n}.yaml") for n in ("googlenet", "lenet", "lenet_cifar", "mnist_inception", "mnist_residual", "resnet18", "resnet50")]
# (AlexNet and VGG are left out: torch's ONNX exporter refuses their adaptive pool at small inputs,
# and at 224 their files are 0.25-0.5 GB; tools/check_export_large.py checks them there)
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


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[str, Path, object]:
    """test_predict's tiny run (conv, relu, linear on 8x8 synthetic images, 2 epochs), trained once for this module."""
    from archspec.train.loop import train

    root = tmp_path_factory.mktemp("uint8")
    (root / "tiny.yaml").write_text(TINY)
    return str(root / "tiny.yaml"), root, train(str(root / "tiny.yaml"), out=root / "run", progress=False)


def onnx_logits(path: Path, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_uint8_onnx_scores_what_the_float_export_scores(trained, capsys) -> None:
    import onnx

    spec, root, run = trained
    ckpt = str(root / "run" / "model.safetensors")
    assert main(["export", spec, "--checkpoint", ckpt, "-o", str(root / "f.onnx")]) == 0
    assert main(["export", spec, "--checkpoint", ckpt, "--uint8", "-o", str(root / "u8.onnx")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("(onnx, dynamic batch, eval mode; input: images in [0, 1], normalised inside)")
    assert lines[1] == f"wrote {root / 'u8.onnx'} (onnx, dynamic batch, eval mode; input: uint8 images in [0, 255], normalised inside)"
    images, y = run.data.test.x, run.data.test.y.numpy()  # uint8 (N, 1, 8, 8), as decoded
    assert images.dtype == torch.uint8
    ref = onnx_logits(root / "f.onnx", images.float().div(255).numpy())
    got = onnx_logits(root / "u8.onnx", images.numpy())
    acc = [float((logits.argmax(1) == y).mean()) for logits in (ref, got)]
    assert acc[0] == acc[1] == pytest.approx(run.history[-1]["test_acc"], abs=1e-4)
    assert np.abs(got - ref).max() <= 1e-4 * max(1.0, float(np.abs(ref).max()))
    m = onnx.load(str(root / "u8.onnx"))
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    meta = {p.key: p.value for p in m.metadata_props}
    assert meta["input"] == "uint8 images in [0, 255], normalised inside, (B, C, H, W)"
    assert json.loads(meta["input_dtype"]) == "uint8" and json.loads(meta["input_range"]) == [0, 255]
    assert json.loads(meta["mean"]) == pytest.approx(run.data.mean.tolist())
    float_meta = {p.key: p.value for p in onnx.load(str(root / "f.onnx")).metadata_props}
    assert json.loads(float_meta["input_dtype"]) == "float32" and json.loads(float_meta["input_range"]) == [0, 1]


def test_uint8_torchscript_takes_uint8_and_matches(trained, tmp_path: Path) -> None:
    spec, root, run = trained
    ckpt = root / "run" / "model.safetensors"
    export(spec, tmp_path / "f.pt", "torchscript", checkpoint=ckpt)
    export(spec, tmp_path / "u8.pt", "torchscript", checkpoint=ckpt, uint8=True)
    extra = {"archspec.json": ""}
    u8 = torch.jit.load(str(tmp_path / "u8.pt"), _extra_files=extra)
    images = run.data.test.x[:16]
    with torch.no_grad():
        ref, got = torch.jit.load(str(tmp_path / "f.pt"))(images.float() / 255), u8(images)
    assert torch.equal(got.argmax(1), ref.argmax(1)) and (got - ref).abs().max() <= 1e-4 * max(1.0, float(ref.abs().max()))
    assert json.loads(json.loads(extra["archspec.json"])["input_dtype"]) == "uint8"
    with pytest.raises(Exception, match=r"takes uint8 images in \[0, 255\]"):  # a float image would pass as near-black
        u8(images.float() / 255)


def test_uint8_without_normalisation_still_divides_by_255(write_spec, tmp_path: Path, capsys) -> None:
    spec = write_spec("input: [1, 8, 8]\nnetwork:\n  - flatten\n  - fc: {type: linear, out_features: 3}\n")
    assert main(["export", spec, "--uint8", "-o", str(tmp_path / "m.onnx")]) == 0
    assert capsys.readouterr().out.endswith("input: uint8 images in [0, 255], scaled to [0, 1] inside, no normalisation)\n")
    torch.manual_seed(0)
    net = export(spec, tmp_path / "m.onnx", "onnx", uint8=True)  # again, to hold the exported module
    images = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    with torch.no_grad():
        ref = net.net(images.float() / 255).numpy()  # the bare network on [0, 1]: no normalisation in between
    assert np.abs(onnx_logits(tmp_path / "m.onnx", images.numpy()) - ref).max() <= 1e-5
    assert main(["export", spec, "-o", str(tmp_path / "f.onnx")]) == 0
    assert "input: the network's input as trained, no preprocessing inside)" in capsys.readouterr().out


def test_uint8_needs_an_image_input(write_spec, tmp_path: Path, capsys) -> None:
    spec = write_spec("input: [16]\nnetwork:\n  - fc: {type: linear, out_features: 3}\n")
    assert main(["export", spec, "--uint8", "-o", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err == "error: --uint8 needs an image input (C, H, W); the spec's input is (16,)\n"
    assert not (tmp_path / "m.onnx").exists()
