"""Run folders: claimed once the spec is checked and before any data or model is loaded, never overwritten by accident, one writer at a time.

A run folder holds one run's files. Starting a run there again needs `--resume` (continue it) or
`--overwrite` (replace it); a lock file names the process that writes it, so a second training into
the same folder is refused instead of both silently writing the same files."""
from __future__ import annotations

import shutil

import json
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from ..errors import SpecError

RUN_FILES = ("checkpoint.pt", "model.safetensors", "best.safetensors", "metrics.csv", "metrics.jsonl", "curves.png")
LOCK = ".lock"


class RunFolderError(SpecError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="run_folder")


def default_out(name: str, root: Path = Path("runs"), made: Optional[list[Path]] = None) -> Path:
    """`runs/<name>-<time>`, claimed with an exclusive mkdir, so two runs started in the same second get two folders.

    The folders it creates are added to `made` (deepest first), so a run that fails before it starts can take them back."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:64]  # `name: /tmp/x` must stay under runs/
    stamp = f"{safe}-{datetime.now():%Y%m%d-%H%M%S}"
    for n in range(1, 1000):
        path = root / (stamp if n == 1 else f"{stamp}-{n}")
        created = missing_folders(path)
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        if made is not None:
            made.extend(created)
        return path
    raise RunFolderError(f"no free run folder name under {root} for {stamp}; pass --out")


def missing_folders(path: Path) -> list[Path]:
    """The folders `mkdir -p path` would create, deepest first."""
    return [p for p in (path, *path.parents) if not p.exists()]


def remove_made(made: list[Path]) -> None:
    """Take back the folders a run created, deepest first; one that holds anything now (another run's
    folder under a shared runs/, a user's file) is someone else's and stays."""
    for folder in made:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def run_files(out: Path) -> list[str]:
    return [f for f in RUN_FILES if (out / f).exists()]


def check_out(out: Path, resume: bool, overwrite: bool) -> list[Path]:
    """The folder may hold a run only when resuming (or replacing) it; it must exist (made if missing:
    the folders made are returned) and be writable."""
    if resume and overwrite:
        raise RunFolderError("--resume and --overwrite contradict each other: continue the run or replace it, not both")
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder")
    found = run_files(out) if out.is_dir() else []
    if resume and "checkpoint.pt" not in found:
        raise RunFolderError(f"nothing to resume in {out}: no checkpoint.pt there (start the run without --resume)")
    if found and not resume and not overwrite:
        raise RunFolderError(f"{out} already holds a run ({', '.join(found)}); pass --resume to continue it, "
                             "--overwrite to replace it, or choose another --out")
    made = missing_folders(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        remove_made(made)
        raise RunFolderError(f"--out {out} is not writable: {e.strerror or e}") from None
    return made


def clear_run(out: Path) -> None:
    """--overwrite: remove the old run's files (only the files a run writes, nothing else in the folder)."""
    for f in run_files(out):
        (out / f).unlink()
    if (out / "tensorboard").is_dir():
        shutil.rmtree(out / "tensorboard")  # the replaced run's curves would mix with the new one's


def remove_temp_files(out: Path) -> None:
    """Temp files a killed process left behind (`.checkpoint.pt.xyz`, written then renamed)."""
    for f in RUN_FILES:
        for tmp in out.glob(f".{f}.*"):
            tmp.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class RunLock:
    """`.lock` in the run folder, holding the writer's pid, host and start time.

    A lock whose process is gone (same host, dead pid) is stale and taken over; a lock from another
    host cannot be checked and is refused, with its holder named so the user can decide."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK
        self.held = False

    def acquire(self) -> "RunLock":
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder = self.holder()
                if holder is not None and not self.stale(holder):
                    raise RunFolderError(
                        f"{self.path.parent} is in use by another training run (pid {holder.get('pid')} on "
                        f"{holder.get('host')}, started {holder.get('started')}); wait for it to end or stop it, "
                        f"or delete {self.path} if that process is gone") from None
                self.path.unlink(missing_ok=True)  # stale (or unreadable half-written) lock: take it over
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise RunFolderError(f"could not take the lock {self.path}: another process keeps creating it")

    def holder(self) -> Optional[dict]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def stale(self, holder: dict) -> bool:
        return holder.get("host") == socket.gethostname() and not pid_alive(int(holder.get("pid", 0)))

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class Claim:
    """A run folder taken by one run: its lock (rank 0 only) and the folders made for it, deepest first.

    `release` ends the claim and keeps the folder; `abandon` is for a run that failed before it wrote
    anything, and also removes the folders it made, so a mistake found late leaves no empty run behind."""

    out: Path
    lock: Optional[RunLock] = None
    made: list[Path] = field(default_factory=list)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def abandon(self) -> None:
        self.release()
        remove_made(self.made)

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim(out: Optional[Path], name: str, resume: bool, overwrite: bool, main: bool = True) -> Claim:
    """The run folder, checked and locked (rank 0 only), before any data or model is loaded.

    With `overwrite` the old run's files stay until the new run is ready to start (clear_run, by the caller)."""
    if out is None and resume:
        raise RunFolderError("--resume needs --out DIR: the run folder to continue")
    if not main:
        return Claim(out if out is not None else Path("runs") / name)
    made: list[Path] = []
    taken = Claim(out if out is not None else default_out(name, made=made), None, made)
    try:
        taken.made += check_out(taken.out, resume, overwrite)
        taken.lock = RunLock(taken.out).acquire()
        remove_temp_files(taken.out)
    except BaseException:
        taken.abandon()
        raise
    return taken
