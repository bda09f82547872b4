"""archspec train / eval: data formats, checkpoints and resume, metrics, failures. Small data, few steps."""
from __future__ import annotations

import gzip
import json
import os
import pickle
import platform
import re
import signal
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from archspec.cli import main
from archspec.errors import SpecError
from archspec.train import checkpoint as ckpt
from archspec.train import data as data_mod
from archspec.train import loop
from archspec.train.loop import TrainingStopped, train
from conftest import SPECS

SMALL = """
name: small
params: {num_classes: 10}
input: [1, 12, 12]
init: torch
network:
  - conv1: {type: conv, out_channels: 4, kernel_size: 3}
  - relu
  - pool: {type: maxpool, kernel_size: 2}
  - flatten
  - drop: {type: dropout, p: 0.2}
  - fc: {type: linear, out_features: "${num_classes}"}
train:
  dataset: synthetic
  synthetic_size: 256
  batch_size: 32
  epochs: 3
  optimizer: sgd
  lr: 0.05
  schedule: cosine
  random_crop: 2
  hflip: true
  download: false
"""


@pytest.fixture
def small_spec(write_spec) -> str:
    return write_spec(SMALL, "small.yaml")


def weights(path: Path) -> dict[str, torch.Tensor]:
    return ckpt.load(path / "checkpoint.pt")["model"]


def test_run_writes_metrics_curves_and_checkpoints(small_spec: str, tmp_path: Path) -> None:
    run = train(small_spec, out=tmp_path / "run", progress=False)
    out = tmp_path / "run"
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,images_per_s" and len(rows) == 4
    lines = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3] and all(0 <= r["test_acc"] <= 1 for r in lines)
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = ckpt.load(out / "checkpoint.pt")
    assert state["epoch"] == 3 and state["step"] == 0 and "network:" in state["spec"]
    from safetensors.torch import load_file

    shared = load_file(str(out / "model.safetensors"))
    assert all(torch.equal(shared[k], v) for k, v in run.model.state_dict().items())
    assert not list(out.glob(".*"))  # no temp files left behind


def signal_on_call(monkeypatch, name: str, n: int, *sigs: int) -> dict[str, int]:
    """Wrap loop.<name> so that its n-th call first sends `sigs` to this process; returns the call count."""
    real, calls = getattr(loop, name), {"n": 0}

    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == n:
            for sig in sigs:
                os.kill(os.getpid(), sig)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, name, wrapper)
    return calls


def test_interrupted_run_resumes_bitwise_equal(small_spec: str, tmp_path: Path, monkeypatch) -> None:
    train(small_spec, out=tmp_path / "full", progress=False)
    signal_on_call(monkeypatch, "train_step", 13, signal.SIGINT)  # in the middle of epoch 2's 5th step (8 per epoch)
    with pytest.raises(TrainingStopped, match=r"interrupted at epoch 2, batch 5; checkpoint saved to .*; continue with --resume"):
        train(small_spec, out=tmp_path / "cut", progress=False)
    monkeypatch.undo()
    assert ckpt.load(tmp_path / "cut" / "checkpoint.pt")["step"] == 5  # the step it was in finished first
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # train() gave the handler back
    train(small_spec, out=tmp_path / "cut", resume=True, progress=False)
    assert_same_run(tmp_path / "full", tmp_path / "cut")


def test_interrupt_during_evaluation_redoes_it_on_resume(small_spec: str, tmp_path: Path, monkeypatch) -> None:
    train(small_spec, out=tmp_path / "full", progress=False)
    signal_on_call(monkeypatch, "evaluate", 2, signal.SIGTERM)
    with pytest.raises(TrainingStopped, match=r"interrupted at epoch 2, batch 8;"):
        train(small_spec, out=tmp_path / "cut", progress=False)
    monkeypatch.undo()
    state = ckpt.load(tmp_path / "cut" / "checkpoint.pt")
    assert (state["epoch"], state["step"], len(state["history"])) == (1, 8, 1)  # trained, not yet evaluated
    train(small_spec, out=tmp_path / "cut", resume=True, progress=False)
    assert_same_run(tmp_path / "full", tmp_path / "cut")


@pytest.mark.parametrize("every, draws", [(1e9, [3]), (0.0, [1, 2, 3])])
def test_curves_are_redrawn_at_most_every_few_seconds_and_at_the_end(small_spec: str, tmp_path: Path, monkeypatch,
                                                                       every: float, draws: list[int]) -> None:
    drawn: list[int] = []
    monkeypatch.setattr(loop, "CURVES_EVERY_S", every)
    monkeypatch.setattr(loop, "plot_curves", lambda path, history: drawn.append(len(history)))
    train(small_spec, out=tmp_path / "run", progress=False)
    assert drawn == draws  # each entry: the epochs one drawing showed
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 4  # the figures themselves every epoch


