"""Commands that need no network answer without importing torch (seconds on a cold start)."""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import archspec.cli as cli
try:
    cli.main({argv!r})
except SystemExit:
    pass
print("torch" in sys.modules)
"""


def imports_torch(argv: list[str]) -> bool:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120)
    return out.stdout.strip().splitlines()[-1] == "True"


def test_help_and_version_do_not_import_torch() -> None:
    assert not imports_torch(["--help"])
    assert not imports_torch(["--version"])
    assert not imports_torch(["train", "--help"])


def test_importing_the_package_does_not_import_torch_until_the_api_is_used() -> None:
    code = "import sys, archspec; a = 'torch' in sys.modules; archspec.build; print(a, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "True"]
