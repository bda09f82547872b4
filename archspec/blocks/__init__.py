"""The block types. Importing this package registers all of them: every module in this folder is
imported, so a new block type is one new file (or one class in an existing one)."""
import importlib
import pkgutil

for _m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_m.name}")
