"""`--weights FILE`: start training from other weights (a torchvision .pth state_dict, a .safetensors
file or an archspec checkpoint), loading every tensor whose name and shape match and saying what was not."""
from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch

from .checkpoint import CheckpointError


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    unused: list[str] = field(default_factory=list)  # in the file, not in the network

    def lines(self, path: Path) -> list[str]:
        out = [f"weights from {path}: {len(self.loaded)} tensors loaded, {len(self.skipped)} skipped, "
               f"{len(self.unused)} in the file not used"]
        out += [f"  skipped {name}: {why}" for name, why in self.skipped]
        out += [f"  not used {name}: the network has no such tensor" for name in self.unused]
        return out


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A name -> tensor mapping from any of the three formats; never unpickles code (weights_only=True)."""
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable weights file (a state_dict, safetensors or archspec checkpoint): "
                              f"{str(e).splitlines()[0][:200]}") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):  # an archspec checkpoint
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state_dict (a mapping of names to tensors)")
    return state


def match(model_state: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], LoadReport]:
    """The tensors to load, and why each other one is not loaded."""
    report, take = LoadReport(), {}
    for name, mine in model_state.items():
        theirs = given.get(name)
        if theirs is None:
            report.skipped.append((name, "not in the file; keeps its initial value"))
        elif tuple(theirs.shape) != tuple(mine.shape):
            report.skipped.append((name, f"shape {tuple(theirs.shape)} in the file, {tuple(mine.shape)} in the network"))
        else:
            take[name] = theirs
            report.loaded.append(name)
    report.unused = [k for k in given if k not in model_state]
    return take, report


def load_weights(model: torch.nn.Module, path: Path, log: Optional[Callable[[str], None]] = print) -> LoadReport:
    """Copy every matching tensor of `path` into `model`; report the rest."""
    given = read_weights(path)
    take, report = match(model.state_dict(), given)
    if not take:
        raise CheckpointError(f"no tensor of {path} fits the network (names or shapes all differ; "
                              f"first in the file: {next(iter(given), 'none')})")
    model.load_state_dict(take, strict=False)
    if log is not None:
        for line in report.lines(path):
            log(line)
    return report
