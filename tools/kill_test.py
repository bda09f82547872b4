"""Kill `archspec train` with SIGKILL at random moments, resume each time, and check that every
checkpoint on disk loads and that the final weights equal an uninterrupted run's (CPU).

    python tools/kill_test.py [--kills 20] [--epochs 12] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def timings(cmd: list[str], out: Path, epochs: int) -> tuple[float, float]:
    """Run uninterrupted; return (seconds before training starts, seconds per epoch)."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (out / "checkpoint.pt").exists() and proc.poll() is None:
        time.sleep(0.02)
    first = time.time() - t0
    if proc.wait() != 0:
        raise SystemExit("the uninterrupted run failed")
    epoch = (time.time() - t0 - first) / max(1, epochs - 1)
    return max(0.0, first - epoch), epoch


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
        out, kills, loads, resumes = tmp_path / "cut", 0, 0, 0
        while kills < args.kills:
            resume = (out / "checkpoint.pt").exists()
            proc = subprocess.Popen(command(spec, out, args.epochs, resume), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            resumes += resume
            # mostly while it trains (a few epochs past start-up), sometimes while it starts or saves
            time.sleep(startup + rng.uniform(0, 3 * epoch) if rng.random() < 0.8 else rng.uniform(0, startup))
            if proc.poll() is not None:
                break  # the run finished before this kill
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            if (out / "checkpoint.pt").exists():
                state = ckpt.load(out / "checkpoint.pt")  # raises if the file on disk is not whole
                loads += 1
                print(f"kill {kills}: checkpoint at epoch {state['epoch']}, step {state['step']} loads", flush=True)
            else:
                print(f"kill {kills}: before the first checkpoint", flush=True)
        final = subprocess.run(command(spec, out, args.epochs, (out / "checkpoint.pt").exists()), env=ENV, capture_output=True, text=True)
        assert final.returncode == 0, final.stderr[-2000:]
        a, b = ckpt.load(tmp_path / "full" / "checkpoint.pt")["model"], ckpt.load(out / "checkpoint.pt")["model"]
        equal = all(torch.equal(a[k], b[k]) for k in a)
        print(f"\nkills: {kills}, checkpoints loaded after a kill: {loads}/{kills}, resumes: {resumes + 1}, "
              f"final weights bitwise equal to the uninterrupted run: {equal}")
        sys.exit(0 if equal else 1)


if __name__ == "__main__":
    main()
