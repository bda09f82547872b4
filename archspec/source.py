"""YAML text -> plain Python data plus the file:line:col of every key and value.

The only module that sees raw YAML. Later stages address positions by data path:
a tuple of mapping keys and list indices from the document root, e.g. ("network", 3, "layer1").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from .errors import Loc, SpecError

DataPath = tuple[str | int, ...]
MAX_BYTES = 1_000_000  # a spec is a page of text; anything far larger is a mistake or an attack
MAX_NODES = 200_000  # bounds alias expansion ("billion laughs")


@dataclass
class Source:
    """A parsed spec document and where each of its parts was written."""

    file: str
    text: str
    data: Any
    values: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[DataPath, tuple[int, int]] = field(default_factory=dict)

    def loc(self, path: DataPath, key: bool = False) -> Loc:
        """The location of the value (or key) at `path`, falling back to its nearest parent."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                line, col = table[p]
                return Loc(self.file, line + 1, col + 1)
            if key and p in self.values:
                line, col = self.values[p]
                return Loc(self.file, line + 1, col + 1)
            p = p[:-1]
        return Loc(self.file, 1, 1)


def read_source(spec: str | Path, name: str | None = None) -> Source:
    """Read a spec from a path or from YAML text."""
    if isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec and spec.endswith((".yaml", ".yml"))):
        path = Path(spec)
        if not path.is_file():
            raise SpecError(f"spec file not found: {path}", code="file")
        if path.stat().st_size > MAX_BYTES:
            raise SpecError(f"{path} is {path.stat().st_size:,} bytes; specs are limited to {MAX_BYTES:,}", code="file")
        return parse_yaml(path.read_text(encoding="utf-8"), str(path))
    return parse_yaml(spec, name or "<spec>")


def parse_yaml(text: str, file: str) -> Source:
    """Parse YAML text, keeping positions; syntax errors become located SpecErrors."""
    if len(text) > MAX_BYTES:
        raise SpecError(f"spec text is {len(text):,} bytes; specs are limited to {MAX_BYTES:,}", Loc(file, 1, 1), code="yaml")
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1)
        problem = e.problem or e.context or "invalid YAML"
        if e.context and e.context_mark and e.problem:
            problem += f" ({e.context} started at {e.context_mark.line + 1}:{e.context_mark.column + 1})"
        raise SpecError(f"YAML syntax error: {problem}", loc, code="yaml") from None
    except YAMLError as e:
        raise SpecError(f"YAML error: {e}", Loc(file, 1, 1), code="yaml") from None
    src = Source(file, text, None)
    counter = [0]
    src.data = _plain(doc, (), src, counter)
    return src


def _plain(node: Any, path: DataPath, src: Source, counter: list[int]) -> Any:
    """Convert ruamel's commented containers to dict/list, recording positions on the way."""
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise SpecError(f"spec expands to more than {MAX_NODES:,} YAML nodes (alias bomb?)", Loc(src.file, 1, 1), code="yaml")
    if isinstance(node, CommentedMap):
        out = {}
        for k, v in node.items():
            key = str(k) if not isinstance(k, (str, int, float, bool)) else k
            sub = path + (key,)
            kp = node.lc.key(k)
            vp = node.lc.value(k)
            if kp is not None:
                src.keys[sub] = kp
            if vp is not None:
                src.values[sub] = vp
            out[key] = _plain(v, sub, src, counter)
        return out
    if isinstance(node, CommentedSeq):
        out_l = []
        for i, v in enumerate(node):
            sub = path + (i,)
            ip = node.lc.item(i)
            if ip is not None:
                src.values[sub] = ip
            out_l.append(_plain(v, sub, src, counter))
        return out_l
    if isinstance(node, str):
        return str(node)
    if isinstance(node, ScalarBoolean):
        return bool(node)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node
