"""archspec: describe a network in YAML; get a validated, shape-checked, compiled torch module.

The API lives in archspec.api and is imported on first use, so that `archspec --help` and other
commands that need no network answer without importing torch."""
from __future__ import annotations

from typing import Any

from .errors import Loc, SpecError

__all__ = ["build", "load_spec", "analyze", "Analysis", "SpecError", "Loc"]
__version__ = "0.1.0"


_API = {"build", "load_spec", "analyze", "Analysis", "resolve_name", "Spec", "Graph", "Shape"}


def __getattr__(name: str) -> Any:
    if name not in _API:  # submodules (`from . import blocks`) are found by the import system
        raise AttributeError(f"module 'archspec' has no attribute '{name}'")
    from . import api

    return getattr(api, name)
