"""Checkpoints: written atomically (temp file + fsync + rename), loaded with weights_only=True."""
from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import SpecError, first_line
from ..expr import MAX_SIZE, out_of_bounds

MAX_NAME = 100  # characters of a stored parameter's name; spec parameters are short identifiers


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

            record = record_from_metadata(path, safetensors_metadata(path))
            try:
                state = {"model": load_file(str(path)), "record": record}
            except SafetensorError as e:  # a header that reads but data that does not
                raise CheckpointError(f"{path} is not a readable safetensors file: {first_line(e)}") from None
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated?): {first_line(e)}") from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not an archspec checkpoint (no 'model' entry)")
    check_stored_params(path, state)
    return state


def record_from_metadata(path: Path, meta: dict[str, str]) -> dict[str, Any] | None:
    """The run's record from safetensors metadata (one JSON value per `archspec.` key); a value that is
    not JSON, or nests or counts past what json reads, is named with its key."""
    from .record import RunRecord

    values = {}
    for key, text in meta.items():
        if key.startswith("archspec."):
            try:
                values[key[len("archspec."):]] = json.loads(text)
            except RecursionError:
                raise CheckpointError(f"{path}: metadata {key!r} nests too deeply to be a value archspec wrote") from None
            except ValueError as e:
                why = "an integer of too many digits" if "int_max_str_digits" in str(e) else first_line(e)  # not Python's advice
                raise CheckpointError(f"{path}: metadata {key!r} is not a JSON value archspec could have written ({why})") from None
    rec = RunRecord.from_dict(values)
    return rec.to_dict() if rec else None


def check_stored_params(path: Path, state: dict[str, Any]) -> None:
    """The spec parameters a checkpoint stores (its record's and the top-level copy) come from outside any
    spec: each is held to the bounds of expression results (expr.out_of_bounds) before eval, export,
    predict or --resume merges it into a spec, so a crafted file is refused here, naming the parameter."""
    record = state.get("record")
    if record is not None and not isinstance(record, dict):
        raise CheckpointError(f"{path}: its 'record' is a {type(record).__name__}, not a mapping; the file was not written by archspec")
    for params in ((record or {}).get("params"), state.get("params")):
        if params is not None:
            check_params(path, params)


def check_params(path: Path, params: Any) -> None:
    """One stored mapping of parameter name -> value."""
    if not isinstance(params, dict) or len(params) > MAX_SIZE:
        what = f"{len(params):,} of them" if isinstance(params, dict) else f"a {type(params).__name__}"
        raise CheckpointError(f"{path}: its stored parameters are {what}, not a mapping of at most {MAX_SIZE:,}; "
                              "the file was not written by archspec")
    for name, value in params.items():
        if not isinstance(name, str) or len(name) > MAX_NAME:  # no repr(): a name may be an int of a million digits
            what = f"a {type(name).__name__}" if not isinstance(name, str) else f"{len(name):,} characters long"
            raise CheckpointError(f"{path}: a stored parameter's name is {what}; the file was not written by archspec")
        problem = out_of_bounds(value)
        if problem is not None:
            raise CheckpointError(f"{path}: stored parameter '{name}': {problem}; the file is damaged or was not written by archspec")


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