def test_signal_while_files_are_written_lets_them_finish(small_spec: str, tmp_path: Path, monkeypatch) -> None:
    # a signal here once landed inside matplotlib's first import and aborted the process
    signal_on_call(monkeypatch, "write_metrics", 1, signal.SIGTERM)
    with pytest.raises(TrainingStopped, match=r"interrupted at the start of epoch 2;"):
        train(small_spec, out=tmp_path / "cut", progress=False)
    state = ckpt.load(tmp_path / "cut" / "checkpoint.pt")
    assert (state["epoch"], state["step"]) == (1, 0)
    assert (tmp_path / "cut" / "curves.png").stat().st_size > 0
    assert len((tmp_path / "cut" / "metrics.csv").read_text().splitlines()) == 2  # header and epoch 1


def test_second_ctrl_c_stops_at_once_keeping_the_last_checkpoint(small_spec: str, tmp_path: Path, monkeypatch) -> None:
    calls = signal_on_call(monkeypatch, "train_step", 13, signal.SIGINT, signal.SIGINT)
    with pytest.raises(TrainingStopped, match=r"interrupted at once; the last good checkpoint \(epoch 1\) is kept at "):
        train(small_spec, out=tmp_path / "cut", progress=False)
    assert calls["n"] == 13 and ckpt.load(tmp_path / "cut" / "checkpoint.pt")["step"] == 0


def assert_same_run(full: Path, cut: Path) -> None:
    a, b = weights(full), weights(cut)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = [(d / "metrics.csv").read_text().splitlines() for d in (full, cut)]
    assert [r.split(",")[:5] for r in rows[0]] == [r.split(",")[:5] for r in rows[1]]


def test_nan_loss_stops_and_keeps_last_good_checkpoint(small_spec: str, tmp_path: Path, monkeypatch) -> None:
    real_step = loop.train_step

    def nan_in_epoch_2(run, x, y):  # noqa: ANN001, ANN202
        loss, correct = real_step(run, x, y)
        return (loss * float("nan"), correct) if run.epoch == 1 else (loss, correct)

    monkeypatch.setattr(loop, "train_step", nan_in_epoch_2)
    with pytest.raises(TrainingStopped, match=r"loss became nan at epoch 2, batch 1; stopped\. the last good checkpoint \(epoch 1\) is kept"):
        train(small_spec, out=tmp_path / "run", progress=False)
    assert ckpt.load(tmp_path / "run" / "checkpoint.pt")["epoch"] == 1


