"""archspec/malloc.py: with freed memory kept, a large block allocated again is not page-faulted in again."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import torch
from archspec.malloc import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
torch.set_num_threads(1)
m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU())
x = torch.randn(4, 3, 224, 224)  # activations of 6.4 MB: glibc maps each afresh by default
faults = []
with torch.no_grad():
    for _ in range(5):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        m(x)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
print(kept, *faults)
"""


def faults(mode: str) -> tuple[str, list[int]]:
    env = {**os.environ, "ARCHSPEC_MALLOC": "keep"}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120, env=env)
    kept, *counts = out.stdout.split()
    return kept, [int(c) for c in counts]


@pytest.mark.skipif(not hasattr(os, "confstr") or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
                    reason="glibc only")
def test_kept_memory_is_not_faulted_in_again() -> None:
    kept, with_keep = faults("keep")
    _, without = faults("default")
    pages = 4 * 8 * 224 * 224 * 4 // os.sysconf("SC_PAGE_SIZE")  # one activation
    assert kept == "True"
    assert min(without[2:]) >= 2 * pages  # each forward maps its activations afresh
    assert sum(with_keep[2:]) <= pages  # once warm, served from memory the process already has


def test_the_environment_can_leave_malloc_alone(monkeypatch) -> None:
    from archspec.malloc import keep_freed_memory

    monkeypatch.setenv("ARCHSPEC_MALLOC", "default")
    assert keep_freed_memory() is False
