"""Training across processes: two-process DDP on CPU (gloo), and a run killed with SIGKILL."""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from archspec.train import checkpoint as ckpt

SPEC = """
name: tiny
input: [1, 12, 12]
init: torch
network:
  - conv1: {type: conv, out_channels: 4, kernel_size: 3}
  - relu
  - flatten
  - fc: {type: linear, out_features: 10}
train: {dataset: synthetic, synthetic_size: 256, optimizer: sgd, lr: 0.05, momentum: 0.9, download: false}
"""


def run_cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)


def test_ddp_two_processes_match_one_process_with_double_batch(write_spec, tmp_path: Path) -> None:
    spec = write_spec(SPEC)
    ddp = run_cli("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "archspec.cli", "train", spec,
                  "--epochs", "2", "--batch-size", "32", "--out", str(tmp_path / "ddp"), "--no-progress")
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    assert "on cpu x2" in ddp.stdout and ddp.stdout.count("epoch 2/2:") == 1  # rank 0 alone logs
    one = run_cli("-m", "archspec.cli", "train", spec, "--epochs", "2", "--batch-size", "64", "--out", str(tmp_path / "one"), "--no-progress")
    assert one.returncode == 0, one.stderr[-2000:]
    a, b = ckpt.load(tmp_path / "ddp" / "checkpoint.pt"), ckpt.load(tmp_path / "one" / "checkpoint.pt")
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-4, atol=1e-5)
    assert not (tmp_path / "ddp" / "checkpoint.pt.tmp").exists()


def first_epoch_logged(stdout: str) -> int:
    return int(re.search(r"^epoch (\d+)/", stdout, re.M).group(1))


def test_sigkill_leaves_a_loadable_checkpoint_and_resume_matches(write_spec, tmp_path: Path) -> None:
    spec = write_spec(SPEC)
    args = ["-m", "archspec.cli", "train", spec, "--epochs", "25", "--batch-size", "16", "--no-progress"]
    full = run_cli(*args, "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]
    out = tmp_path / "cut"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, *args, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)  # polled, not slept: the kill always comes after the first checkpoint
    time.sleep(random.uniform(0, 0.05))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-run, not finished (24 epochs were left)
    state = ckpt.load(out / "checkpoint.pt")  # whatever moment it died, the file on disk is whole
    assert 1 <= state["epoch"] < 25
    resumed = run_cli(*args, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert first_epoch_logged(resumed.stdout) == state["epoch"] + 1  # it went on from the checkpoint
    a, b = ckpt.load(tmp_path / "full" / "checkpoint.pt")["model"], ckpt.load(out / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_kill_tool_short_run() -> None:
    from conftest import ROOT

    r = subprocess.run([sys.executable, str(ROOT / "tools" / "kill_test.py"), "--kills", "2", "--epochs", "5"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    summary = re.search(r"kills: (\d+), after a checkpoint: (\d+), resumes: (\d+), final run resumed at epoch (\d+)", r.stdout)
    kills, after, resumes, epoch = map(int, summary.groups())
    assert kills == 2 and after >= 1 and resumes >= 2 and 1 <= epoch < 5, r.stdout
    assert "final weights bitwise equal to the uninterrupted run: True" in r.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_saves_and_exits_cleanly(write_spec, tmp_path: Path, sig: int) -> None:
    spec = write_spec(SPEC.replace("synthetic_size: 256", "synthetic_size: 4096"))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "archspec.cli", "train", spec, "--epochs", "50", "--batch-size", "16",
                             "--out", str(out), "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    state = ckpt.load(out / "checkpoint.pt")
    if "interrupted at epoch" in err:  # stopped inside an epoch: saved there, to resume mid-epoch
        assert f"interrupted at epoch {state['epoch'] + 1}, batch {state['step']}" in err and state["step"] > 0
    resumed = run_cli("-m", "archspec.cli", "train", spec, "--epochs", str(state["epoch"] + 1), "--batch-size", "16",
                      "--out", str(out), "--resume", "--no-progress")
    assert resumed.returncode == 0 and f"epoch {state['epoch'] + 1}/" in resumed.stdout
