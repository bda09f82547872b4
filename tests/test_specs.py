"""Every shipped spec: exact parameter counts, and equality with its oracle (seed class or torchvision)."""
from __future__ import annotations

import pytest
import torch
import torchvision

import archspec
import seeds
from conftest import SPECS, spec_path

# counts from ../shared/reference.md (the seeds and torchvision)
COUNTS = [
    ("lenet", {}, 44_426),
    ("lenet_cifar", {}, 121_182),
    ("lenet_cifar", {"num_classes": 2}, 120_502),
    ("mnist_inception", {}, 97_298),
    ("mnist_residual", {}, 41_514),
    ("googlenet", {}, 13_389_064),
    ("googlenet", {"aux_logits": False}, 7_008_824),
    ("resnet18", {}, 11_689_512),
    ("resnet34", {}, 21_797_672),
    ("resnet50", {}, 25_557_032),
    ("resnet101", {}, 44_549_160),
    ("resnext50_32x4d", {}, 25_028_904),
    ("resnext101_32x8d", {}, 88_791_336),
    ("resnet", {}, 25_557_032),  # the family spec; its defaults are resnet50 (tests/test_variants.py has the rest)
    # family specs at their defaults, torchvision's counts (tests/test_family_*.py check every variant)
    ("alexnet", {}, 61_100_840),
    ("vgg", {}, 138_357_544),  # vgg16
    ("squeezenet", {}, 1_248_424),  # squeezenet1_0
    ("shufflenet_v2", {}, 2_278_604),  # x1_0
    ("regnet", {}, 4_344_144),  # regnet_y_400mf
    ("vit", {}, 86_567_656),  # vit_b_16
    ("maxvit", {}, 30_919_624),
    ("convnext", {}, 28_589_128),  # tiny
    ("swin", {}, 28_288_354),  # swin_t
    ("mobilenet_v2", {}, 3_504_872),
    ("mobilenet_v3", {}, 5_483_032),  # large
    ("mnasnet", {}, 4_383_312),  # 1_0
    ("efficientnet", {}, 5_288_548),  # b0
    ("densenet", {}, 7_978_856),  # densenet121
    ("googlenet_tv", {}, 13_004_888),  # torchvision's googlenet (aux heads included)
    ("inception_v3", {}, 27_161_264),
]


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name,params,count", COUNTS, ids=[f"{n}-{p}" if p else n for n, p, _ in COUNTS])
def test_parameter_count(name: str, params: dict, count: int) -> None:
    a = archspec.analyze(spec_path(name), params)
    from archspec.table import param_count

    static = sum(param_count(n, a.shapes[n.inputs[0]]) for n in a.graph.nodes if n.op == "module")
    assert static == count  # counted on the meta device, nothing allocated
    if count < 30_000_000:
        assert n_params(archspec.build(spec_path(name), **params)) == count


def test_every_shipped_spec_is_counted() -> None:
    assert {p.stem for p in SPECS.glob("*.yaml")} == {n for n, _, _ in COUNTS}


SMALL = [
    ("lenet", seeds.LeNet003, (1, 28, 28)),
    ("lenet_cifar", seeds.LeNet004, (3, 32, 32)),
    ("mnist_inception", seeds.InceptionNet, (1, 28, 28)),
    ("mnist_residual", seeds.ResidualNet, (1, 28, 28)),
]


@pytest.mark.parametrize("name,cls,shape", SMALL, ids=[s[0] for s in SMALL])
def test_seed_weights_give_equal_outputs(name: str, cls: type, shape: tuple) -> None:
    torch.manual_seed(0)
    ref = cls().eval()
    m = archspec.build(spec_path(name)).eval()
    m.load_state_dict(ref.state_dict(), strict=True)  # the spec reproduces the seed's key names
    x = torch.randn(5, *shape)
    with torch.no_grad():
        torch.testing.assert_close(m(x), ref(x), rtol=0, atol=1e-6)


def seed_002_keys(state: dict) -> dict:
    # the seed names conv_block's norm `batchnorm`; archspec's conv_block names it `bn`
    return {k.replace(".batchnorm.", ".bn."): v for k, v in state.items()}


def test_googlenet_matches_seed_002_in_both_modes() -> None:
    torch.manual_seed(0)
    ref = seeds.GoogLeNet()
    m = archspec.build(spec_path("googlenet"))
    m.load_state_dict(seed_002_keys(ref.state_dict()), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(m.eval()(x), ref.eval()(x), rtol=0, atol=1e-5)
        torch.manual_seed(1)
        aux1, aux2, out = ref.train()(x)
        torch.manual_seed(1)
        got = m.train()(x)  # dropout draws happen in the same order
    assert list(got) == ["aux1", "aux2", "out"]
    for a, b in zip(got.values(), (aux1, aux2, out)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


TORCHVISION = ["resnet18", "resnet50"]  # the other files' keys and shapes: tests/test_family_resnet.py; outputs: tools/check_torchvision.py


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_state_dict_and_outputs(name: str) -> None:
    torch.manual_seed(0)
    ref = getattr(torchvision.models, name)().eval()
    m = archspec.build(spec_path(name)).eval()
    m.load_state_dict(ref.state_dict(), strict=True)
    assert list(m.state_dict()) == list(ref.state_dict())  # same keys, same order
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (m(x) - ref(x)).abs().max().item() <= 1e-5


def test_include_top_false_ends_at_feature_map() -> None:
    a = archspec.analyze(spec_path("resnet50"), {"include_top": False})
    assert a.shapes[a.graph.outputs["out"].node] == (2048, 7, 7)


def test_build_from_dict_and_text_equals_file() -> None:
    from ruamel.yaml import YAML

    text = (SPECS / "mnist_residual.yaml").read_text()
    data = YAML(typ="safe").load(text)
    torch.manual_seed(0)
    a = archspec.build(spec_path("mnist_residual"))
    torch.manual_seed(0)
    b = archspec.build(text)
    torch.manual_seed(0)
    c = archspec.build(data)
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(a(x), b(x)) and torch.equal(a(x), c(x))
