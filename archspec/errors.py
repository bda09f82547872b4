"""archspec's own errors: every mistake in a spec is a value with a location and a message."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable

# how deep a spec's data may nest (YAML, and values reaching expressions); deeper structures only serve to
# exhaust the recursion of the stages that walk them. Here, not in source.py: expressions check it without
# importing the YAML readers.
MAX_NESTING = 100


@dataclass(frozen=True)
class Loc:
    """A position in a spec file; line and column are 1-based, as editors show them."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class SpecError(Exception):
    """A mistake in a spec, located: `file:line:col: path (type): message`."""

    def __init__(
        self,
        message: str,
        loc: Loc | None = None,
        path: str = "",
        block_type: str = "",
        code: str = "spec",
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.path = path
        self.block_type = block_type
        self.code = code
        self.detail = detail  # extra lines shown under the message, e.g. the partial layer table
        self.overrides: tuple[str, ...] = ()  # the overrides (--set, build(**params)) without which it does not occur

    def headline(self) -> str:
        """The one-line form: location, block path and type, message."""
        parts = [f"{self.loc}:" if self.loc else ""]
        if self.path:
            parts.append(f"{self.path} ({self.block_type}):" if self.block_type else f"{self.path}:")
        parts.append(self.message)
        return " ".join(p for p in parts if p)

    def __str__(self) -> str:
        return self.headline() + (f"\n{self.detail}" if self.detail else "")


class ShapeError(Exception):
    """Raised by a block's shape rule; the shape stage adds the location and the input shapes."""


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message for quoting in ours; its type name when the message is
    empty (str(e).splitlines()[0] raises IndexError on an empty message, turning one error into another)."""
    lines = str(e).strip().splitlines()
    return lines[0][:limit] if lines else type(e).__name__


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' did you mean ...?' suffix, or the list of valid names when nothing is close."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    if len(choices) <= 12:
        return f"; expected one of: {', '.join(choices)}" if choices else ""
    return ""
