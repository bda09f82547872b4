"""YAML text -> plain Python data plus the file:line:col of every key and value.

The only module that sees raw YAML. Later stages address positions by data path:
a tuple of mapping keys and list indices from the document root, e.g. ("network", 3, "layer1").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import math

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from . import fastyaml
from .errors import MAX_NESTING, Loc, SpecError

DataPath = tuple[str | int, ...]
MAX_BYTES = 1_000_000  # a spec is a page of text; anything far larger is a mistake or an attack
MAX_NODES = 200_000  # bounds alias expansion ("billion laughs")
MAX_INT = 2**63  # no field needs a larger integer; bounds the cost of printing and comparing one


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
        if path.is_dir():
            raise SpecError(f"{path} is a folder; give a spec file (.yaml)", code="file")
        if not path.is_file():
            raise SpecError(f"spec file not found: {path}", code="file")
        if path.stat().st_size > MAX_BYTES:
            raise SpecError(f"{path} is {path.stat().st_size:,} bytes; specs are limited to {MAX_BYTES:,}", code="file")
        return parse_yaml(decode(path.read_bytes(), str(path)), str(path))
    if isinstance(spec, str) and "\n" not in spec and spec.strip() and Path(spec).is_dir():  # `archspec check specs/`
        raise SpecError(f"{spec} is a folder; give a spec file (.yaml)", code="file")
    return parse_yaml(spec, name or "<spec>")


def decode(data: bytes, file: str) -> str:
    """The file's text; a file that is not UTF-8 (Latin-1, UTF-16) is refused at its first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[:e.start]
        line, col = before.count(b"\n") + 1, e.start - (before.rfind(b"\n") + 1) + 1
        raise SpecError(f"the file is not UTF-8 text (byte 0x{data[e.start]:02x}); save it as UTF-8",
                        Loc(file, line, col), code="yaml") from None


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, with a value that cannot be constructed (`!!int abc`,
    `!!timestamp 2001-99-99`, an integer of thousands of digits) reported at its own position."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, LookupError, ArithmeticError) as e:  # LookupError: `!!bool maybe`
            what = str(e).splitlines()[0][:100] if str(e) else type(e).__name__
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            if tag == "!!int" and len(str(node.value)) > 100:  # Python's own text here names sys.set_int_max_str_digits
                what = f"{len(str(node.value)):,} digits; the limit is 2**63"
            raise ConstructorError(None, None, f"cannot read {str(node.value)[:20]!r} as {tag} ({what})",
                                   node.start_mark) from None


def parse_yaml(text: str, file: str) -> Source:
    """Parse YAML text, keeping positions; syntax errors become located SpecErrors."""
    if len(text) > MAX_BYTES:
        raise SpecError(f"spec text is {len(text):,} bytes; specs are limited to {MAX_BYTES:,}", Loc(file, 1, 1), code="yaml")
    fast = fastyaml.compose(text, MAX_NODES, MAX_NESTING)
    if fast is not None:
        data, values, keys = fast
        return Source(file, text, data, values, keys)
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1)
        problem = e.problem or e.context or "invalid YAML"
        if e.context and e.context_mark and e.problem:
            problem += f" ({e.context} started at {e.context_mark.line + 1}:{e.context_mark.column + 1})"
        kind = "value" if isinstance(e, ConstructorError) else "syntax"
        raise SpecError(f"YAML {kind} error: {problem}", loc, code="yaml") from None
    except YAMLError as e:
        raise SpecError(f"YAML error: {e}", Loc(file, 1, 1), code="yaml") from None
    except AssertionError:  # an internal check of ruamel's (its comment handling, for `&1\n\n> #`)
        raise SpecError("YAML syntax error: the YAML reader could not make sense of this text; check its indentation, "
                        "anchors and comments", Loc(file, 1, 1), code="yaml") from None
    except RecursionError:  # ruamel's composer recurses once per level; MAX_NESTING below is far lower
        raise SpecError(f"the YAML nests more than {MAX_NESTING} levels deep", too_deep(yaml, text, file), code="limit") from None
    src = Source(file, text, None)
    counter = [0]
    src.data = _plain(doc, (), src, counter)
    return src


def too_deep(yaml: YAML, text: str, file: str) -> Loc:
    """Where the YAML first nests past MAX_NESTING, found with the (non-recursive) event parser."""
    depth = 0
    for event in yaml.parse(text):
        name = type(event).__name__
        depth += name in ("MappingStartEvent", "SequenceStartEvent")
        depth -= name in ("MappingEndEvent", "SequenceEndEvent")
        if depth > MAX_NESTING:
            return Loc(file, event.start_mark.line + 1, event.start_mark.column + 1)
    return Loc(file, 1, 1)


def _plain(node: Any, path: DataPath, src: Source, counter: list[int]) -> Any:
    """Convert ruamel's commented containers to dict/list, recording positions on the way."""
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise SpecError(f"spec expands to more than {MAX_NODES:,} YAML nodes (alias bomb?)", Loc(src.file, 1, 1), code="yaml")
    if len(path) > MAX_NESTING:
        raise SpecError(f"the YAML nests more than {MAX_NESTING} levels deep", src.loc(path), code="limit")
    if isinstance(node, CommentedMap):
        out = {}
        for k, v in node.items():
            key = str(k) if not isinstance(k, (str, int, float, bool)) else k
            sub = path + (key,)
            pos = _position(node, k)
            if pos is not None:
                src.keys[sub] = (pos[0], pos[1])
                src.values[sub] = (pos[2], pos[3])
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
        return _checked_int(int(node), path, src)
    if isinstance(node, float):
        return _checked_float(float(node), path, src)
    return node


def _position(node: CommentedMap, key: Any) -> list[int] | None:
    """[key line, key col, value line, value col] of `key`; a key from a merge (`<<: *base`) is found
    where it was written, in the merged mapping."""
    pos = (node.lc.data or {}).get(key)  # None for a mapping written only as `{<<: *base}`
    if pos is not None:
        return pos
    for merged in getattr(node, "merge", None) or ():
        source = merged[1] if isinstance(merged, tuple) else merged
        if isinstance(source, CommentedMap) and key in source:
            return _position(source, key)
    return None


def _checked_int(v: int, path: DataPath, src: Source) -> int:
    if abs(v) > MAX_INT:
        raise SpecError(f"integer of {len(str(abs(v)))} digits is out of range (limit 2**63)", src.loc(path), code="field_type")
    return v


def _checked_float(v: float, path: DataPath, src: Source) -> float:
    """Every float a spec holds is finite: .nan and .inf only ever make a network compute NaN."""
    if not math.isfinite(v):
        raise SpecError(f"{v} is not a finite number; spec values must be finite", src.loc(path), code="field_type")
    return v
