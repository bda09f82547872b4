"""The block types. Importing this package registers all of them: every module in this folder is
imported, so a new block type is one new file (or one class in an existing one)."""
import importlib
import pkgutil

for _m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_m.name}")

from ..plugins import load_entry_points  # noqa: E402  (installed packages' block types, after ours)

load_entry_points()
