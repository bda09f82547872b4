"""Weight-init policies, one registry: `init: NAME` in a spec picks one, applied to the compiled
module after every block is built, so training from scratch starts where the reference starts.
Every module in this folder is imported; a family's policy is one small function in its own file.
The names are known without torch (the spec stage checks them); the functions import it."""
from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch.nn as nn

INITS: dict[str, Callable[["nn.Module"], None]] = {}
DOCS: dict[str, str] = {}


def register_init(name: str, doc: str) -> Callable[[Callable[["nn.Module"], None]], Callable[["nn.Module"], None]]:
    """Decorator adding an init policy `name` (a function that initialises a whole module in place)."""
    def wrap(fn: Callable[["nn.Module"], None]) -> Callable[["nn.Module"], None]:
        assert name not in INITS, f"init policy {name} registered twice"
        INITS[name] = fn
        DOCS[name] = doc
        return fn
    return wrap


def apply_init(root: "nn.Module", policy: str) -> None:
    INITS[policy](root)


for _m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_m.name}")
