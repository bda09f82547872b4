"""`archspec graph`: the block graph with inferred shapes on its edges, as Mermaid, Graphviz dot,
or (through Graphviz's `dot`) svg/png/pdf. User blocks are clusters, collapsed unless expanded."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import Analysis
from .errors import SpecError
from .graph import Node

FORMATS = ("mmd", "dot", "svg", "png", "pdf")
SEP = "\n"  # separates a label's lines; each format writes it its own way, after escaping the text
UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.]")


def safe_id(raw: str) -> str:
    """An identifier for dot and Mermaid from a spec path: block names may hold any character but '.'
    and white space, so anything else is spelled as _xHH_ and cannot close a statement or open a link."""
    return UNSAFE_ID.sub(lambda m: "".join(f"_x{b:02x}_" for b in m.group().encode()), raw).replace(".", "_")


def dot_text(label: str) -> str:
    """Text for a dot quoted string: backslashes and quotes escaped, lines as dot's \\n."""
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")


def mermaid_text(label: str) -> str:
    """Text for a Mermaid quoted label: every character that markup could use as #code; (Mermaid's
    entity form), so a name cannot end the label, add a `click` link or inject HTML."""
    return "<br/>".join("".join(c if c.isalnum() or c in " _-:,()" else f"#{ord(c)};" for c in line)
                        for line in label.split(SEP))


@dataclass
class Unit:
    """A box in the picture: one node, or a whole collapsed user block."""

    id: str
    label: str
    kind: str
    parent: str  # the cluster (scope path) it sits in, "" at the top
    sources: list[int] = field(default_factory=list)


@dataclass
class Picture:
    units: dict[str, Unit]
    edges: list[tuple[str, str, str]]  # (from, to, shape label)
    clusters: dict[str, tuple[str, str]]  # scope path -> (label, parent cluster)


