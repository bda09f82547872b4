"""Mutated specs either build or raise archspec's own located error: never another exception."""
from __future__ import annotations

import io
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

import archspec
from archspec.errors import SpecError
from conftest import SPECS

NAMES = ["lenet", "mnist_inception", "mnist_residual", "resnet18", "googlenet"]
ORIGINALS = {n: YAML(typ="safe").load((SPECS / f"{n}.yaml").read_text()) for n in NAMES}
WEIRD = [0, -1, 3, 10**9, 0.5, -2.5, "abc", "", None, [], {}, True, [1, 2, 3], "${nope}", "${1/0}", "${", {"type": "conv"}]


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
    else:
        parent[key] = value
    return doc


def dump(doc: Any) -> str:
    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(doc, buf)
    return buf.getvalue()


@settings(max_examples=int(os.environ.get("ARCHSPEC_FUZZ_EXAMPLES", 300)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NAMES), st.data())
def test_mutated_spec_builds_or_fails_located(name: str, data: st.DataObject) -> None:
    doc = YAML(typ="safe").load(dump(ORIGINALS[name]))  # a fresh deep copy
    path = data.draw(st.sampled_from(paths(doc)))
    op = data.draw(st.sampled_from(["delete", "rename", "wrap", "set"]))
    value = data.draw(st.sampled_from(WEIRD))
    text = dump(mutate(doc, path, op, value))
    try:
        a = archspec.analyze(text)
    except SpecError as e:
        assert e.loc is not None and e.loc.line >= 1, str(e)
        return
    assert a.shapes and all(all(d >= 1 for d in s) for s in a.shapes)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_crashes(text: str) -> None:
    try:
        archspec.analyze(text + "\n")  # the newline marks it as YAML text, not a path
    except SpecError as e:
        assert e.loc is not None
