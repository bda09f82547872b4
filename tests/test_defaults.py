"""Every default the README promises, pinned by its value and by its effect: a change to one of them
fails here even when the README, the JSON Schema and the docs are regenerated along with it."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn

import archspec
from archspec import graph as graph_mod
from archspec import source as source_mod
from archspec import types as types_mod
from archspec.errors import SpecError
from archspec.train.optim import eager
from archspec import load_spec
from archspec.train import loop
from archspec.train.config import TrainConfig
from conftest import ROOT

# README's `train:` table, as numbers: the test, not the README, is the oracle
TRAIN_DEFAULTS = {
    "dataset": "synthetic", "download": True, "resize": False, "normalize": True, "batch_size": 64, "eval_batch_size": 1000,
    "epochs": 5, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": False, "betas": (0.9, 0.999), "weight_decay": 0.0,
    "schedule": "none", "step_size": 30, "gamma": 0.1, "label_smoothing": 0.0, "loss_weights": {}, "random_crop": 0, "hflip": False,
    "seed": 0, "device": "auto", "amp": True, "channels_last": True, "compile": False, "workers": 2, "limit_train": None,
    "limit_test": None, "synthetic_size": 512, "num_classes": None, "data_dir": None,
}


def test_train_config_defaults() -> None:
    cfg = TrainConfig()
    got = {k: getattr(cfg, k) for k in TRAIN_DEFAULTS}
    assert got == TRAIN_DEFAULTS


def readme_train_table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)* \| ([^|]*) \|", text, re.M)
    return {r[0]: r[2].strip() for r in rows}


@pytest.mark.parametrize("field,shown", [("batch_size", "64, 1000"), ("epochs", "5"), ("optimizer", "sgd"), ("schedule", "none"),
                                         ("label_smoothing", "0"), ("seed", "0"), ("workers", "2"), ("normalize", "true"),
                                         ("dataset", "synthetic"), ("download", "true"), ("resize", "false")])
def test_readme_shows_the_train_defaults(field: str, shown: str) -> None:
    assert readme_train_table()[field] == shown


def test_readme_states_the_numbers_pinned_here() -> None:
    text = (ROOT / "README.md").read_text()
    for claim in ["`lr` (0.01), `momentum` (0.9), `nesterov` (false), `betas` ([0.9, 0.999]), `weight_decay` (0)",
                  "other outputs (aux heads) to 0.3", "`eps` (1e-5), `momentum` (0.1), `affine` (true)",
                  "size fields are bounded (2^24), repeats (10,000),\nnesting (64 levels), files (1 MB) and YAML alias expansion (200,000 nodes)"]:
        assert claim in text, claim


def spec_with_aux() -> str:
    return """
input: [1, 8, 8]
network:
  - aux: {type: tap, training_only: true, body: [flatten, {type: linear, out_features: 3}]}
  - flatten
  - fc: {type: linear, out_features: 3}
