"""Block types of one's own, in Python: a module that defines `@register`ed Block classes is loaded
through a package entry point (group `archspec.blocks`) or an explicit `--plugin MODULE` flag
(`plugins=` in the API), never because a spec names it: a spec is data and cannot make archspec import code."""
from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from typing import Sequence

from .errors import SpecError

GROUP = "archspec.blocks"
_loaded: set[str] = set()


def load_plugins(modules: Sequence[str]) -> None:
    """Import each module (its import registers its blocks); a located message when it fails."""
    for name in modules:
        if name in _loaded:
            continue
        if "" not in sys.path and "." not in sys.path:
            sys.path.insert(0, "")  # `--plugin my_blocks` finds my_blocks.py in the working folder, as python -m does
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001  any failure in a user's module is reported, not raised
            raise SpecError(f"--plugin {name}: could not import it: {type(e).__name__}: {e}", code="cli") from None
        _loaded.add(name)


def load_entry_points() -> None:
    """Import the modules installed packages declare under the `archspec.blocks` entry-point group."""
    for ep in entry_points(group=GROUP):
        if ep.value in _loaded:
            continue
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001
            print(f"warning: archspec plugin {ep.name} ({ep.value}) failed to load: {type(e).__name__}: {e}", file=sys.stderr)
        _loaded.add(ep.value)
