"""The fast path of source.py: plain YAML read through libyaml's event parser (C, from PyYAML).

ruamel's round-trip loader is pure Python and was half of a small network's first build (21 ms of
a 62-line spec, against 0.5 ms for libyaml's events). This path reads what specs are made of:
mappings, sequences, strings, decimal numbers, booleans and nulls, resolved by ruamel's own YAML 1.2
resolver. Anything else (anchors, aliases, merge keys, tags, directives, duplicate keys, hex or
underscored numbers, .inf, several documents, syntax errors, nesting or size past the limits)
returns None, and ruamel reads the text as before, so values and error messages never depend on
which path ran.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Any, Callable

from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

try:
    from yaml import YAMLError, events
    from yaml._yaml import CParser  # absent where PyYAML was built without libyaml
except ImportError:  # pragma: no cover - ruamel alone then
    CParser = None

Positions = dict[tuple[str | int, ...], tuple[int, int]]
_RESOLVER = VersionedResolver()  # no loader: YAML 1.2, as ruamel's round-trip loader without a %YAML directive
_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
# tabs: ruamel refuses them in places where libyaml takes them; NEL and the Unicode line and paragraph
# separators: line breaks to one reader and not to the other, which would put positions on other lines
_LEFT_TO_RUAMEL = ("\t", "\x85", "\u2028", "\u2029")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LONE_CR = re.compile(r"\r(?!\n)")  # old Mac line ends: the readers fold block scalars differently
_BLOCK_HEADER = re.compile(r"[|>][-+]?(?:[ \t]+(?:#.*)?)?\Z")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


class Unsupported(Exception):
    """Something this path leaves to ruamel."""


def compose(text: str, max_nodes: int, max_nesting: int) -> tuple[Any, Positions, Positions] | None:
    """(data, value positions, key positions) by data path, 0-based (line, col) as ruamel's `lc`;
    None where ruamel must read the text."""
    if CParser is None or any(c in text for c in _LEFT_TO_RUAMEL) or ("\r" in text and _LONE_CR.search(text)):
        return None
    try:
        return _Composer(CParser(text).get_event, text, max_nodes, max_nesting).document()
    except (Unsupported, YAMLError, UnicodeError):
        return None


class _Composer:
    """An explicit stack instead of recursion: nesting is bounded by max_nesting, not by C's stack."""

    def __init__(self, next_event: Callable[[], Any], text: str, max_nodes: int, max_nesting: int) -> None:
        self.next_event = next_event
        self.text = text
        self.budget = max_nodes
        self.max_nesting = max_nesting
        self.values: Positions = {}
        self.keys: Positions = {}
        # each open container: [the list or dict, its data path, the key awaiting its value or None]
        self.stack: list[list[Any]] = []
        self.root: Any = None

    @functools.cached_property
    def lines(self) -> list[str]:
        return _LINE_BREAK.split(self.text)  # as libyaml counts lines (str.splitlines also breaks at \x0c, \x1c, ...)

    def document(self) -> tuple[Any, Positions, Positions]:
        self.expect(events.StreamStartEvent)
        e = self.next_event()
        if isinstance(e, events.StreamEndEvent):
            return None, {}, {}
        if not isinstance(e, events.DocumentStartEvent) or e.version or e.tags:
            raise Unsupported
        self.compose_value(root=True)
        self.expect(events.DocumentEndEvent)
        self.expect(events.StreamEndEvent)  # a second document is ruamel's error to report
        return self.root, self.values, self.keys

    def expect(self, kind: type) -> None:
        if not isinstance(self.next_event(), kind):
            raise Unsupported

    def compose_value(self, root: bool = False) -> None:
        while True:
            e = self.next_event()
            if root and not isinstance(e, events.MappingStartEvent):
                raise Unsupported  # a spec is a mapping; anything else is ruamel's to read and refuse
            root = False
            if isinstance(e, (events.MappingEndEvent, events.SequenceEndEvent)):
                self.stack.pop()
            elif isinstance(e, events.ScalarEvent):
                self.place(scalar(e, self.lines), e.start_mark)
            elif isinstance(e, (events.MappingStartEvent, events.SequenceStartEvent)):
                if e.anchor is not None or e.tag is not None or len(self.stack) >= self.max_nesting:
                    raise Unsupported
                container: Any = {} if isinstance(e, events.MappingStartEvent) else []
                self.stack.append([container, self.place(container, e.start_mark), None])
            else:  # an alias
                raise Unsupported
            if not self.stack:
                return

    def place(self, value: Any, mark: Any) -> tuple[str | int, ...]:
        """Put a value where the open container expects it; returns its data path."""
        self.budget -= 1
        if self.budget < 0:
            raise Unsupported
        if not self.stack:
            self.root = value
            return ()
        top = self.stack[-1]
        container, path, key = top
        if isinstance(container, list):
            sub = path + (len(container),)
            container.append(value)
        elif key is None:  # this value is a key
            if isinstance(value, (dict, list)) or value in container:
                raise Unsupported  # a complex or duplicate key
            top[2] = value if isinstance(value, (str, int, float, bool)) else str(value)
            self.keys[path + (top[2],)] = (mark.line, mark.column)
            return path
        else:
            sub = path + (key,)
            container[key] = value
            top[2] = None
        self.values[sub] = (mark.line, mark.column)
        return sub


@functools.lru_cache(maxsize=4096)  # specs repeat their words and numbers
def _resolve(plain: str) -> str:
    return str(_RESOLVER.resolve(ScalarNode, plain, (True, False)))


def scalar(e: Any, lines: list[str]) -> Any:
    """A scalar's value as ruamel's round-trip loader reads it, or Unsupported."""
    if e.anchor is not None or e.tag is not None:
        raise Unsupported
    value = e.value
    if not value and not e.style:  # ruamel places an empty value at the next token, libyaml where it was due
        raise Unsupported
    if e.style in ("|", ">") and not _BLOCK_HEADER.match(lines[e.start_mark.line], e.start_mark.column):
        raise Unsupported  # libyaml reads headers (`|#`) that ruamel refuses
    if e.style:  # quoted: a string (libyaml gives plain scalars the style "")
        return value
    tag = _resolve(value)
    if tag == _TAG + "str":
        return value
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "bool" and value in _BOOL:
        return _BOOL[value]
    if tag == _TAG + "int" and _INT.match(value) and len(value) <= 18:  # below 2**63: no bound to check
        return int(value)
    if tag == _TAG + "float" and _FLOAT.match(value) and math.isfinite(f := float(value)):
        return f
    raise Unsupported
