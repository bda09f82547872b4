"""One spec, a family: variants, block types chosen by a parameter, and `archspec diff`."""
from __future__ import annotations

import pytest
import torch
import torchvision

import archspec
from archspec.cli import main
from archspec.errors import SpecError
from conftest import SPECS

FAMILY = SPECS / "resnet.yaml"
VARIANTS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_has_torchvision_keys_and_shapes(variant: str) -> None:
    with torch.device("meta"):
        ours = archspec.build(FAMILY, variant=variant).state_dict()
        ref = getattr(torchvision.models, variant)().state_dict()
    assert [(k, v.shape) for k, v in ours.items()] == [(k, v.shape) for k, v in ref.items()]


def test_variant_outputs_match_torchvision() -> None:
    torch.manual_seed(0)
    ref = torchvision.models.resnet34().eval()
    m = archspec.build(FAMILY, variant="resnet34").eval()
    m.load_state_dict(ref.state_dict(), strict=True)
    assert type(m).__name__ == "resnet34"
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (m(x) - ref(x)).abs().max().item() <= 1e-5


def test_variant_and_parameter_overrides_combine() -> None:
    a = archspec.analyze(FAMILY, {"num_classes": 7}, variant="resnet18")
    assert a.spec.name == "resnet18" and a.shapes[a.graph.outputs["out"].node] == (7,)


def test_unknown_variant(capsys) -> None:
    with pytest.raises(SpecError, match=r"resnet.yaml:\d+:1: unknown variant 'resnet51'; did you mean 'resnet50'\?"):
        archspec.build(FAMILY, variant="resnet51")
    with pytest.raises(SpecError, match=r"unknown variant 'x'; this spec defines no variants"):
        archspec.build(SPECS / "lenet.yaml", variant="x")


def test_block_type_from_a_parameter_suggests(write_spec) -> None:
    path = write_spec("params: {block: Basic}\ninput: [3, 8, 8]\nblocks:\n  BasicBlock:\n    body: [relu]\n"
                      "network:\n  - b: {type: \"${block}\"}\n")
    with pytest.raises(SpecError) as e:
        archspec.build(path)
    assert e.value.headline() == f"{path}:7:15: network.b (Basic): unknown block 'Basic'; did you mean 'BasicBlock'?"


def test_diff_of_two_variants(capsys) -> None:
    assert main(["diff", str(FAMILY), "--variant", "resnet50", "--variant", "resnext50_32x4d"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("resnet50 -> resnext50_32x4d: 112 of 176 blocks differ; parameters 25,557,032 -> 25,028,904 (-528,128); MACs 4,089,184,256 -> ")
    row = next(ln for ln in out if "network.layer1[0].conv2 " in ln)
    assert "(B, 64, 56, 56) -> (B, 128, 56, 56)" in row and "36,864 -> 4,608" in row


def test_diff_of_two_files_and_identical(capsys) -> None:
    assert main(["diff", str(SPECS / "resnet18.yaml"), str(FAMILY), "--variant", "resnet18"]) == 0
    assert capsys.readouterr().out.startswith("resnet18 -> resnet18: 0 of 70 blocks differ")  # the thin file is the variant
    assert main(["diff", str(SPECS / "resnet50.yaml"), str(SPECS / "resnet50.yaml")]) == 0
    assert capsys.readouterr().out.strip() == "resnet50 -> resnet50: 0 of 176 blocks differ; parameters 25,557,032 -> 25,557,032 (+0); MACs 4,089,184,256 -> 4,089,184,256 (+0)"
