"""The classic CNNs (specs/alexnet.yaml, vgg.yaml, squeezenet.yaml) against torchvision: keys and
shapes of every variant, outputs of the smallest at torchvision's minimum input size, and the init
policies (archspec/inits/classic.py) drawing exactly what torchvision's constructors draw."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torchvision

import archspec
from archspec.oracle import compare, meta_mismatch

VGG = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
MODELS = ["alexnet", *VGG, "squeezenet1_0", "squeezenet1_1"]


@pytest.mark.parametrize("name", MODELS)
def test_keys_order_and_shapes_equal_torchvision(name: str) -> None:
    assert meta_mismatch(name) is None


@pytest.mark.parametrize("name", ["alexnet", "vgg11", "squeezenet1_1"])
def test_outputs_equal_torchvision_at_the_minimum_size(name: str) -> None:
    size = torchvision.models.get_model_weights(name).DEFAULT.meta["min_size"][0]  # 63, 32, 17
    c = compare(name, size=size + 1)
    assert c.params == c.ref_params
    assert c.max_diff <= 1e-4


def seeded(name: str) -> tuple[nn.Module, nn.Module]:
    """(archspec's, torchvision's) model, each built right after torch.manual_seed(0): the same draws
    when the modules are built in the same order and the policy is torchvision's."""
    torch.manual_seed(0)
    ref = torchvision.models.get_model(name)
    torch.manual_seed(0)
    return archspec.build(name), ref


def test_alexnet_keeps_pytorch_defaults() -> None:
    assert archspec.analyze("alexnet").spec.init == "torch"


def test_squeezenet_init_draws_exactly_what_torchvision_draws() -> None:
    assert archspec.analyze("squeezenet1_0").spec.init == "squeezenet"
    ours, ref = seeded("squeezenet1_0")
    a, b = ours.state_dict(), ref.state_dict()
    assert a.keys() == b.keys()
    for k in b:
        assert torch.equal(a[k], b[k]), k
    check_closed_form(ours, "squeezenet")


def test_vgg_init_closed_form() -> None:
    # narrow convs keep the classifier's first linear small (3136 x 4096 instead of 25088 x 4096)
    assert archspec.analyze("vgg11").spec.init == "vgg"
    torch.manual_seed(0)
    check_closed_form(archspec.build("vgg11", widths=[64, 64, 64, 64, 64]), "vgg")


def check_closed_form(model: nn.Module, policy: str) -> None:
    """The policy's distributions, independent of the draw order: VGG's kaiming-normal fan-out convs
    and normal(0, 0.01) linears; SqueezeNet's kaiming-uniform convs and normal(0, 0.01) final conv."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(not m.bias.any() for m in convs)
    if policy == "vgg":
        for m in convs:
            assert m.weight.std().item() == pytest.approx((2 / (m.out_channels * 9)) ** 0.5, rel=0.06)
        for m in model.modules():
            if isinstance(m, nn.Linear):
                assert m.weight.std().item() == pytest.approx(0.01, rel=0.02) and not m.bias.any()
    else:
        for m in convs[:-1]:
            bound = (6 / m.weight[0].numel()) ** 0.5  # kaiming_uniform_(a=0): gain sqrt(2), fan_in
            assert 0.9 * bound < m.weight.abs().max().item() <= bound
            assert m.weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.06)
        assert convs[-1].weight.std().item() == pytest.approx(0.01, rel=0.02)
