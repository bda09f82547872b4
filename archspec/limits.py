"""Limits checked before any weight is allocated: a spec may not ask for more memory than the machine has."""
from __future__ import annotations

import os

from .errors import SpecError
from .graph import Graph, Node
from .table import param_count
from .types import Shape

BYTES_PER_PARAM = 4  # float32


def available_bytes() -> int:
    """Memory available to this process now (MemAvailable), or physical memory where /proc is absent."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def located_count(node: Node, x: Shape) -> int:
    try:
        return param_count(node, x)
    except (RuntimeError, ValueError, OverflowError) as e:
        raise SpecError(f"torch cannot size this block: {str(e).splitlines()[0][:200]}", node.loc, node.display, node.type, code="build") from None


def check_memory(graph: Graph, shapes: list[Shape], limit: int | None = None) -> int:
    """The network's parameter count; a located SpecError when its weights would not fit in memory."""
    counts = [(located_count(n, shapes[n.inputs[0]]), n) for n in graph.nodes if n.op == "module"]
    total = sum(c for c, _ in counts)
    need, have = total * BYTES_PER_PARAM, limit if limit is not None else available_bytes()
    if need > 0.8 * have:
        biggest, node = max(counts, key=lambda c: c[0])
        raise SpecError(f"the network has {total:,} parameters ({need / 1e9:.1f} GB as float32) but {have / 1e9:.1f} GB "
                        f"of memory is available; the largest block has {biggest:,}", node.loc, node.display, node.type, code="memory")
    return total
