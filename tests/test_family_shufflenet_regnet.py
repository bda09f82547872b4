"""specs/shufflenet_v2.yaml and specs/regnet.yaml against torchvision: every variant's state_dict
keys, order and shapes; the smallest members' outputs weight for weight; RegNet's init policy."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torchvision
from torchvision.models import regnet as tv_regnet

import archspec
from archspec.oracle import compare, meta_mismatch

SHUFFLENETS = ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]
REGNETS = [n for n in torchvision.models.list_models() if n.startswith(("regnet_x_", "regnet_y_"))]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def regnet_params_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's BlockParams.from_init_params computes widths with torch tensors, which fails under
    meta_mismatch's `torch.device("meta")`; compute them on the CPU (the modules stay on meta)."""
    orig = tv_regnet.BlockParams.from_init_params.__func__

    def on_cpu(cls, *args, **kwargs):
        with torch.device("cpu"):
            return orig(cls, *args, **kwargs)

    monkeypatch.setattr(tv_regnet.BlockParams, "from_init_params", classmethod(on_cpu))


def test_every_regnet_is_a_variant() -> None:
    assert len(REGNETS) == 15
    assert set(REGNETS) == set(archspec.load_spec("specs/regnet.yaml").variants)


@pytest.mark.parametrize("name", SHUFFLENETS + REGNETS)
def test_meta_matches_torchvision(name: str, regnet_params_on_cpu: None) -> None:
    assert meta_mismatch(name) is None


@pytest.mark.parametrize("name", ["shufflenet_v2_x0_5", "regnet_x_400mf", "regnet_y_400mf"])
def test_outputs_match_torchvision(name: str) -> None:
    c = compare(name, size=32)
    assert c.params == c.ref_params
    assert c.max_diff <= 1e-4


def _std_bound(n: int) -> float:
    """Six standard errors of a sample std relative to the true one (n draws)."""
    return 6 / math.sqrt(2 * n)


def test_regnet_init_policy() -> None:
    """Convs N(0, sqrt(2 / (k*k*out))) (fan-out, not fan-in: the grouped 3x3 convs would differ
    several times over), SE conv biases left at PyTorch's default, BN 1/0, fc N(0, 0.01) with bias 0."""
    torch.manual_seed(0)
    m = archspec.build("regnet_y_400mf")
    convs = linears = 0
    for name, mod in m.named_modules():
        if isinstance(mod, nn.Conv2d):
            w = mod.weight.detach()
            want = math.sqrt(2.0 / (mod.kernel_size[0] * mod.kernel_size[1] * mod.out_channels))
            assert abs(w.mean().item()) < 6 * want / math.sqrt(w.numel()), name
            assert abs(w.std().item() / want - 1) < _std_bound(w.numel()), name
            if mod.bias is not None:  # SE fc1 / fc2: PyTorch's uniform(+-1/sqrt(fan_in)), untouched
                bound = 1 / math.sqrt(mod.in_channels // mod.groups)
                assert mod.bias.abs().max().item() <= bound and mod.bias.abs().max().item() > 0.3 * bound, name
            convs += 1
        elif isinstance(mod, nn.BatchNorm2d):
            assert torch.all(mod.weight == 1) and torch.all(mod.bias == 0), name
        elif isinstance(mod, nn.Linear):
            assert abs(mod.weight.std().item() / 0.01 - 1) < _std_bound(mod.weight.numel()), name
            assert torch.all(mod.bias == 0), name
            linears += 1
    assert convs == 1 + 16 * 5 + 4 and linears == 1  # stem, 16 blocks x (a, b, se.fc1, se.fc2, c), 4 proj


def test_shufflenet_keeps_pytorch_defaults() -> None:
    """torchvision's ShuffleNetV2 sets no init: convs keep kaiming_uniform(a=sqrt(5)), std 1/sqrt(3 fan_in)."""
    torch.manual_seed(0)
    m = archspec.build("shufflenet_v2_x0_5")
    for name, mod in m.named_modules():
        if isinstance(mod, nn.Conv2d) and mod.weight.numel() >= 1000:
            fan_in = mod.weight[0].numel()
            w = mod.weight.detach()
            assert abs(w.std().item() * math.sqrt(3 * fan_in) - 1) < _std_bound(w.numel()) * 1.5, name
