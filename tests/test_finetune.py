"""Fine-tuning: --weights loads what matches (torchvision's resnet18 state_dict) and says what it skipped;
train.freeze keeps named blocks, their batch-norm statistics included, unchanged."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from archspec.errors import SpecError
from archspec.train import checkpoint as ckpt
from archspec.train.finetune import load_weights
from archspec.train.loop import train
from conftest import SPECS


@pytest.fixture
def setup_files(tmp_path: Path, write_spec) -> tuple[str, Path, dict[str, torch.Tensor]]:
    """resnet18 at 32x32, torchvision's (random) resnet18 weights saved as a .pth, a 2-class ImageFolder."""
    import torchvision
    from PIL import Image

    torch.manual_seed(0)
    tv = torchvision.models.resnet18().state_dict()
    torch.save(tv, tmp_path / "r18.pth")
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("ants", "bees"):
            (tmp_path / "imgs" / split / cls).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "imgs" / split / cls / f"{i}.png")
    spec = write_spec((SPECS / "resnet18.yaml").read_text().replace("input: [3, 224, 224]", "input: [3, 32, 32]"), "r18.yaml")
    return spec, tmp_path, tv


def test_finetune_torchvision_weights_with_frozen_blocks(setup_files, capsys) -> None:
    spec, root, tv = setup_files
    overrides = {"dataset": "imagefolder", "data_dir": str(root / "imgs"), "epochs": 1, "batch_size": 4, "workers": 0,
                 "freeze": ["layer1", "layer2"], "lr": 0.1}
    run = train(spec, {"num_classes": 2}, overrides, out=root / "run", progress=False, weights=root / "r18.pth")
    out = capsys.readouterr().out
    assert (f"weights from {root / 'r18.pth'}: 120 tensors loaded, 2 skipped, 0 in the file not used\n"
            "  skipped fc.weight: shape (1000, 512) in the file, (2, 512) in the network\n"
            "  skipped fc.bias: shape (1000,) in the file, (2,) in the network\n") in out
    trained = ckpt.load(root / "run" / "checkpoint.pt")["model"]
    frozen = [k for k in tv if k.startswith(("layer1.", "layer2."))]
    assert len(frozen) == 54 and any(k.endswith("running_mean") for k in frozen)
    assert all(torch.equal(trained[k], tv[k]) for k in frozen)  # weights and BN statistics unchanged
    assert not torch.equal(trained["layer3.0.conv1.weight"], tv["layer3.0.conv1.weight"])  # the rest trained
    assert not torch.equal(trained["bn1.running_mean"], tv["bn1.running_mean"])
    assert run.history[0]["epoch"] == 1 and ckpt.load(root / "run" / "checkpoint.pt")["record"]["weights"] == str(root / "r18.pth")


def test_weights_from_an_archspec_checkpoint_and_a_wrong_freeze_name(setup_files, tmp_path: Path) -> None:
    spec, root, _ = setup_files
    import archspec

    model = archspec.build(spec, num_classes=2)
    ckpt.save(tmp_path / "ck.pt", {"model": model.state_dict()})
    report = load_weights(archspec.build(spec, num_classes=2), tmp_path / "ck.pt", log=None)
    assert len(report.loaded) == 122 and report.skipped == [] and report.unused == []
    with pytest.raises(SpecError, match=r"^freeze names block 'layer5', which the network does not have; did you mean 'layer4'\?$"):
        train(spec, {"num_classes": 2}, {"dataset": "imagefolder", "data_dir": str(root / "imgs"), "freeze": ["layer5"]},
              out=root / "bad", progress=False)
