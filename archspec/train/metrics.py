"""Per-epoch metrics: metrics.csv, metrics.jsonl and curves.png (loss and accuracy per epoch)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .checkpoint import atomic_write

FIELDS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds", "images_per_s"]


def write_metrics(out: Path, history: list[dict[str, Any]]) -> None:
    """Rewrite metrics.csv and metrics.jsonl from the whole history (so a resumed run's files stay
    consistent); curves.png is drawn apart, less often (train/loop.py draw_curves)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore")
    w.writeheader()
    w.writerows(history)
    atomic_write(out / "metrics.csv", lambda f: f.write(buf.getvalue().encode()))
    lines = "".join(json.dumps(row) + "\n" for row in history)
    atomic_write(out / "metrics.jsonl", lambda f: f.write(lines.encode()))


def plot_curves(path: Path, history: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["test_loss"] for h in history], "o-", label="test")
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax2.plot(epochs, [100 * h["train_acc"] for h in history], "o-", label="train")
    ax2.plot(epochs, [100 * h["test_acc"] for h in history], "o-", label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no 1.5 ticks
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def write_events(out: Path, row: dict[str, Any]) -> bool:
    """One epoch's figures as TensorBoard scalars under out/tensorboard, when the tensorboard package
    is installed (`pip install archspec[tensorboard]`); False when it is not. Each call appends a
    small event file: a resumed run keeps adding to the same folder, which TensorBoard reads as one run."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return False
    with SummaryWriter(log_dir=str(out / "tensorboard")) as w:
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "images_per_s"):
            group = "loss" if key.endswith("loss") else "accuracy" if key.endswith("acc") else "speed" if key == "images_per_s" else "lr"
            w.add_scalar(f"{group}/{key}", row[key], row["epoch"])
    return True
