"""libyaml's fast path (archspec/fastyaml.py) reads exactly what ruamel's round-trip loader reads, or
steps aside: the same data, the same positions, and ruamel's own errors."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from archspec import fastyaml, source
from archspec.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(fastyaml.CParser is None, reason="PyYAML without libyaml")


def fast(text: str) -> Any:
    return fastyaml.compose(text, source.MAX_NODES, source.MAX_NESTING)


def slow(text: str, monkeypatch: pytest.MonkeyPatch) -> source.Source | SpecError:
    """ruamel's reading of the text (the fast path switched off)."""
    with monkeypatch.context() as m:
        m.setattr(fastyaml, "compose", lambda *a: None)
        try:
            return source.parse_yaml(text, "t.yaml")
        except SpecError as e:
            return e


def assert_same(text: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    """True when the fast path read the text (and read it as ruamel does); False when it stepped aside."""
    got, want = fast(text), slow(text, monkeypatch)
    if got is None:
        return False
    assert not isinstance(want, SpecError), f"fast path accepted what ruamel refuses: {want}"
    data, values, keys = got
    assert data == want.data and type(data) is type(want.data)
    assert repr(data) == repr(want.data)  # 1 vs 1.0 vs True: equal, but not the same value
    assert (values, keys) == (want.values, want.keys)
    return True


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_takes_the_fast_path_and_reads_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert assert_same(path.read_text(), monkeypatch)


@pytest.mark.parametrize("text", [
    "a: &x [1]\nb: *x\n",  # anchors and aliases
    "base: {k: 1}\nm:\n  <<: {k: 2}\n",  # merge key
    "a: !!str 3\n",  # explicit tag
    "%YAML 1.1\n---\na: yes\n",  # directive: other resolution rules
    "a: 1\na: 2\n",  # duplicate key: ruamel's error
    "a: 0x1F\nb: 1_000\nc: .inf\nd: 0777\ne: 2001-12-14\n",  # numbers beyond decimal, timestamps
    "a: 1\n---\nb: 2\n",  # two documents
    "a: [1, 2\n",  # syntax error: ruamel's message
    "? [a, b]\n: 1\n",  # complex key
    "a: 99999999999999999999\n",  # past 2**63: ruamel's bound check
    "a: 1e999\n",  # not finite
])
def test_what_the_fast_path_leaves_to_ruamel(text: str) -> None:
    assert fast(text) is None


def test_plain_scalars_take_their_yaml_1_2_values() -> None:
    text = ("a: [true, True, TRUE, false, False, FALSE, null, Null, NULL, ~, 0, -7, +3, 123456789012345678,"
            " 1.5, -.5, 1e3, 2.5E-1, yes, no, on, 1_0x, relu, '1']")
    data, values, _ = fast(text)
    data = data["a"]
    assert data == [True, True, True, False, False, False, None, None, None, None, 0, -7, 3, 123456789012345678,
                    1.5, -0.5, 1000.0, 0.25, "yes", "no", "on", "1_0x", "relu", "1"]
    assert [type(v) for v in data[10:18]] == [int] * 4 + [float] * 4
    assert values[("a", 1)] == (0, 10)  # 0-based line and column, as ruamel's


def test_the_node_budget_and_the_integer_bound_are_exact() -> None:
    assert fastyaml.compose("a: [1, 2]\n", 5, 100) is not None  # the mapping, its key, the list and 2 items
    assert fastyaml.compose("a: [1, 2]\n", 4, 100) is None
    assert fast("a: 999999999999999999\n")[0] == {"a": 999999999999999999}  # 18 digits: always below 2**63
    assert fast("a: 1000000000000000000\n") is None  # 19: ruamel's bound check decides


@pytest.mark.parametrize("text", ["x: 1\r\ny: >-\r\n  t\r\n  u\r\n", "x: 1\r\ny: [a,\r\n  b]\r\n"])
def test_windows_line_ends_read_the_same(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert assert_same(text, monkeypatch)


@pytest.mark.parametrize("text", ["x: 1\ry: |\r  t\r", ">\r#", "[1, 2]\n", "just text\n"])
def test_lone_carriage_returns_and_roots_other_than_a_mapping_are_left_to_ruamel(text: str) -> None:
    assert fast(text) is None  # a CR-only file once sent the block-scalar check past its last line


@pytest.mark.parametrize("text", ["x: 1\x85y: 2\n", "x: 1\u2028y: |\n  t\n", "a:\tb\n"])
def test_other_line_breaks_and_tabs_are_left_to_ruamel(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert fast(text) is None and not assert_same(text, monkeypatch)


def test_nesting_past_the_limit_is_ruamels_located_error() -> None:
    text = "a: " + "[" * (source.MAX_NESTING + 5) + "]" * (source.MAX_NESTING + 5) + "\n"
    assert fast(text) is None
    with pytest.raises(SpecError, match="nests more than"):
        source.parse_yaml(text, "t.yaml")


def test_a_duplicate_key_keeps_ruamels_error(monkeypatch: pytest.MonkeyPatch) -> None:
    err = slow("a: 1\na: 2\n", monkeypatch)
    with pytest.raises(SpecError) as e:
        source.parse_yaml("a: 1\na: 2\n", "t.yaml")
    assert str(e.value) == str(err) and "t.yaml:2:1" in str(e.value)


# Plain words whose meaning differs between YAML 1.1 (PyYAML's own resolver) and 1.2 (ruamel's), or
# that sit at the edge of the number forms the fast path converts itself.
TRICKY = ["yes", "no", "on", "off", "y", "n", "true", "True", "TRUE", "false", "null", "Null", "~", "",
          "1", "-1", "+1", "0", "00", "07", "08", "1.", ".5", "-.5", "1e3", "1E-3", "1.5e+2", "+.5e1",
          "1_0", "0o7", "0b1", "0x1f", ".nan", "-.inf", "1:20", "3.0.1", "1e", "e3", "--1", "2001-01-01",
          "relu", "${i + 1}", "a b", "x-y", "=", "<<", "9223372036854775807", "123456789012345678"]
SCALAR = st.one_of(st.sampled_from(TRICKY), st.from_regex(r"[-+]?[0-9]{0,3}(\.[0-9]{0,3})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
                   st.text("ab01.:-_ ", max_size=6))
DATA = st.recursive(st.one_of(SCALAR, st.integers(-10**6, 10**6), st.booleans(), st.none()),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SCALAR, inner, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)  # the same examples in every CI run
@given(DATA, st.sampled_from([None, True, False]), st.integers(2, 6))
def test_generated_documents_read_the_same(data: Any, flow: bool | None, indent: int) -> None:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = flow
    yaml.indent(mapping=indent, sequence=indent + 2, offset=indent)
    out = io.StringIO()
    yaml.dump({"doc": data}, out)
    with pytest.MonkeyPatch.context() as m:
        assert_same(out.getvalue(), m)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)  # the same examples in every CI run
@given(st.lists(st.tuples(st.sampled_from(["k", "type", "a b", "1", "yes"]), SCALAR), min_size=1, max_size=5),
       st.sampled_from(["{k}: {v}\n", "- {k}: {v}\n", "{k}: [{v}, {v}]\n", "{k}: {{x: {v}}}\n", "{k}:\n  - {v}\n"]))
def test_plain_scalars_resolve_as_ruamel_resolves_them(pairs: list[tuple[str, str]], line: str) -> None:
    text = "".join(line.format(k=k, v=v) for k, v in pairs)
    with pytest.MonkeyPatch.context() as m:
        assert_same(text, m)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)  # the same examples in every CI run
@given(st.text(alphabet=st.sampled_from(list("ab1:- []{},#&*!|>'\"\n\r\t%?é\x85")), max_size=60))
def test_arbitrary_text_reads_the_same_or_steps_aside(text: str) -> None:
    with pytest.MonkeyPatch.context() as m:
        assert_same(text, m)
