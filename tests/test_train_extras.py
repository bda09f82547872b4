"""best.safetensors, early stopping and TensorBoard event files."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from archspec.train.loop import stale_epochs, train

SPEC = ("input: [1, 8, 8]\nnetwork:\n  - flatten\n  - fc: {type: linear, out_features: 4}\n"
        "train: {dataset: synthetic, synthetic_size: 128, limit_test: 64, batch_size: 32, epochs: 3, seed: 1}\n")


def test_stale_epochs_counts_since_the_best() -> None:
    rows = [{"test_acc": a} for a in (0.2, 0.5, 0.4, 0.5, 0.3)]
    assert stale_epochs(rows) == 3  # matching the best is no improvement: counted from the first 0.5
    assert stale_epochs(rows[:2]) == 0


def test_best_model_is_the_epoch_with_the_highest_test_accuracy(write_spec, tmp_path: Path) -> None:
    run = train(write_spec(SPEC), out=tmp_path / "run", progress=False)
    accs = [r["test_acc"] for r in run.history]
    best = max(range(len(accs)), key=lambda i: (accs[i], i)) + 1
    with safe_open(str(tmp_path / "run" / "best.safetensors"), "pt") as f:
        assert f.metadata()["archspec.best_epoch"] == str(best)
        if best == len(accs):
            torch.testing.assert_close(f.get_tensor("fc.weight"), run.model.fc.weight.detach().cpu())


def test_early_stop_ends_the_run_when_accuracy_stalls(write_spec, tmp_path: Path, capsys) -> None:
    # a learning rate too small to change a prediction: accuracy stays where epoch 1 left it
    run = train(write_spec(SPEC), overrides={"epochs": 6, "lr": 1e-12, "early_stop": 2}, out=tmp_path / "run", progress=False)
    assert len(run.history) == 3
    assert "early stop: test accuracy has not improved for 2 epoch(s)" in capsys.readouterr().out


def test_tensorboard_events_hold_every_epoch(write_spec, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train(write_spec(SPEC), out=tmp_path / "run", progress=False)
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    events = acc.Scalars("accuracy/test_acc")
    assert [e.step for e in events] == [1, 2, 3]
    assert [round(e.value, 6) for e in events] == [round(r["test_acc"], 6) for r in run.history]
