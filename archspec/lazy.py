"""torch, imported on first use. The block registry (types, fields, shape rules) needs no torch, so
`archspec list`, `schema` and `--help` answer without paying torch's import (about 2 s of CPU here);
a block's `build` reaches torch through these names and imports it then."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """A stand-in for `import NAME`: the module is imported at the first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


torch: Any = LazyModule("torch")
nn: Any = LazyModule("torch.nn")
F: Any = LazyModule("torch.nn.functional")
fx: Any = LazyModule("torch.fx")
