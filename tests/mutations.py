"""Spec mutations shared by the property tests and tools/fuzz_specs.py: delete, rename and retype
fields; zero, negative, huge and fractional numbers; wrong nesting; random YAML."""
from __future__ import annotations

import copy
import io
import random
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

SPECS = Path(__file__).resolve().parent.parent / "specs"
WEIRD: list[Any] = [0, -1, 1, 3, 10**9, 10**18, 0.5, -2.5, 1e300, "abc", "", None, [], {}, True, False, [1, 2, 3], [[1]],
                    "${nope}", "${1/0}", "${", "${10**20}", "${'a' * 3}", {"type": "conv"}, {"type": "repeat", "n": 5, "body": "relu"},
                    "relu", "flatten", "Bottleneck", {"x": {"y": {"z": 1}}}]
OPS = ["delete", "rename", "wrap", "set", "swap_type", "duplicate"]


def load_originals() -> dict[str, Any]:
    return {p.stem: YAML(typ="safe").load(p.read_text()) for p in sorted(SPECS.glob("*.yaml"))}


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, prefix + (i,))
    return out


def mutate(doc: Any, path: tuple, op: str, value: Any) -> Any:
    """Apply one mutation at `path` (in place where possible); returns the document."""
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    if op == "delete":
        del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        parent[f"{key}x"] = parent.pop(key)
    elif op == "wrap":
        parent[key] = [parent[key]]
    elif op == "swap_type" and isinstance(parent[key], dict) and "type" in parent[key]:
        parent[key]["type"] = random.choice(["conv", "linear", "bn", "repeat", "parallel", "residual", "tap", "seq", "maxpool", "Bottleneck"])
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, parent[key])
    else:
        parent[key] = value
    return doc


def dump(doc: Any) -> str:
    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(doc, buf)
    return buf.getvalue()


def random_yaml(rng: random.Random) -> str:
    chars = "abc:-[]{}, \n\t'\"#&*!|>%@`${}0123456789"
    return "".join(rng.choice(chars) for _ in range(rng.randint(0, 200)))


def mutated_text(rng: random.Random, originals: dict[str, Any]) -> str:
    """One random mutant: a mutated shipped spec (nine times in ten) or random YAML-ish text."""
    if rng.random() < 0.1:
        return random_yaml(rng)
    doc = YAML(typ="safe").load(dump(originals[rng.choice(sorted(originals))]))
    for _ in range(rng.randint(1, 3)):
        try:
            # a copy: an inserted value may itself be mutated next, and WEIRD's must stay as written
            doc = mutate(doc, rng.choice(paths(doc)), rng.choice(OPS), copy.deepcopy(rng.choice(WEIRD)))
        except (KeyError, IndexError, TypeError):
            pass  # the path vanished with an earlier mutation
    return dump(doc)
