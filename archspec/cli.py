"""The `archspec` command: a thin layer over the API. A SpecError is printed and exits 2, never a traceback."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

from .errors import SpecError


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """--set k=v pairs; values are read as YAML scalars (2 -> int, 0.5 -> float, true -> bool)."""
    from ruamel.yaml import YAML

    out: dict[str, Any] = {}
    for it in items:
        key, sep, value = it.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set expects key=value, found {it!r}", code="cli")
        out[key.strip()] = YAML(typ="safe", pure=True).load(value) if value.strip() else ""
    return out


def parse_input(text: str | None) -> list[int] | None:
    """--input C,H,W -> [C, H, W]."""
    if text is None:
        return None
    try:
        dims = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        raise SpecError(f"--input expects comma-separated integers like 3,224,224, found {text!r}", code="cli") from None
    if not dims or any(d < 1 for d in dims):
        raise SpecError(f"--input expects positive integers like 3,224,224, found {text!r}", code="cli")
    return dims


def cmd_summary(args: argparse.Namespace) -> int:
    from .summary import summary_text

    print(summary_text(args.spec, parse_set(args.set), parse_input(args.input), args.depth))
    return 0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="archspec", description="Describe a network in YAML; validate, summarise, build and train it.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="the layer table with shapes, parameters and MACs")
    s.add_argument("spec", help="path to a spec YAML file")
    s.add_argument("--input", help="input shape C,H,W (overrides the spec's input)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec parameter (repeatable)")
    s.add_argument("--depth", type=int, default=3, help="nesting depth of the table (default 3)")
    s.set_defaults(func=cmd_summary)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `archspec` console script."""
    args = make_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except SpecError as e:
        print(f"error: {e}" if e.loc is None and not e.path else str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
