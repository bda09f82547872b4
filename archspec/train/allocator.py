"""Host memory for CPU training: keep freed blocks for the next step instead of handing them back.

glibc's malloc returns large blocks to the kernel when they are freed (blocks over the mmap threshold,
and the top of the heap once more than the trim threshold is free). A CPU training step frees and
allocates the same activation buffers every step, so each step then touches fresh pages and pays a
page fault per 4 KiB: 850 to 1,500 faults a step for mnist_residual at batch 64 and 1,650 to 2,400
for mnist_inception (the count depends on the process's history), which costs milliseconds a step
on a virtual machine (tools/bench_allocator.py). PyTorch's CPU performance guide
preloads jemalloc or tcmalloc for this; `mallopt` gets the same reuse from the allocator already
loaded, without a library to install or an LD_PRELOAD to set before Python starts.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP = 1 << 30  # blocks up to 1 GiB come from the heap; its top goes back only once 2 GiB there are free


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory for reuse (process-wide); False where it is not glibc.

    The process keeps its peak heap until it exits, which is what a training process wants."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, KEEP)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2 * KEEP - 1))
