"""Keep freed memory in the process (glibc's malloc), for the commands that run networks on a CPU.

glibc serves large blocks (a batch-32 activation is tens of MB) with fresh mmaps, returns them to the
OS when freed and moves its mmap threshold with what was freed last. Every forward then page-faults
its activations in again, and how often depends on the order tensors are freed in: archspec's
mobilenet_v3_large at batch 32 took 208k minor faults per forward where torchvision's module took
133k (same kernels, 1.14x the time). With freed memory kept for reuse, both took 0 faults and half
the time (tools/bench_forward.py --keep-freed-memory). PyTorch's CPU tuning guide reaches the same
end by preloading jemalloc or tcmalloc.

The trainer, `eval` and `predict` call keep_freed_memory() (archspec's own processes: the memory a
run peaked at stays with it until it exits, as CUDA's caching allocator keeps it); `archspec.build`
never changes the allocator of a program that imports archspec. ARCHSPEC_MALLOC=default in the
environment leaves glibc's behaviour as it is.
"""
from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_MAX = -4
_KEEP = 2**31 - 1  # mallopt takes an int: return memory to the OS only past 2 GiB free at the heap's top


def keep_freed_memory() -> bool:
    """Make malloc serve large blocks from the heap and keep freed memory; False where the C library is
    not glibc (macOS, Windows, musl), which is left as it is."""
    if os.environ.get("ARCHSPEC_MALLOC") == "default":
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return False
        libc = ctypes.CDLL("libc.so.6")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows), an unknown name, no glibc
        return False
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, _KEEP))
