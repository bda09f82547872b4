"""DenseNet against torchvision: state_dict keys and shapes for every variant, outputs of the
smallest, and the init policy."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

import archspec
from archspec.oracle import compare, meta_mismatch, torchvision_model

DENSENET = ["densenet121", "densenet161", "densenet169", "densenet201"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.mark.parametrize("name", DENSENET)
def test_keys_and_shapes(name: str) -> None:
    assert meta_mismatch(name) is None


def test_outputs_match_torchvision() -> None:
    c = compare("densenet121", size=29)  # torchvision's min_size: 1x1 after the last transition
    assert c.params == c.ref_params == 7_978_856
    assert c.max_diff <= 1e-4


def test_drop_rate_adds_dropout_in_each_layer() -> None:
    m = archspec.build("densenet121", drop_rate=0.1)
    drops = [n for n, mod in m.named_modules() if isinstance(mod, nn.Dropout)]
    assert len(drops) == 58 and drops[0] == "features.denseblock1.denselayer1.dropout"


def test_init_is_torchvisions_from_the_same_seed() -> None:
    torch.manual_seed(0)
    ours = archspec.build("densenet121")
    torch.manual_seed(0)
    ref = torchvision_model("densenet121")
    a, b = ours.state_dict(), ref.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b)
    # and the closed forms: kaiming normal (fan_in, gain sqrt 2), batch norm 1 / 0, linear bias 0
    w = ours.features.conv0.weight
    assert abs(w.std().item() / math.sqrt(2 / (3 * 7 * 7)) - 1) < 0.02
    w = ours.features.denseblock4.denselayer16.conv1.weight  # 992 -> 128, 1x1
    assert abs(w.std().item() / math.sqrt(2 / 992) - 1) < 0.02
    assert torch.all(ours.features.norm5.weight == 1) and torch.all(ours.features.norm5.bias == 0)
    assert torch.all(ours.classifier.bias == 0) and ours.classifier.weight.std() > 0
