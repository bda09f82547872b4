from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def spec_path(name: str) -> str:
    return str(SPECS / f"{name}.yaml")


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write YAML text to a file and return its path (as a string, as users pass it)."""

    def write(text: str, name: str = "net.yaml") -> str:
        p = tmp_path / name
        p.write_text(text)
        return str(p)

    return write


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module's small forwards: on busy shared cores OpenMP's spinning
    threads make a 0.05 s forward take seconds. Modules opt in with
    `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
