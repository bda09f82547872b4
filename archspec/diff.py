"""`archspec diff`: block by block, what changed between two specs (or two variants) in shape,
parameters and MACs."""
from __future__ import annotations

from . import Analysis
from .registry import fmt_shape
from .table import node_facts


def diff_text(a: Analysis, b: Analysis) -> str:
    fa, fb = node_facts(a.graph, a.shapes), node_facts(b.graph, b.shapes)
    rows = [("", "block", "type", "shape", "params", "MACs")]
    for key in list(fa) + [k for k in fb if k not in fa]:
        if key in fa and key in fb and fa[key] == fb[key]:
            continue
        mark, x, y = ("~", fa[key], fb[key]) if key in fa and key in fb else (("-", fa[key], None) if key in fa else ("+", None, fb[key]))
        rows.append((mark, key, change(x, y, 0, str), change(x, y, 1, fmt_shape), change(x, y, 2, "{:,}".format), change(x, y, 3, "{:,}".format)))
    ta = [sum(v[i] for v in fa.values()) for i in (2, 3)]
    tb = [sum(v[i] for v in fb.values()) for i in (2, 3)]
    head = (f"{a.spec.name} -> {b.spec.name}: {len(rows) - 1} of {len(set(fa) | set(fb))} blocks differ; "
            f"parameters {ta[0]:,} -> {tb[0]:,} ({tb[0] - ta[0]:+,}); MACs {ta[1]:,} -> {tb[1]:,} ({tb[1] - ta[1]:+,})")
    if len(rows) == 1:
        return head
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join([head, *lines])


def change(x: tuple | None, y: tuple | None, i: int, fmt) -> str:  # type: ignore[no-untyped-def]
    if x is None:
        return fmt(y[i])  # type: ignore[index]
    if y is None or x[i] == y[i]:
        return fmt(x[i])
    return f"{fmt(x[i])} -> {fmt(y[i])}"
