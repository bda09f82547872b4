"""Checkpoints: written atomically (temp file + fsync + rename), loaded with weights_only=True."""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import SpecError, first_line


class CheckpointError(SpecError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="checkpoint")


def current_umask() -> int:
    """Reading the umask means setting it for a moment; files are written from the main thread only."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Write through a temp file in the same folder, then rename: a reader (or a crash) never sees half a file.

    mkstemp creates the file 0600; it gets the mode a plain open() would give (0666 less the umask),
    so colleagues can read a run's metrics where the umask allows it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(path: Path, state: dict[str, Any]) -> None:
    """torch.save, atomically."""
    atomic_write(path, lambda f: torch.save(state, f))


def save_safetensors(path: Path, model: torch.nn.Module, metadata: dict[str, str] | None = None) -> None:
    """The weights, for sharing, with the run's record as metadata: safetensors holds tensors and strings, never code."""
    from safetensors.torch import save as st_save

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda f: f.write(st_save(tensors, metadata=metadata)))


def safetensors_metadata(path: Path) -> dict[str, str]:
    """The metadata of a .safetensors file (its header only)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception as e:  # safetensors raises its own SafetensorError for a bad header
        raise CheckpointError(f"{path} is not a readable safetensors file: {first_line(e)}") from None


def load(path: Path | str) -> dict[str, Any]:
    """A checkpoint (torch, weights_only) or a .safetensors file (as {'model': weights})."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors import SafetensorError
            from safetensors.torch import load_file

            meta = safetensors_metadata(path)
            try:
                return {"model": load_file(str(path)), "record": record_from_metadata(meta)}
            except SafetensorError as e:  # a header that reads but data that does not
                raise CheckpointError(f"{path} is not a readable safetensors file: {first_line(e)}") from None
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated?): {first_line(e)}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not an archspec checkpoint (no 'model' entry)")
    return state


def record_from_metadata(meta: dict[str, str]) -> dict[str, Any] | None:
    from .record import RunRecord

    rec = RunRecord.from_metadata(meta)
    return rec.to_dict() if rec else None


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
