"""Limits checked before any weight is allocated: a spec may not ask for more memory than the machine has."""
from __future__ import annotations

import os

import math

from .errors import SpecError, first_line
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
    except (RuntimeError, ValueError, OverflowError, TypeError) as e:  # TypeError: a size past int64
        raise SpecError(f"torch cannot size this block: {first_line(e)}", node.loc, node.display, node.type, code="build") from None


def check_memory(graph: Graph, shapes: list[Shape], limit: int | None = None) -> int:
    """The network's parameter count; a located SpecError when its weights, or the activations of one
    sample through it, would not fit in memory."""
    have = limit if limit is not None else available_bytes()
    total = check_parameters(graph, shapes, have)
    check_activations(graph, shapes, have)
    return total


def check_activations(graph: Graph, shapes: list[Shape], have: int) -> int:
    """Bytes of every node's output for one sample (what a training forward keeps for backward),
    refused with the figure and the largest block when it would not fit in memory."""
    sizes = [(math.prod(shapes[n.id]) * BYTES_PER_PARAM, n) for n in graph.nodes]
    need = sum(s for s, _ in sizes)
    if need > 0.8 * have:
        biggest, node = max(sizes, key=lambda s: s[0])
        raise SpecError(f"one sample's activations take {need / 1e9:.1f} GB as float32 but {have / 1e9:.1f} GB of memory "
                        f"is available; the largest is this block's output, {biggest / 1e9:.1f} GB", node.loc, node.display,
                        node.type, code="memory")
    return need


def check_parameters(graph: Graph, shapes: list[Shape], have: int) -> int:
    """The parameter count; refused with the figure when the weights would not fit in memory."""
    seen: dict[tuple[int, Shape], int] = {}  # a block repeated on one shape is counted once (linear in the copies)
    counts = []
    for n in graph.nodes:
        if n.op == "module":
            key = (id(n.block), shapes[n.inputs[0]])
            if key not in seen:
                seen[key] = located_count(n, key[1])
            counts.append((seen[key], n))
    total = sum(c for c, _ in counts)
    need = total * BYTES_PER_PARAM
    if need > 0.8 * have:
        biggest, node = max(counts, key=lambda c: c[0])
        raise SpecError(f"the network has {total:,} parameters ({need / 1e9:.1f} GB as float32) but {have / 1e9:.1f} GB "
                        f"of memory is available; the largest block has {biggest:,}", node.loc, node.display, node.type, code="memory")
    return total
