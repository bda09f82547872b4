"""EfficientNet B0-B7 and V2-S/M/L (specs/efficientnet.yaml) against torchvision: keys and shapes of
every variant, outputs of B0 and V2-S, the per-variant batch-norm, dropout and stochastic-depth
settings, the input sizes, and the init policy (archspec/inits/efficientnet.py) drawing exactly what
torchvision's constructor draws."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torchvision
from torchvision.ops import StochasticDepth

import archspec
from archspec.oracle import compare, meta_mismatch

V1 = [f"efficientnet_b{i}" for i in range(8)]
V2 = ["efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize("name", V1 + V2)
def test_keys_order_and_shapes_equal_torchvision(name: str) -> None:
    assert meta_mismatch(name) is None


@pytest.mark.parametrize("name,train", [("efficientnet_b0", False), ("efficientnet_v2_s", False), ("efficientnet_b0", True)])
def test_outputs_equal_torchvision(name: str, train: bool) -> None:
    """Eval mode; and training mode (batch statistics, stochastic depth and dropout drawn in the same order)."""
    c = compare(name, size=64, train=train)
    assert c.params == c.ref_params
    assert c.max_diff <= 1e-4


@pytest.mark.parametrize("name", ["efficientnet_b5", "efficientnet_v2_s"])
def test_norm_dropout_and_stochastic_depth_settings(name: str) -> None:
    """bn eps/momentum (V1 B0-B4: 1e-5/0.1, B5-B7: 1e-3/0.01, V2: 1e-3/0.1), the classifier's dropout
    and each residual block's stochastic-depth p = 0.2 * block_id / total_blocks, as torchvision."""
    with torch.device("meta"):
        ours = dict(archspec.build(name).named_modules())
        ref = dict(torchvision.models.get_model(name).named_modules())
    for k, m in ref.items():
        if isinstance(m, nn.BatchNorm2d):
            assert (ours[k].eps, ours[k].momentum) == (m.eps, m.momentum), k
        elif isinstance(m, nn.Dropout):
            assert ours[k].p == m.p, k
        elif isinstance(m, StochasticDepth) and ref[k.rpartition(".")[0]].use_res_connect:
            assert (ours[k].p, ours[k].mode, repr(ours[k])) == (m.p, m.mode, repr(m)), k
        elif isinstance(m, StochasticDepth):
            assert k not in ours, k  # torchvision skips it where there is no residual


def test_input_sizes_are_torchvision_crop_sizes() -> None:
    for name in ["efficientnet_b2", "efficientnet_b7", "efficientnet_v2_m"]:
        crop = torchvision.models.get_model_weights(name).DEFAULT.transforms.keywords["crop_size"]
        assert archspec.analyze(name).graph.input_shape == (3, crop, crop)


def test_init_draws_what_torchvision_draws() -> None:
    name = "efficientnet_b0"
    assert archspec.analyze(name).spec.init == "efficientnet"
    torch.manual_seed(0)
    ref = torchvision.models.get_model(name).state_dict()
    torch.manual_seed(0)
    model = archspec.build(name)
    ours = model.state_dict()
    assert list(ours) == list(ref)
    for k in ref:
        assert torch.equal(ours[k], ref[k]), k
    # the closed forms: kaiming-normal fan-out convs (gain sqrt(2)), uniform(+-1/sqrt(out)) linear
    conv = model.get_submodule("features.8.0")
    assert conv.weight.std().item() == pytest.approx((2 / conv.out_channels) ** 0.5, rel=0.05)
    fc = model.get_submodule("classifier.1")
    assert fc.weight.abs().max().item() == pytest.approx(1000 ** -0.5, rel=0.01) and not fc.bias.any()
