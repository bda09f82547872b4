"""Kill `archspec train` with SIGKILL at random moments, resume each time, and check that every
checkpoint on disk loads, that each resume goes on from the checkpoint (never back to the start),
and that the final weights equal an uninterrupted run's (CPU).

The first kill always lands after the killed process has written a checkpoint of its own (the tool
polls for it), so every run of the tool exercises at least one resume from a real checkpoint.

    python tools/kill_test.py [--kills 20] [--epochs 40] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import torch

from archspec.train import checkpoint as ckpt

SPEC = """
name: killme
input: [1, 12, 12]
init: torch
network:
  - conv1: {type: conv, out_channels: 8, kernel_size: 3}
  - relu
  - drop: {type: dropout, p: 0.1}
  - flatten
  - fc: {type: linear, out_features: 10}
train: {dataset: synthetic, synthetic_size: 2048, batch_size: 32, optimizer: adam, lr: 0.003, schedule: cosine,
        random_crop: 1, hflip: true, download: false}
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def command(spec: Path, out: Path, epochs: int, resume: bool) -> list[str]:
    cmd = [sys.executable, "-m", "archspec.cli", "train", str(spec), "--epochs", str(epochs), "--out", str(out), "--no-progress"]
    return cmd + (["--resume"] if resume else [])


def file_id(path: Path) -> Optional[tuple[int, int]]:
    """(inode, mtime) of the checkpoint: a new one is renamed into place, so a fresh write changes it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def wait_for_fresh_checkpoint(proc: subprocess.Popen, path: Path, before: Optional[tuple[int, int]]) -> bool:
    """Poll until `proc` has written a checkpoint (the file differs from `before`); False if it ended first."""
    while proc.poll() is None:
        if file_id(path) not in (None, before):
            return True
        time.sleep(0.01)
    return False


def timings(cmd: list[str], out: Path, epochs: int) -> tuple[float, float]:
    """Run uninterrupted; return (seconds before training starts, seconds per epoch)."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_fresh_checkpoint(proc, out / "checkpoint.pt", None)
    first = time.time() - t0
    if proc.wait() != 0:
        raise SystemExit("the uninterrupted run failed")
    epoch = (time.time() - t0 - first) / max(1, epochs - 1)
    return max(0.0, first - epoch), epoch


def position(state: dict) -> tuple[int, int]:
    return state["epoch"], state["step"]


def kill_once(proc: subprocess.Popen, path: Path, before: Optional[tuple[int, int]], after_checkpoint: bool,
              startup: float, epoch: float, rng: random.Random) -> bool:
    """Kill `proc` after a checkpoint of its own (plus a random part of an epoch), or at a random moment of
    its start-up; False if it finished first."""
    if after_checkpoint:
        if not wait_for_fresh_checkpoint(proc, path, before):
            return False
        time.sleep(rng.uniform(0, epoch / 2))
    else:
        time.sleep(rng.uniform(0, startup))
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def first_epoch_logged(stdout: str) -> Optional[int]:
    m = re.search(r"^epoch (\d+)/", stdout, re.M)
    return int(m.group(1)) if m else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        spec = tmp_path / "killme.yaml"
        spec.write_text(SPEC)
        startup, epoch = timings(command(spec, tmp_path / "full", args.epochs, False), tmp_path / "full", args.epochs)
        out = tmp_path / "cut"
        path = out / "checkpoint.pt"
        kills, after_ckpt, resumes, last = 0, 0, 0, (0, 0)
        while kills < args.kills:
            before = file_id(path)
            resume = before is not None
            proc = subprocess.Popen(command(spec, out, args.epochs, resume), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # the first kill always after a checkpoint; later ones mostly so, sometimes during start-up or restore
            late = after_ckpt == 0 or rng.random() < 0.8
            if not kill_once(proc, path, before, late, startup, epoch, rng):
                break  # the run finished before this kill
            kills += 1
            resumes += resume
            if file_id(path) is None:
                print(f"kill {kills}: before the first checkpoint", flush=True)
                continue
            state = ckpt.load(path)  # raises if the file on disk is not whole
            now = position(state)
            if now < last:
                raise SystemExit(f"kill {kills}: checkpoint went back from {last} to {now}: the resume restarted")
            after_ckpt += late
            last = now
            print(f"kill {kills}: checkpoint at epoch {now[0]}, step {now[1]} loads", flush=True)
        if after_ckpt == 0:
            raise SystemExit("no kill landed after a checkpoint: nothing was resumed (more --epochs?)")
        state = ckpt.load(path)
        final = subprocess.run(command(spec, out, args.epochs, True), env=ENV, capture_output=True, text=True)
        assert final.returncode == 0, final.stderr[-2000:]
        first = first_epoch_logged(final.stdout)
        resumed_at = state["epoch"] + 1
        if state["epoch"] < args.epochs and first != resumed_at:
            raise SystemExit(f"the final run logged epoch {first} first; resuming from epoch {state['epoch']}, step "
                             f"{state['step']} it should have logged epoch {resumed_at}")
        a, b = ckpt.load(tmp_path / "full" / "checkpoint.pt")["model"], ckpt.load(path)["model"]
        equal = all(torch.equal(a[k], b[k]) for k in a)
        print(f"\nkills: {kills}, after a checkpoint: {after_ckpt}, resumes: {resumes + 1}, "
              f"final run resumed at epoch {state['epoch']}, step {state['step']}, "
              f"final weights bitwise equal to the uninterrupted run: {equal}")
        sys.exit(0 if equal else 1)


if __name__ == "__main__":
    main()
