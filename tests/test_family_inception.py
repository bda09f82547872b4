"""GoogLeNet (torchvision's) and Inception v3 against torchvision: state_dict keys and shapes, outputs
in eval mode and in training mode (aux heads included), transform_input, and the init policies."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import archspec
from archspec.catalog import lookup
from archspec.oracle import compare, keys_and_shapes, meta_mismatch, torchvision_model

pytestmark = pytest.mark.filterwarnings("ignore:The default weight initialization:FutureWarning")


@pytest.fixture(autouse=True, scope="module")
def fast(one_thread: None):
    """One thread (tests/conftest.py) and a plain normal fill in place of torch's truncated normal
    (30x slower; the cut at +-2 is 20+ standard deviations out) for every build here; the init test
    records what the policies ask for."""
    trunc = nn.init.trunc_normal_
    nn.init.trunc_normal_ = lambda t, mean=0.0, std=1.0, a=-2.0, b=2.0: nn.init.normal_(t, mean, std)
    yield
    nn.init.trunc_normal_ = trunc


def test_googlenet_is_torchvisions_not_seed_002s() -> None:
    path, variant = lookup("googlenet")
    assert (path.name, variant) == ("googlenet_tv.yaml", "googlenet")


def test_inception_v3_keys_and_shapes() -> None:
    assert meta_mismatch("inception_v3") is None


def test_googlenet_keys_and_shapes_up_to_order() -> None:
    with torch.device("meta"):
        ours, ref = keys_and_shapes(archspec.build("googlenet")), keys_and_shapes(torchvision_model("googlenet"))
    assert sorted(ours) == sorted(ref)


def test_googlenet_key_order() -> None:  # aux1/aux2 after inception5b, by the wrapper block's `order:`
    assert meta_mismatch("googlenet") is None


# smallest inputs: GoogLeNet runs from 15 px (its min_size; 1x1 from inception4a on); Inception v3
# from 75 px in eval mode, but its aux head needs the 17x17 grid of a 299 px input
@pytest.mark.parametrize("name,size,train", [
    ("googlenet", 15, False), ("googlenet", 15, True), ("inception_v3", 75, False), ("inception_v3", 299, True)])
def test_outputs_match_torchvision(name: str, size: int, train: bool) -> None:
    c = compare(name, size=size, train=train)  # in training mode: logits and every aux output, same dropout
    assert c.params == c.ref_params
    assert c.max_diff <= 1e-4


def test_outputs_by_mode_and_params_without_aux() -> None:
    with torch.device("meta"):
        for name, aux, params in [("googlenet", ["aux_logits1", "aux_logits2"], 6_624_904), ("inception_v3", ["aux_logits"], 23_834_568)]:
            m = archspec.build(name)
            assert sorted(m.output_names[True]) == sorted([*aux, "out"]) and m.output_names[False] == ["out"]
            m = archspec.build(name, aux_logits=False)
            assert m.output_names[True] == ["out"] and sum(p.numel() for p in m.parameters()) == params


def test_transform_input() -> None:
    c = compare("googlenet", size=15, transform_input=True)
    assert c.max_diff <= 1e-4
    with torch.device("meta"):  # its constants are buffers, left out of the state_dict
        m = archspec.build("inception_v3", transform_input=True)
    assert m.transform.scale.shape == (3, 1, 1) and not any(k.startswith("transform") for k in m.state_dict())


def init_calls(build) -> tuple[list[tuple], nn.Module]:
    """The truncated-normal calls a build makes (shape, mean, std, a, b), in order."""
    calls: list[tuple] = []

    def record(t, mean=0.0, std=1.0, a=-2.0, b=2.0):
        calls.append((tuple(t.shape), mean, std, a, b))
        return nn.init.normal_(t, mean, std)

    nn.init.trunc_normal_, saved = record, nn.init.trunc_normal_
    try:
        torch.manual_seed(0)
        m = build()
    finally:
        nn.init.trunc_normal_ = saved
    return calls, m


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_init_is_torchvisions(name: str) -> None:
    ours, a = init_calls(lambda: archspec.build(name))
    ref, b = init_calls(lambda: torchvision_model(name))
    if name == "inception_v3":  # same module order: the same calls, and the same weights from the same seed
        assert ours == ref
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sb)
        assert [c[2] for c in ours].count(0.001) == 1 and a.AuxLogits.fc.weight.shape == (1000, 768)
    else:  # aux heads built earlier than torchvision builds them: the same calls in another order
        assert sorted(ours) == sorted(ref) and {c[2:] for c in ours} == {(0.01, -2, 2)}
        for m in a.modules():
            if isinstance(m, nn.BatchNorm2d):
                assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
        assert 0 < a.fc.bias.abs().max() <= 1 / 1024**0.5  # linear biases keep PyTorch's default