def shape_label(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def collapse_key(node: Node, a: Analysis, expand: bool) -> str | None:
    """The outermost user-block instance holding the node, when user blocks are collapsed."""
    if expand or not node.path:
        return None
    parts = node.path.split(".")
    for i in range(1, len(parts) + (node.op != "module")):
        scope = ".".join(parts[:i])
        if a.graph.scopes.get(scope) in a.spec.blocks:
            return scope
    return None


def parent_of(path: str, a: Analysis) -> str:
    """The innermost scope strictly enclosing `path` (the cluster it is drawn in)."""
    parts = path.split(".") if path else []
    for i in range(len(parts) - 1, 0, -1):
        scope = ".".join(parts[:i])
        if scope in a.graph.scopes:
            return scope
    return ""


def node_label(node: Node) -> str:
    """'conv1\\nconv' for named blocks; just the type ('relu', 'maxpool') for numbered ones."""
    if node.op != "module":
        return "input" if node.op == "input" else node.op
    kind = getattr(node.block, "fn", None) or node.type
    name = node.path.rsplit(".", 1)[-1]
    return kind if name.isdigit() or name == kind else f"{name}{SEP}{kind}"


def build_picture(a: Analysis, expand: bool = False) -> Picture:
    units: dict[str, Unit] = {}
    owner: dict[int, str] = {}
    for node in a.graph.nodes:
        key = collapse_key(node, a, expand)
        if key is not None:
            uid = "u_" + safe_id(key)
            if uid not in units:
                units[uid] = Unit(uid, f"{key.rsplit('.', 1)[-1]}{SEP}{a.graph.scopes[key]}", "user", parent_of(key, a))
        else:
            uid = f"n{node.id}"
            units[uid] = Unit(uid, node_label(node), node.op,
                              node.path if node.op in ("add", "concat") else parent_of(node.path, a))
        units[uid].sources.append(node.id)
        owner[node.id] = uid
    edges = []
    seen = set()
    for node in a.graph.nodes:
        for i in node.inputs:
            e = (owner[i], owner[node.id], shape_label(a.shapes[i]))
            if e[0] != e[1] and e not in seen:
                seen.add(e)
                edges.append(e)
    for name, out in a.graph.outputs.items():
        uid = f"out_{safe_id(name)}"
        units[uid] = Unit(uid, name + (" (training only)" if out.training_only else ""), "output", "")
        edges.append((owner[out.node], uid, shape_label(a.shapes[out.node])))
    used = {u.parent for u in units.values()}
    clusters: dict[str, tuple[str, str]] = {}
    for scope in sorted(a.graph.scopes, key=lambda s: s.count(".")):
        if scope in used or any(p.startswith(scope + ".") for p in used):
            clusters[scope] = (f"{scope.rsplit('.', 1)[-1]}: {a.graph.scopes[scope]}", parent_of(scope, a))
    return Picture(units, edges, clusters)


def nest(p: Picture, unit_line: Callable[[Unit, str], str], open_cluster: Callable[[str, str, str], list[str]],
         close: str, cluster: str = "", indent: str = "  ") -> list[str]:
    """Units and clusters as nested text, each format supplying its own line syntax."""
    lines = [unit_line(u, indent) for u in p.units.values() if u.parent == cluster]
    for c, (label, parent) in p.clusters.items():
        if parent == cluster:
            lines += open_cluster(safe_id(c), label, indent)
            lines += nest(p, unit_line, open_cluster, close, c, indent + "  ")
            lines.append(indent + close)
    return lines


MERMAID_SHAPES = {"input": ('(["', '"])'), "output": ('(["', '"])'), "add": ('(("', '"))'), "concat": ('(("', '"))'), "user": ('[["', '"]]')}
DOT_SHAPES = {"input": "ellipse", "output": "ellipse", "add": "circle", "concat": "circle", "user": "box3d"}


def mermaid(p: Picture) -> str:
    def unit_line(u: Unit, indent: str) -> str:
        lo, hi = MERMAID_SHAPES.get(u.kind, ('["', '"]'))
        return f"{indent}{u.id}{lo}{mermaid_text(u.label)}{hi}"

    body = nest(p, unit_line, lambda cid, label, ind: [f'{ind}subgraph c_{cid}["{mermaid_text(label)}"]'], "end")
    return "\n".join(["flowchart TD", *body, *(f'  {a} -->|"{s}"| {b}' for a, b, s in p.edges)]) + "\n"


def dot(p: Picture, name: str) -> str:
    head = [f'digraph "{dot_text(name)}" {{', "  rankdir=TB;", '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];',
            '  edge [fontname="Helvetica", fontsize=10];']
    body = nest(p, lambda u, ind: f'{ind}{u.id} [label="{dot_text(u.label)}", shape={DOT_SHAPES.get(u.kind, "box")}];',
                lambda cid, label, ind: [f"{ind}subgraph cluster_{cid} {{", f'{ind}  label="{dot_text(label)}"; style="rounded,dashed";'], "}")
    return "\n".join([*head, *body, *(f'  {a} -> {b} [label="{s}"];' for a, b, s in p.edges)]) + "\n}\n"


def render(a: Analysis, out: Path, expand: bool = False, fmt: str | None = None) -> None:
    """Write the picture to `out`, in the format its suffix names (or `fmt`)."""
    fmt = fmt or out.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise SpecError(f"unknown graph format '{fmt}'; use one of: {', '.join(FORMATS)}", code="cli")
    p = build_picture(a, expand)
    if fmt == "mmd":
        out.write_text(mermaid(p))
        return
    text = dot(p, a.spec.name)
    if fmt == "dot":
        out.write_text(text)
        return
    exe = shutil.which("dot")
    if exe is None:
        raise SpecError(f"rendering .{fmt} needs Graphviz's `dot`, which is not installed: apt-get install graphviz "
                        "(or brew install graphviz); .dot and .mmd (Mermaid) need nothing", code="graphviz")
    r = subprocess.run([exe, f"-T{fmt}", "-o", str(out)], input=text, text=True, capture_output=True, timeout=300)
    if r.returncode != 0:
        raise SpecError(f"dot failed: {r.stderr.strip()[:300]}", code="graphviz")
