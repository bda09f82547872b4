"""A trained model carries its preprocessing: ONNX on raw [0, 1] images scores what `archspec eval` scores,
and `archspec predict` applies the run's preprocessing to image files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from archspec.cli import main
from archspec.predict import predict
from archspec.train.loop import train

ort = pytest.importorskip("onnxruntime")

SPEC = """
name: tiny
input: [1, 8, 8]
network:
  - conv1: {type: conv, out_channels: 4, kernel_size: 3, padding: 1}
  - relu
  - flatten
  - fc: {type: linear, out_features: 4}
train: {dataset: synthetic, synthetic_size: 256, epochs: 2, batch_size: 32, optimizer: adam, lr: 0.01, download: false}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[str, Path, object]:
    root = tmp_path_factory.mktemp("predict")
    spec = root / "tiny.yaml"
    spec.write_text(SPEC)
    run = train(str(spec), out=root / "run", progress=False)
    return str(spec), root, run


def test_onnx_on_raw_images_scores_what_eval_scores(trained, capsys) -> None:
    spec, root, run = trained
    ckpt = root / "run" / "model.safetensors"
    assert main(["export", spec, "--checkpoint", str(ckpt), "-o", str(root / "m.onnx")]) == 0
    assert "input: images in [0, 1], normalised inside" in capsys.readouterr().out
    assert main(["eval", spec, str(ckpt)]) == 0
    eval_acc = float(capsys.readouterr().out.split()[2].rstrip("%"))
    sess = ort.InferenceSession(str(root / "m.onnx"), providers=["CPUExecutionProvider"])
    x = run.data.test.x.float().div(255).numpy()  # raw images in [0, 1]: no normalisation outside the graph
    pred = sess.run(None, {"x": x})[0].argmax(1)
    onnx_acc = 100 * float((pred == run.data.test.y.numpy()).mean())
    print(f"onnxruntime {onnx_acc:.2f}% vs archspec eval {eval_acc:.2f}% on {len(x)} test images")
    assert abs(onnx_acc - eval_acc) < 0.01 and onnx_acc == pytest.approx(100 * run.history[-1]["test_acc"], abs=0.01)
    meta = {p.key: p.value for p in __import__("onnx").load(str(root / "m.onnx")).metadata_props}
    assert json.loads(meta["classes"]) == ["0", "1", "2", "3"] and meta["input"].startswith("images in [0, 1]")
    assert json.loads(meta["mean"]) == pytest.approx(run.data.mean.tolist())


def save_png(path: Path, img: torch.Tensor, size: int | None = None) -> None:
    from PIL import Image

    im = Image.fromarray(img[0].numpy(), mode="L")
    (im.resize((size, size), Image.NEAREST) if size else im).save(path)


def test_predict_uses_the_runs_preprocessing(trained, tmp_path: Path) -> None:
    spec, root, run = trained
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        save_png(folder / f"{i}.png", run.data.test.x[i])
    with torch.no_grad():
        x = (run.data.test.x[:3].float() / 255 - run.data.mean.view(1, -1, 1, 1)) / run.data.std.view(1, -1, 1, 1)
        probs = run.model.eval()(x).softmax(1)
    preds = predict(spec, root / "run" / "checkpoint.pt", [folder], top=2)
    assert [Path(p.file).name for p in preds] == ["0.png", "1.png", "2.png"]
    for p, row in zip(preds, probs):
        top = row.topk(2)
        assert [c for c, _ in p.top] == [str(i) for i in top.indices.tolist()]
        assert [q for _, q in p.top] == pytest.approx(top.values.tolist(), abs=1e-5)


def test_predict_cli_resizes_and_prints_json(trained, tmp_path: Path, capsys) -> None:
    spec, root, run = trained
    save_png(tmp_path / "big.png", run.data.test.x[0], size=16)  # twice the spec's 8x8
    assert main(["predict", spec, str(root / "run" / "model.safetensors"), str(tmp_path / "big.png"), "--top", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["file"] for o in out] == [str(tmp_path / "big.png")] and len(out[0]["top"]) == 3
    probs = [t["probability"] for t in out[0]["top"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert main(["predict", spec, str(root / "run" / "model.safetensors"), str(tmp_path / "nothing.png")]) == 2
    assert capsys.readouterr().err == f"error: no such image or folder: {tmp_path / 'nothing.png'}\n"