def test_cli_train_then_eval(small_spec: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    assert main(["train", small_spec, "--epochs", "1", "--lr", "0.1", "--out", str(out), "--no-progress", "--set", "train.batch_size=64"]) == 0
    text = capsys.readouterr().out
    assert "epoch 1/1: train loss" in text
    state = ckpt.load(out / "checkpoint.pt")
    assert state["config"]["lr"] == 0.1 and state["config"]["batch_size"] == 64 and state["config"]["epochs"] == 1
    assert main(["eval", small_spec, str(out / "model.safetensors")]) == 0
    report = capsys.readouterr().out
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert report.startswith(f"test accuracy {100 * row['test_acc']:.2f}%")
    assert report.count("%") == 11  # overall + 10 classes


def test_corrupt_checkpoint_is_a_clear_error(small_spec: str, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "checkpoint.pt"
    train(small_spec, {}, {"epochs": 1}, out=tmp_path, progress=False)
    bad.write_bytes(bad.read_bytes()[:1000])
    assert main(["eval", small_spec, str(bad)]) == 2
    assert f"{bad} is not a readable checkpoint (corrupt or truncated?)" in capsys.readouterr().err


def test_train_section_errors_are_located(write_spec) -> None:
    path = write_spec(SMALL.replace("optimizer: sgd", "optimizer: sgdd"), "bad.yaml")
    with pytest.raises(SpecError) as e:
        train(path, progress=False)
    assert e.value.headline() == f"{path}:18:14: train (train): optimizer: expected one of sgd, adam, adamw, found 'sgdd'; did you mean 'sgd'?"
    with pytest.raises(SpecError, match=r"batch_size: expected .*found 0"):
        train(write_spec(SMALL, "ok.yaml"), overrides={"batch_size": 0}, progress=False)


def write_idx(path: Path, arr: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    raw = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_from_data_dir(write_spec, tmp_path: Path, gz: bool) -> None:
    root = tmp_path / "data" / "MNIST" / "raw"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 96), ("t10k", 32)):
        sfx = ".gz" if gz else ""
        write_idx(root / f"{prefix}-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n, 28, 28)), gz)
        write_idx(root / f"{prefix}-labels-idx1-ubyte{sfx}", np.arange(n) % 10, gz)
    spec = write_spec((SPECS / "lenet.yaml").read_text(), "lenet.yaml")
    run = train(spec, overrides={"dataset": "mnist", "data_dir": str(tmp_path / "data"), "epochs": 1, "download": False},
                out=tmp_path / "run", progress=False)
    assert run.data.n_train == 96 and run.data.n_test == 32
    assert torch.equal(run.data.train.y, torch.arange(96) % 10) and run.data.train.x.shape == (96, 1, 28, 28)


def test_truncated_idx_file(tmp_path: Path) -> None:
    p = tmp_path / "train-images-idx3-ubyte"
    write_idx(p, np.zeros((4, 28, 28)), gz=False)
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(SpecError, match=r"is truncated: header says \[4, 28, 28\], found 3126 bytes"):
        data_mod.read_idx(p)


def test_missing_data_says_where_it_looked(tmp_path: Path, monkeypatch, write_spec) -> None:
    monkeypatch.setattr(data_mod, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(data_mod, "SYSTEM", tmp_path / "system")
    spec = write_spec((SPECS / "lenet.yaml").read_text(), "lenet.yaml")
    with pytest.raises(SpecError) as e:
        train(spec, overrides={"dataset": "mnist", "data_dir": str(tmp_path / "mine"), "download": False}, progress=False)
    msg = e.value.message
    assert msg.startswith(f"mnist not found (looked in: {tmp_path / 'mine'}, {tmp_path / 'mine' / 'mnist'}")
    assert str(tmp_path / "cache") in msg and str(tmp_path / "system") in msg
    assert msg.endswith("; expected train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
                        "t10k-labels-idx1-ubyte[.gz]; get them with download them (e.g. torchvision.datasets.MNIST(root, "
                        "download=True)) into one of those folders, or pass --data-dir")


def write_cifar(folder: Path, n: int, name: str) -> None:
    rng = np.random.default_rng(len(name))
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [i % 10 for i in range(n)]}
    (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar10_python_batches(write_spec, tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    write_cifar(folder, 40, "data_batch_1")
    write_cifar(folder, 24, "data_batch_2")
    write_cifar(folder, 16, "test_batch")
    spec = write_spec((SPECS / "lenet_cifar.yaml").read_text(), "lenet_cifar.yaml")
    run = train(spec, overrides={"data_dir": str(tmp_path), "epochs": 1, "download": False}, out=tmp_path / "run", progress=False)
    assert run.data.n_train == 64 and run.data.n_test == 16 and run.data.train.x.shape[1:] == (3, 32, 32)
    assert run.data.classes[0] == "airplane"


def test_cifar_loader_refuses_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):  # noqa: ANN204
            import os

            return (os.system, ("true",))

    p = tmp_path / "test_batch"
    p.write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(SpecError, match=r"refusing to load posix.system from a CIFAR batch file"):
        data_mod.read_cifar_batch(p)


def test_image_folder(write_spec, tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("val", 2)):
        for cls in ("cat", "dog"):
            d = tmp_path / "imgs" / split / cls
            d.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(d / f"{i}.png")
    spec = write_spec(SMALL.replace("input: [1, 12, 12]", "input: [3, 12, 12]").replace("num_classes: 10", "num_classes: 2"), "f.yaml")
    run = train(spec, overrides={"dataset": "imagefolder", "data_dir": str(tmp_path / "imgs"), "epochs": 1, "batch_size": 4,
                                 "workers": 2, "random_crop": 0}, out=tmp_path / "run", progress=False)
    assert run.data.classes == ["cat", "dog"] and run.data.n_train == 12 and run.data.n_test == 4
    assert run.history[0]["epoch"] == 1 and 0 <= run.history[0]["test_acc"] <= 1


def test_data_that_does_not_fit_the_spec(write_spec, tmp_path: Path) -> None:
    spec = write_spec(SMALL.replace("input: [1, 12, 12]", "input: [3, 16, 16]").replace("synthetic_size: 256", "synthetic_size: 64"), "x.yaml")
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    write_cifar(folder, 40, "data_batch_1")
    write_cifar(folder, 16, "test_batch")
    with pytest.raises(SpecError, match=r"cifar10 gives 3x32x32 images but the spec's input is 3x16x16; set train.resize: true"):
        train(spec, overrides={"dataset": "cifar10", "data_dir": str(tmp_path)}, progress=False)
    run = train(spec, overrides={"dataset": "cifar10", "data_dir": str(tmp_path), "resize": True, "epochs": 1}, out=tmp_path / "r", progress=False)
    assert run.history[0]["epoch"] == 1


FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


@pytest.mark.skipif(not FASHION.exists(), reason="needs Debian's dataset-fashion-mnist (installed by .ci/run)")
def test_fashion_mnist_from_debian_package(write_spec, tmp_path: Path) -> None:
    spec = write_spec("input: [1, 28, 28]\nnetwork:\n  - flatten\n  - fc: {type: linear, out_features: 10}\n"
                      "train: {dataset: fashion-mnist, optimizer: adam, lr: 0.01, epochs: 2, limit_train: 6000, limit_test: 2000}\n", "f.yaml")
    run = train(spec, out=tmp_path / "run", progress=False)
    assert run.data.train.x.shape == (6000, 1, 28, 28) and run.data.n_test == 2000
    assert run.history[-1]["test_acc"] > 0.7  # softmax regression reaches ~80% on Fashion-MNIST


ARENA = """
import ctypes, sys
from archspec.train.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def round_() -> tuple[int, int]:
    # 20 blocks of 2 MiB live together and freed together, as a training step's activations
    already = libc.mallinfo2().hblkhd
    blocks = [libc.malloc(2 << 20) for _ in range(20)]
    mapped = libc.mallinfo2().hblkhd - already
    for b in blocks:
        libc.free(b)
    return mapped, libc.mallinfo2().fordblks

before = round_()
assert keep_freed_memory()
round_()
print(*before, *round_())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_cpu_training_keeps_freed_memory_for_reuse() -> None:
    """Same process, same history, before and after keep_freed_memory(): after it, 2 MiB blocks come
    from the heap (no mmap, which would hand them back to the kernel on free) and stay in the arena
    when freed (no trim), so the next step reuses them instead of faulting pages in. Before it, glibc
    may mmap or trim depending on history (its threshold is dynamic), so only the 'after' is asserted."""
    out = subprocess.run([sys.executable, "-c", ARENA], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    _, _, mapped, free_after = map(int, out.stdout.split())
    assert mapped == 0, f"{mapped} bytes of the live blocks were mmapped"
    assert free_after >= 40 << 20, f"only {free_after} bytes stayed in the arena after free"


def write_mnist(root: Path, n_train: int = 96, n_test: int = 32, skip: tuple[str, ...] = ()) -> None:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        if f"{prefix}-images" not in skip:
            write_idx(root / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), False)
        if f"{prefix}-labels" not in skip:
            write_idx(root / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, False)


def mnist_run(write_spec, tmp_path: Path, **params) -> None:
    spec = write_spec((SPECS / "lenet.yaml").read_text(), "lenet.yaml")
    train(spec, params, {"dataset": "mnist", "data_dir": str(tmp_path / "data"), "epochs": 1, "download": False},
          out=tmp_path / "run", progress=False)


def test_more_classes_than_outputs_is_refused_before_training(write_spec, tmp_path: Path) -> None:
    write_mnist(tmp_path / "data")
    with pytest.raises(SpecError) as e:
        mnist_run(write_spec, tmp_path, num_classes=5)
    assert e.value.message == ("the data set has 10 classes but lenet's output 'out' has 5 values; set the spec's class count "
                               "to 10 (e.g. --set num_classes=10) or use a data set with at most 5 classes")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_idx_files_come_from_one_folder(write_spec, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(data_mod, "CACHE", tmp_path / "cache")
    write_mnist(tmp_path / "cache")  # a complete copy elsewhere must not fill in the gaps
    write_mnist(tmp_path / "data", skip=("train-images", "train-labels"))
    with pytest.raises(SpecError) as e:
        mnist_run(write_spec, tmp_path)
    assert e.value.message == (f"{tmp_path / 'data'} holds only some of mnist's files; missing: train-images-idx3-ubyte, "
                               "train-labels-idx1-ubyte (or .gz); put all four files in one folder")


def test_idx_image_and_label_counts_must_agree(write_spec, tmp_path: Path) -> None:
    write_mnist(tmp_path / "data")
    write_idx(tmp_path / "data" / "t10k-labels-idx1-ubyte", np.arange(30) % 10, False)
    with pytest.raises(SpecError) as e:
        mnist_run(write_spec, tmp_path)
    d = tmp_path / "data"
    assert e.value.message == (f"{d / 't10k-images-idx3-ubyte'} has 32 images but {d / 't10k-labels-idx1-ubyte'} has 30 labels; "
                               "the files are from different sets")


def image_tree(root: Path, layout: dict[str, tuple[str, ...]], n: int = 3) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, classes in layout.items():
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / split / cls / f"{i}.png")


FOLDER_SPEC = SMALL.replace("input: [1, 12, 12]", "input: [3, 12, 12]").replace("num_classes: 10", "num_classes: 3")


def folder_run(write_spec, tmp_path: Path) -> None:
    spec = write_spec(FOLDER_SPEC, "f.yaml")
    train(spec, overrides={"dataset": "imagefolder", "data_dir": str(tmp_path / "imgs"), "epochs": 1, "batch_size": 4,
                           "workers": 1, "random_crop": 0}, out=tmp_path / "run", progress=False)


def test_image_folder_class_lists_must_match_by_name(write_spec, tmp_path: Path) -> None:
    image_tree(tmp_path / "imgs", {"train": ("cat", "dog"), "test": ("cat", "cow")})
    with pytest.raises(SpecError) as e:
        folder_run(write_spec, tmp_path)
    r = tmp_path / "imgs"
    assert e.value.message == (f"{r / 'train'} and {r / 'test'} have different classes (only in train/: dog; only in test/: cow); "
                               "labels are class indices, so both must hold the same class folders")


def test_empty_class_folder_is_named(write_spec, tmp_path: Path) -> None:
    image_tree(tmp_path / "imgs", {"train": ("cat", "dog"), "test": ("cat", "dog")})
    for f in (tmp_path / "imgs" / "train" / "dog").iterdir():
        f.unlink()
    with pytest.raises(SpecError, match=r"^.*imgs/train: Found no valid file for the classes dog.*; every class folder needs at least one image"):
        folder_run(write_spec, tmp_path)


def test_corrupt_image_is_one_error_naming_the_file(write_spec, tmp_path: Path) -> None:
    image_tree(tmp_path / "imgs", {"train": ("cat", "dog"), "test": ("cat", "dog")})
    bad = tmp_path / "imgs" / "train" / "dog" / "1.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated
    with pytest.raises(SpecError) as e:
        folder_run(write_spec, tmp_path)
    assert e.value.message.startswith(f"{bad} is not a readable image (") and "\n" not in e.value.message


def test_a_last_batch_of_one_is_dropped(write_spec, tmp_path: Path) -> None:
    spec = write_spec(SMALL.replace("  - relu\n", "  - bn\n  - relu\n").replace("synthetic_size: 256", "synthetic_size: 65"), "bn.yaml")
    run = train(spec, overrides={"epochs": 1}, out=tmp_path / "run", progress=False)
    assert data_mod.count_steps(65, 32, 1) == 2 and data_mod.count_steps(66, 32, 1) == 3
    assert run.sums["seen"] == 64 and run.history[0]["epoch"] == 1


def test_progress_bar_keeps_the_numbers_at_80_columns() -> None:
    from tqdm import tqdm

    sums = {"loss": 432.1, "correct": 851.2, "seen": 1000.0, "seconds": 0.081}
    line = tqdm.format_meter(422, 938, 3.2, ncols=80, prefix="epoch 10/50", bar_format=loop.BAR, postfix=loop.postfix(sums, 1))
    assert len(line) <= 80 and line.endswith("422/938 00:03<00:03, loss 0.4321 acc 85.12% 12,346 img/s")


def test_curves_have_whole_epoch_ticks(tmp_path: Path, monkeypatch) -> None:
    import matplotlib.pyplot as plt

    from archspec.train import metrics

    ticks = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (ticks.extend(ax.get_xticks() for ax in fig.axes), real_close(fig)))
    rows = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.1 / e, "train_acc": 0.5, "test_acc": 0.5} for e in (1, 2, 3)]
    metrics.plot_curves(tmp_path / "c.png", rows)
    assert len(ticks) == 2 and all(float(t).is_integer() for axis in ticks for t in axis)


def test_first_epoch_line_says_when_the_first_batch_was_done(small_spec: str, tmp_path: Path, capsys) -> None:
    from archspec.train.loop import process_seconds

    assert main(["train", small_spec, "--epochs", "2", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch ")]
    first = re.search(r"\(first batch ([\d.]+) s after start\)$", lines[0])
    assert first is not None and "first batch" not in lines[1]  # said once, on the first epoch's line
    assert 0 < float(first.group(1)) <= process_seconds()  # seconds since this (test) process started
