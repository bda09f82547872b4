"""Run folders (never overwritten, locked, checked first), what a run records, resume with the stored configuration."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from archspec.cli import main
from archspec.errors import SpecError
from archspec.train import checkpoint as ckpt
from archspec.train import loop, runs
from archspec.train.loop import train
from archspec.train.record import read_record
from test_train import SMALL, assert_same_run, signal_on_call

FAST = SMALL.replace("synthetic_size: 256", "synthetic_size: 128").replace("epochs: 3", "epochs: 2")


@pytest.fixture
def spec(write_spec) -> str:
    return write_spec(FAST, "small.yaml")


def test_existing_run_is_not_overwritten_without_a_flag(spec: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    train(spec, overrides={"epochs": 1}, out=out, progress=False)
    before = (out / "checkpoint.pt").read_bytes()
    assert main(["train", spec, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {out} already holds a run (checkpoint.pt, model.safetensors, best.safetensors, metrics.csv, metrics.jsonl, curves.png); "
                   "pass --resume to continue it, --overwrite to replace it, or choose another --out\n")
    assert (out / "checkpoint.pt").read_bytes() == before
    assert main(["train", spec, "--out", str(out), "--no-progress", "--overwrite", "--epochs", "2"]) == 0
    assert len((out / "metrics.csv").read_text().splitlines()) == 3  # header + 2 epochs of the new run only


def test_default_folders_never_collide(tmp_path: Path) -> None:
    a, b, c = (runs.default_out("net", tmp_path) for _ in range(3))
    assert len({a, b, c}) == 3 and all(p.is_dir() for p in (a, b, c))
    assert b.name == a.name + "-2" or b.name[:-2] != a.name  # same second: numbered; else another second


def test_lock_refuses_a_second_writer_and_names_it(spec: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": "2024-05-01 10:00:00"}
    (out / ".lock").write_text(json.dumps(holder))
    with pytest.raises(SpecError) as e:
        train(spec, out=out, progress=False)
    assert e.value.message == (f"{out} is in use by another training run (pid {os.getpid()} on {socket.gethostname()}, "
                               f"started 2024-05-01 10:00:00); wait for it to end or stop it, or delete {out / '.lock'} "
                               "if that process is gone")
    assert not (out / "checkpoint.pt").exists()


def test_stale_lock_of_a_dead_process_is_taken_over(spec: str, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(json.dumps({"pid": int(dead), "host": socket.gethostname(), "started": "then"}))
    (out / ".checkpoint.pt.k2j4x").write_bytes(b"half a file")  # what a SIGKILL during a write leaves
    train(spec, overrides={"epochs": 1}, out=out, progress=False)
    assert ckpt.load(out / "checkpoint.pt")["epoch"] == 1
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # lock released, temp file gone


def test_unwritable_out_is_found_before_data_is_loaded(spec: str, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "file").write_text("")

    def no_data(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("data loaded before --out was checked")

    monkeypatch.setattr(loop, "load_data", no_data)
    with pytest.raises(SpecError, match=r"^--out .*file/run is not writable: Not a directory$"):
        train(spec, out=tmp_path / "file" / "run", progress=False)
    with pytest.raises(SpecError, match=r"^nothing to resume in .*empty: no checkpoint.pt there"):
        train(spec, out=tmp_path / "empty", resume=True, progress=False)


def test_run_files_follow_the_umask(spec: str, tmp_path: Path) -> None:
    old = os.umask(0o002)
    try:
        train(spec, overrides={"epochs": 1}, out=tmp_path / "run", progress=False)
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "run").iterdir()}
    files = ("checkpoint.pt", "model.safetensors", "best.safetensors", "metrics.csv", "metrics.jsonl", "curves.png")
    assert modes == {**{f: 0o664 for f in files}, **({"tensorboard": 0o775} if (tmp_path / "run" / "tensorboard").exists() else {})}


def test_run_records_what_its_model_needs(spec: str, tmp_path: Path) -> None:
    run = train(spec, params={"num_classes": 10}, overrides={"epochs": 1, "seed": 3}, out=tmp_path / "run", progress=False)
    for f in ("checkpoint.pt", "model.safetensors"):
        rec = read_record(tmp_path / "run" / f)
        assert rec is not None and rec.spec == Path(spec).read_text() and rec.spec_name == "small"
        assert rec.params == {"num_classes": 10} and rec.variant is None and rec.input_shape == [1, 12, 12]
        assert rec.config["seed"] == 3 and rec.config["epochs"] == 1 and rec.config["schedule"] == "cosine"
        assert rec.classes == [str(i) for i in range(10)]
        assert rec.mean == run.data.mean.tolist() and rec.std == run.data.std.tolist() and len(rec.mean) == 1
        assert 0.45 < rec.mean[0] < 0.55  # uniform bytes / 255


def test_eval_uses_the_runs_stored_settings(spec: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", spec, "--epochs", "1", "--seed", "3", "--set", "train.limit_test=40", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    for f in ("checkpoint.pt", "model.safetensors"):
        assert main(["eval", spec, str(out / f)]) == 0
        assert capsys.readouterr().out.startswith(f"test accuracy {100 * row['test_acc']:.2f}%  (loss {row['test_loss']:.4f})")


def test_resume_alone_continues_with_the_stored_configuration(spec: str, tmp_path: Path, monkeypatch) -> None:
    flags = ["--epochs", "3", "--lr", "0.1", "--set", "train.limit_train=96", "--no-progress"]
    assert main(["train", spec, "--out", str(tmp_path / "full"), *flags]) == 0
    signal_on_call(monkeypatch, "train_step", 5, signal.SIGINT)  # epoch 2, step 2 (3 steps an epoch)
    assert main(["train", spec, "--out", str(tmp_path / "cut"), *flags]) == 130
    monkeypatch.undo()
    assert main(["train", "--resume", "--out", str(tmp_path / "cut"), "--no-progress"]) == 0  # no spec, no flags
    assert_same_run(tmp_path / "full", tmp_path / "cut")


def test_resume_refuses_flags_that_change_the_run(spec: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    train(spec, overrides={"epochs": 1}, out=out, progress=False)
    assert main(["train", spec, "--resume", "--out", str(out), "--lr", "0.5", "--epochs", "4", "--set", "num_classes=5"]) == 2
    assert capsys.readouterr().err == (
        f"error: --resume continues the run in {out} as it was configured; refusing to change: "
        "--set num_classes=5 (the run has the default); "
        "train.epochs=4 (the run has 1) (its cosine schedule is laid out over 1 epochs); train.lr=0.5 (the run has 0.05). "
        "Start a new run (another --out) to train with other settings\n")


def test_resume_may_extend_epochs_of_a_run_without_an_epoch_shaped_schedule(write_spec, tmp_path: Path) -> None:
    spec = write_spec(FAST.replace("schedule: cosine", "schedule: none"), "flat.yaml")
    train(spec, overrides={"epochs": 1}, out=tmp_path / "run", progress=False)
    run = train(spec, overrides={"epochs": 2}, out=tmp_path / "run", resume=True, progress=False)
    assert [r["epoch"] for r in run.history] == [1, 2] and ckpt.load(tmp_path / "run" / "checkpoint.pt")["epoch"] == 2


def test_resume_with_another_spec_names_the_difference(spec: str, tmp_path: Path, write_spec) -> None:
    out = tmp_path / "run"
    train(spec, overrides={"epochs": 1}, out=out, progress=False)
    other = write_spec(FAST.replace("optimizer: sgd", "optimizer: adam"), "other.yaml")
    with pytest.raises(SpecError) as e:
        train(other, out=out, resume=True, progress=False)
    assert e.value.message == (f"{other} is not the spec the run in {out} was trained with (line 18 was 'optimizer: sgd', "
                               "is 'optimizer: adam'); resume without the spec argument to use the run's own copy, or start a new run")


def test_resume_with_a_checkpoint_of_another_network_is_one_clear_error(spec: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(spec, overrides={"epochs": 1}, out=out, progress=False)
    state = ckpt.load(out / "checkpoint.pt")
    state["model"]["fc.weight"] = torch.zeros(3, 100)
    ckpt.save(out / "checkpoint.pt", state)
    with pytest.raises(SpecError) as e:
        train(None, out=out, resume=True, progress=False)
    assert e.value.message == f"{out / 'checkpoint.pt'} was written by another network: 'fc.weight' is (3, 100) there, (10, 100) here"


def test_resume_completes_files_a_kill_left_missing(spec: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(spec, overrides={"epochs": 1}, out=out, progress=False)
    for f in ("model.safetensors", "metrics.csv", "curves.png"):
        (out / f).unlink()
    train(None, out=out, resume=True, progress=False)
    assert all((out / f).exists() for f in ("model.safetensors", "metrics.csv", "curves.png"))
    assert len((out / "metrics.csv").read_text().splitlines()) == 2



def test_a_failed_resume_releases_the_lock(spec: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    train(spec, overrides={"epochs": 1}, out=out, progress=False)
    good = (out / "checkpoint.pt").read_bytes()
    failures = {"refused flag": ["--lr", "0.5"], "bad value": ["--set", "train.eval_batch_size=-1"], "damaged checkpoint": []}
    for why, flags in failures.items():
        if why == "damaged checkpoint":
            (out / "checkpoint.pt").write_bytes(b"garbage")
        assert main(["train", "--resume", "--out", str(out), "--no-progress", *flags]) == 2, why
        assert not (out / ".lock").exists(), why  # this process is alive: a lock left behind would refuse the next resume
        (out / "checkpoint.pt").write_bytes(good)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--no-progress"]) == 0
    assert capsys.readouterr().err == "" and not (out / ".lock").exists()


def test_a_bad_train_value_on_resume_is_named_as_its_flag(spec: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    train(spec, overrides={"epochs": 1}, out=out, progress=False)
    assert main(["train", "--resume", "--out", str(out), "--set", "train.eval_batch_size=-1", "--no-progress"]) == 2
    assert capsys.readouterr().err == ("error: --set train.eval_batch_size=-1: train (train): eval_batch_size: expected an "
                                       f"integer >= 1, found -1 (at {out / 'checkpoint.pt'} (stored spec):14:3)\n")


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under `folder`."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


@pytest.mark.parametrize("flags", [["--set", "num_classes=-3"], ["--set", "train.freeze=[nope]"]],
                         ids=["found when lowering", "found in setup"])
def test_a_run_that_fails_before_it_starts_leaves_no_folder(spec: str, tmp_path: Path, monkeypatch, capsys, flags: list[str]) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["train", spec, "--no-progress", *flags]) == 2
    assert not (cwd / "runs").exists()  # neither the run's folder nor the runs/ made for it
    (cwd / "runs" / "older").mkdir(parents=True)
    assert main(["train", spec, "--no-progress", *flags]) == 2
    assert tree(cwd / "runs") == {"older": None}  # runs/ was there before: it stays
    assert main(["train", spec, "--out", str(tmp_path / "new" / "run"), "--no-progress", *flags]) == 2
    assert not (tmp_path / "new").exists()
    assert capsys.readouterr().err.startswith("error: ")


def test_a_failed_run_leaves_an_existing_run_folder_intact(spec: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(spec, overrides={"epochs": 1}, out=out, progress=False)
    (out / "notes.txt").write_text("mine")
    before = tree(out)
    for flags in (["--set", "num_classes=-3"], ["--set", "train.freeze=[nope]"]):
        assert main(["train", spec, "--out", str(out), "--no-progress", *flags]) == 2
        assert main(["train", spec, "--out", str(out), "--no-progress", "--overwrite", *flags]) == 2
        assert tree(out) == before, flags  # nothing cleared, no lock left
