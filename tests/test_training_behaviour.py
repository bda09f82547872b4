"""Training-mode behaviour against torch, not against archspec itself: batch-norm running statistics after
a few SGD steps equal a hand-written torch module's; init statistics per layer type match their closed
forms; and the trainer must learn a small synthetic task (no data package, nothing skipped)."""
from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

import archspec
from archspec.train.loop import train

BN_SPEC = """
input: [3, 8, 8]
init: torch
network:
  - c1: {type: conv_block, out_channels: 6, kernel_size: 3, padding: 1}
  - bn2: bn
  - drop: {type: dropout, p: 0.25}
  - flatten
  - fc: {type: linear, out_features: 12}
  - bn3: bn
  - fc2: {type: linear, out_features: 4}
"""


def hand_written() -> nn.Module:
    """BN_SPEC as one writes it in torch, every hyperparameter left at torch's default."""
    return nn.Sequential(OrderedDictOf(
        c1=nn.Sequential(OrderedDictOf(conv=nn.Conv2d(3, 6, 3, padding=1), bn=nn.BatchNorm2d(6), act=nn.ReLU())),
        bn2=nn.BatchNorm2d(6), drop=nn.Dropout(0.25), flatten=nn.Flatten(), fc=nn.Linear(384, 12),
        bn3=nn.BatchNorm1d(12), fc2=nn.Linear(12, 4)))


def OrderedDictOf(**mods: nn.Module) -> "dict[str, nn.Module]":
    from collections import OrderedDict

    return OrderedDict(mods)


def test_running_statistics_after_training_steps_equal_torch() -> None:
    torch.manual_seed(0)
    ours = archspec.build(BN_SPEC)
    ref = hand_written()
    ref.load_state_dict(ours.state_dict(), strict=True)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (ours, ref)]
    gen = torch.Generator().manual_seed(1)
    for step in range(4):
        x, y = torch.randn(8, 3, 8, 8, generator=gen) * 2 + 0.5, torch.randint(0, 4, (8,), generator=gen)
        for m, opt in zip((ours, ref), opts):
            m.train()
            torch.manual_seed(step)  # the same dropout mask in both
            loss = nn.functional.cross_entropy(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    a, b = ours.state_dict(), ref.state_dict()
    assert list(a) == list(b)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=lambda m, k=k: f"{k}: {m}")
    assert int(a["bn3.num_batches_tracked"]) == 4
    # 4 steps at torch's default momentum 0.1 move a third of the way from 1 towards the batch variance
    # (about 0.34 after conv_block's ReLU); at momentum 0.01 it would still be about 0.97
    assert 0.7 < float(a["bn2.running_var"].mean()) < 0.85
    x = torch.randn(5, 3, 8, 8, generator=gen)
    torch.testing.assert_close(ours.eval()(x), ref.eval()(x), rtol=1e-5, atol=1e-6)


def expected_kaiming_fan_out_std(w: torch.Tensor) -> float:
    fan_out = w.shape[0] * w[0, 0].numel()
    return math.sqrt(2.0) / math.sqrt(fan_out)  # gain sqrt(2) for relu


def test_default_torchvision_init_statistics_per_layer_type() -> None:
    """Closed-form stds; with n >= 9,216 samples the sample std is within about 1.5 % (3 sigma) of them."""
    torch.manual_seed(0)
    m = archspec.build("""
input: [32, 16, 16]
network:
  - conv: {type: conv, out_channels: 64, kernel_size: 3}
  - cb: {type: conv_block, out_channels: 96, kernel_size: [1, 3], bias: false}
  - pool: {type: adaptive_avgpool, output_size: 1}
  - flatten
  - fc: {type: linear, out_features: 256}
  - bn: bn
  - cls: {type: param, shape: [1, 256], op: add, init: normal, std: 0.05}
""")
    for w in (m.conv.weight, m.cb.conv.weight):
        want = expected_kaiming_fan_out_std(w)
        assert abs(w.std().item() / want - 1) < 0.03, (w.shape, w.std().item(), want)
        assert abs(w.mean().item()) < 0.1 * want
    # nn.Linear keeps torch's default: kaiming-uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bound = 1 / math.sqrt(96)
    assert abs(m.fc.weight.std().item() / (bound / math.sqrt(3)) - 1) < 0.03
    assert m.fc.weight.abs().max().item() <= bound and m.fc.weight.abs().max().item() > 0.99 * bound
    assert torch.equal(m.cb.bn.weight, torch.ones(96)) and torch.equal(m.cb.bn.bias, torch.zeros(96))
    assert torch.equal(m.bn.weight, torch.ones(256)) and torch.equal(m.bn.bias, torch.zeros(256))
    assert m.cb.conv.bias is None
    assert abs(m.cls.std().item() / 0.05 - 1) < 0.2  # 256 samples: 3 sigma is about 13 %


# ------------------------------------------------------------ a task the trainer must learn

LEARN_SPEC = """
name: bars
input: [1, 28, 28]
network:
  - c1: {type: conv_block, out_channels: 8, kernel_size: 3, stride: 2, padding: 1}
  - pool: {type: maxpool, kernel_size: 2}
  - flatten
  - fc: {type: linear, out_features: 10}
train: {dataset: mnist, download: false, epochs: 2, batch_size: 32, optimizer: sgd, lr: 0.05, device: cpu}
"""


def write_idx(path: Path, arr: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    path.write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))


def bars(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class k: a bright horizontal bar on rows 2k+4 and 2k+5 at a random column offset, in noise."""
    y = rng.integers(0, 10, n)
    x = rng.normal(60, 40, (n, 28, 28))
    for i, k in enumerate(y):
        start = rng.integers(0, 10)
        x[i, 2 * k + 4: 2 * k + 6, start:start + 18] += 150
    return np.clip(x, 0, 255), y


def test_trainer_learns_a_synthetic_task(write_spec, tmp_path: Path) -> None:
    """An optimizer step that does nothing, a loss that ignores the labels, or data fed in the wrong
    order all leave this at chance (10 %); the working trainer reaches >= 95 % in two short epochs."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 1200), ("t10k", 400)):
        x, y = bars(n, rng)
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", y)
    run = train(write_spec(LEARN_SPEC, "bars.yaml"), overrides={"data_dir": str(tmp_path / "data")},
                out=tmp_path / "run", progress=False)
    first, last = run.history[0], run.history[-1]
    assert last["test_acc"] >= 0.95, run.history
    assert last["train_loss"] < 0.5 * first["train_loss"] or first["train_loss"] < 0.5, run.history
