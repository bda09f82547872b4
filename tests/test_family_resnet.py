"""The ResNet family: every torchvision ResNet/ResNeXt/Wide ResNet by name, and the per-model files,
with torchvision's keys, order and shapes (meta device: nothing allocated)."""
from __future__ import annotations

import pytest

import archspec
from archspec.oracle import meta_mismatch
from conftest import spec_path

NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
         "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"]


@pytest.mark.parametrize("name", NAMES)
def test_keys_and_shapes(name: str) -> None:
    assert meta_mismatch(name) is None


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnext50_32x4d", "resnext101_32x8d"])
def test_single_files_equal_the_family_variants(name: str) -> None:
    one = archspec.analyze(spec_path(name))
    family = archspec.analyze(spec_path("resnet"), variant=name)
    assert [(n.path, n.type, s) for n, s in zip(one.graph.nodes, one.shapes)] == \
        [(n.path, n.type, s) for n, s in zip(family.graph.nodes, family.shapes)]