"""


def test_aux_outputs_weigh_0_3_and_the_main_output_1() -> None:
    spec = load_spec(spec_with_aux())
    outputs = archspec.analyze(spec).graph.outputs
    assert loop.loss_weights(TrainConfig(), spec, outputs) == {"aux": 0.3, "out": 1.0}
    assert loop.loss_weights(TrainConfig(loss_weights={"aux": 0.5}), spec, outputs) == {"aux": 0.5, "out": 1.0}


def one_param_model() -> nn.Module:
    return nn.Linear(2, 2)


def test_default_optimizer_is_sgd_with_momentum_0_9() -> None:
    opt = loop.make_optimizer(TrainConfig(), one_param_model(), torch.device("cpu"))
    g = opt.param_groups[0]
    assert type(opt) is eager(torch.optim.SGD) and type(opt).__bases__ == (torch.optim.SGD,)
    assert (g["lr"], g["momentum"], g["nesterov"], g["weight_decay"]) == (0.01, 0.9, False, 0.0)


@pytest.mark.parametrize("name,cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_adam_defaults(name: str, cls: type) -> None:
    opt = loop.make_optimizer(TrainConfig(optimizer=name), one_param_model(), torch.device("cpu"))
    g = opt.param_groups[0]
    assert type(opt) is eager(cls) and type(opt).__bases__ == (cls,) and g["betas"] == (0.9, 0.999) and g["lr"] == 0.01 and g["weight_decay"] == 0.0


def lrs(schedule: str, epochs: int, steps: int, **kw: object) -> list[float]:
    cfg = TrainConfig(schedule=schedule, epochs=epochs, lr=0.1, **kw)
    opt = loop.make_optimizer(cfg, one_param_model(), torch.device("cpu"))
    sched = loop.make_schedule(cfg, opt, steps)
    out = []
    for _ in range(epochs * steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_schedules() -> None:
    assert lrs("none", 3, 4) == [0.1] * 12
    step = lrs("step", 4, 3, step_size=2)  # drops by gamma 0.1 every step_size epochs, per batch
    assert step[:6] == pytest.approx([0.1] * 6) and step[6:] == pytest.approx([0.01] * 6)
    assert lrs("step", 31, 1)[29:] == pytest.approx([0.1, 0.01])  # step_size 30 by default
    cos = lrs("cosine", 2, 5)
    assert cos[0] == pytest.approx(0.1) and cos[5] == pytest.approx(0.05) and cos[-1] == pytest.approx(0.1 * (1 + torch.cos(torch.tensor(0.9 * torch.pi)).item()) / 2)
    one = lrs("onecycle", 2, 10)
    assert max(one) == pytest.approx(0.1) and one[0] == pytest.approx(0.1 / 25) and one.index(max(one)) == 5  # torch's 30 % warm-up: peak at step 0.3 * 20 - 1


def test_label_smoothing_default_is_off_and_applied_when_set() -> None:
    assert TrainConfig().label_smoothing == 0.0
    cfg = TrainConfig(label_smoothing=0.1)
    assert cfg.label_smoothing == 0.1


def test_normalize_subtracts_the_training_mean_and_divides_by_its_std() -> None:
    from archspec.train import data

    x = torch.randint(0, 256, (16, 1, 4, 4), dtype=torch.uint8)
    td = data.TensorData(data.Split(x, torch.zeros(16, dtype=torch.long)), data.Split(x, torch.zeros(16, dtype=torch.long)),
                         ["a"], torch.tensor([0.25]), torch.tensor([0.5]))
    y = data.prepare(x, td, TrainConfig(), (1, 4, 4))
    torch.testing.assert_close(y, (x.float() / 255 - 0.25) / 0.5)
    assert torch.equal(data.prepare(x, td, TrainConfig(normalize=False), (1, 4, 4)), x.float() / 255)
    # a float batch (synthetic data, a view of the data set) is normalized into a new tensor, never in place
    f = torch.rand(16, 1, 4, 4)
    kept = f.clone()
    torch.testing.assert_close(data.prepare(f, td, TrainConfig(), (1, 4, 4)), (kept - 0.25) / 0.5)
    assert torch.equal(f, kept)


def build_one(block: str, shape: str = "[4, 6, 6]") -> nn.Module:
    return archspec.build(f"input: {shape}\ninit: torch\nnetwork:\n  - blk: {block}\n").blk


def test_block_defaults_reach_torch() -> None:
    bn = build_one("bn")
    assert (bn.momentum, bn.eps, bn.affine, bn.track_running_stats) == (0.1, 1e-5, True, True)
    cb = build_one("{type: conv_block, out_channels: 4, kernel_size: 3}")
    assert (cb.bn.momentum, cb.bn.eps, type(cb.act)) == (0.1, 1e-5, nn.ReLU)
    conv = build_one("{type: conv, out_channels: 4, kernel_size: 3}")
    assert (conv.stride, conv.padding, conv.dilation, conv.groups, conv.bias is not None) == ((1, 1), (0, 0), (1, 1), 1, True)
    pool = build_one("{type: maxpool, kernel_size: 3}")
    assert (pool.stride, pool.padding, pool.dilation, pool.ceil_mode) == (3, 0, 1, False)
    avg = build_one("{type: avgpool, kernel_size: 2}")
    assert (avg.stride, avg.padding, avg.ceil_mode, avg.count_include_pad) == (2, 0, False, True)
    assert build_one("{type: adaptive_avgpool}").output_size == (1, 1)
    assert build_one("{type: dropout}", "[5]").p == 0.5
    assert build_one("{type: act, fn: leaky_relu}").negative_slope == 0.01
    ln = build_one("{type: layer_norm}", "[3, 5]")
    assert (ln.eps, ln.elementwise_affine) == (1e-5, True)
    gn = build_one("{type: group_norm, groups: 2}")
    assert (gn.eps, gn.affine) == (1e-5, True)
    p = archspec.build("input: [3, 4]\nnetwork:\n  - pos: {type: param, shape: [1, 3, 4], op: add}\n").pos
    assert torch.equal(p, torch.zeros(1, 3, 4))
    tokens = torch.randn(2, 3, 4)
    assert torch.equal(archspec.build("input: [3, 4]\nnetwork: [{type: select}]\n")(tokens), tokens[:, 0])  # the class token
    swin = archspec.build("input: [4, 4, 8]\nnetwork:\n  - a: {type: shifted_window_attention, heads: 2, window: 2}\n  - m: patch_merging\n")
    assert (type(swin.a).__name__, swin.a.shift_size, swin.a.attention_dropout, swin.a.dropout) == ("ShiftedWindowAttention", [0, 0], 0.0, 0.0)
    assert type(swin.m).__name__ == "PatchMerging"  # V1 unless v2: true


def test_default_init_is_torchvision() -> None:
    assert load_spec("input: [1, 4, 4]\nnetwork: [flatten]\n").init == "torchvision"


def test_limits() -> None:
    assert (types_mod.MAX_DIM, graph_mod.MAX_REPEAT, graph_mod.MAX_DEPTH, source_mod.MAX_BYTES, source_mod.MAX_NODES) == \
        (2**24, 10_000, 64, 1_000_000, 200_000)
    with pytest.raises(SpecError, match=r"repeat n=10001 exceeds the limit of 10,000"):
        archspec.analyze("input: [4]\nnetwork:\n  - {type: repeat, n: 10001, body: identity}\n")
    with pytest.raises(SpecError, match=r"out_channels: .*at most 16,777,216"):
        archspec.analyze("input: [1, 4, 4]\nnetwork:\n  - {type: conv, out_channels: 16777217, kernel_size: 1}\n")
    archspec.analyze("input: [1, 4, 4]\nnetwork:\n  - {type: conv, out_channels: 16777216, kernel_size: 1}\n")  # the bound itself is allowed
