"""MobileNetV2, MobileNetV3 (Large, Small) and MNASNet specs against torchvision's modules.

Every variant has torchvision's state_dict keys, order and shapes (meta device); the smallest of each
spec loads torchvision's weights strictly and gives its outputs; the init policies start where
torchvision's constructors start."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

import archspec
from archspec.oracle import compare, meta_mismatch, torchvision_model

VARIANTS = ["mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
            "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]
PARAMS = {"mobilenet_v2": 3_504_872, "mobilenet_v3_small": 2_542_856, "mnasnet0_5": 2_218_512}


@pytest.mark.parametrize("name", VARIANTS)
def test_keys_and_shapes(name: str) -> None:
    assert meta_mismatch(name) is None


@pytest.mark.parametrize("name,params", [("mobilenet_v2", {"width_mult": 0.5}), ("mobilenet_v3_large", {"width_mult": 0.75}),
                                         ("mobilenet_v3_small", {"width_mult": 1.25, "num_classes": 10})])
def test_width_mult(name: str, params: dict) -> None:
    assert meta_mismatch(name, **params) is None


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_outputs_match_torchvision(name: str) -> None:
    c = compare(name, size=32)
    assert c.params == c.ref_params == PARAMS[name]
    assert c.max_diff <= 1e-4


def layer_attrs(m: nn.Module) -> list:
    """What the state_dict leaves out: activations, batch norm eps and momentum, dropout p, in order."""
    kinds = (nn.BatchNorm2d, nn.Dropout, nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid)
    return [(type(x).__name__, getattr(x, "eps", None), getattr(x, "momentum", None), getattr(x, "p", None))
            for x in m.modules() if isinstance(x, kinds)]


def check_closed_form(m: nn.Module, linear_std: float | None) -> None:
    """Per-layer statistics against the closed form: convs N(0, 2 / fan_out) (the large ones), zero biases,
    batch norm 1 / 0; linear N(0, linear_std), or U(+-sqrt(3 / fan_out)) (kaiming-uniform, sigmoid's gain 1)."""
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            w = mod.weight
            if w.numel() >= 20_000:
                assert abs(w.std().item() / math.sqrt(2 / (w.shape[0] * w.shape[2] * w.shape[3])) - 1) < 0.03
            assert mod.bias is None or torch.all(mod.bias == 0)
        elif isinstance(mod, nn.BatchNorm2d):
            assert torch.all(mod.weight == 1) and torch.all(mod.bias == 0)
        elif isinstance(mod, nn.Linear):
            assert torch.all(mod.bias == 0)
            w = mod.weight
            if linear_std is None:
                bound = math.sqrt(3 / w.shape[0])
                assert 0.99 * bound < w.abs().max().item() <= bound
                assert abs(w.std().item() / (bound / math.sqrt(3)) - 1) < 0.02
            else:
                assert abs(w.std().item() / linear_std - 1) < 0.02


@pytest.mark.parametrize("name,linear_std", [("mobilenet_v2", 0.01), ("mobilenet_v3_small", 0.01), ("mnasnet0_5", None)])
def test_init_and_layers_are_torchvisions(name: str, linear_std: float | None) -> None:
    """Same seed, same modules built in the same order: the init policy gives torchvision's weights bit
    for bit; the layers the state_dict does not show (eps, momentum: MNASNet's 1 - 0.9997, V3's 0.01;
    dropout; activations) match too."""
    torch.manual_seed(0)
    ref = torchvision_model(name)
    torch.manual_seed(0)
    ours = archspec.build(name)
    a, b = ours.state_dict(), ref.state_dict()
    assert list(a) == list(b)
    for k in b:
        assert torch.equal(a[k], b[k]), k
    assert layer_attrs(ours) == layer_attrs(ref)
    check_closed_form(ours, linear_std)
