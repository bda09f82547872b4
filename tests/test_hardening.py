"""Hardening: no spec, flag or file makes archspec crash, hang or build a wrong network. One test per
class of hostile input (each fixed at its cause), and a property test over randomly generated valid
specs (tools/fuzz_specs.py): each builds, its inferred shapes equal torch's, and its output is finite."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec.cli import main
from archspec.errors import SpecError, first_line
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import fuzz_specs  # noqa: E402

HEAD = "input: [3, 8, 8]\nnetwork:\n"


def error(text: str) -> str:
    with pytest.raises(SpecError) as e:
        archspec.analyze(text)
    return str(e.value)


# -- YAML that loads oddly ------------------------------------------------------------------------
MERGED = """params:
  base: &p {width: 4, depth: 2}
  <<: *p
  depth: 3
blocks:
  B:
    params: &bp {c: 4, s: 1}
    body:
      - c1: &conv {type: conv, out_channels: "${c}", kernel_size: 3, padding: 1}
      - c2: {<<: *conv, kernel_size: 1, padding: 0}
  C:
    params: {<<: *bp, s: 2}
    body: [relu]
input: [3, 8, 8]
network:
  - b: B
  - x: C
  - c3: {<<: *conv, out_channels: "${width}"}
  - c4: {<<: *conv, out_channels: 2}
"""


def test_merge_keys_load_with_positions() -> None:
    a = archspec.analyze(MERGED)
    assert [n.display for n in a.graph.nodes] == ["network", "network.b.c1", "network.b.c2", "network.x[0]", "network.c3", "network.c4"]
    assert a.shapes[2] == (4, 8, 8) and a.shapes[-1] == (2, 8, 8)
    assert str(a.graph.nodes[-1].loc) == "<spec>:19:9"
    # a field that a merge brings in is located where the anchor wrote it
    assert error(MERGED.replace('"${width}"}', '"${width}", bad: 1}')) == \
        "<spec>:18:47: network.c3 (conv): unknown field 'bad'; expected one of: bias, dilation, groups, kernel_size, out_channels, padding, stride, when"


@pytest.mark.parametrize("value, message", [
    ("!!int abc", "<spec>:3:35: YAML value error: cannot read 'abc' as !!int (invalid literal for int() with base 10: 'abc')"),
    ("!!float x", "<spec>:3:35: YAML value error: cannot read 'x' as !!float (could not convert string to float: 'x')"),
    ("!!timestamp 2001-99-99", "<spec>:3:35: YAML value error: cannot read '2001-99-99' as !!timestamp (month must be in 1..12)"),
    ("!!bool maybe", "<spec>:3:35: YAML value error: cannot read 'maybe' as !!bool ('maybe')"),
    ("9" * 5000, "<spec>:3:35: YAML value error: cannot read '99999999999999999999' as !!int (5,000 digits; the limit is 2**63)"),
    ("9" * 30, "<spec>:3:35: integer of 30 digits is out of range (limit 2**63)"),
])
def test_values_that_cannot_be_constructed_are_located(value: str, message: str) -> None:
    assert error(HEAD + f"  - c: {{type: conv, out_channels: {value}, kernel_size: 1}}\n") == message


@pytest.mark.parametrize("encoding, where", [("latin-1", "2:6"), ("utf-16", "1:1")])
def test_files_that_are_not_utf8_are_refused(tmp_path: Path, encoding: str, where: str) -> None:
    p = tmp_path / "net.yaml"
    p.write_bytes(("# a comment\n# café\n" + HEAD + "  - relu\n").encode(encoding))
    with pytest.raises(SpecError) as e:
        archspec.analyze(str(p))
    assert str(e.value).startswith(f"{p}:{where}: the file is not UTF-8 text (byte 0x")
    assert str(e.value).endswith("); save it as UTF-8")


# -- names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["class", "forward", "state_dict", "None"])
def test_reserved_names_fail_check_with_a_location(write_spec, capsys, name: str) -> None:
    path = write_spec(HEAD + f"  - {name}: relu\n")
    assert main(["check", path]) == 2
    assert capsys.readouterr().err == (f"{path}:3:5: block name '{name}' is taken by the compiled module (an attribute of "
                                       "nn.Module or a Python keyword); choose another name\n")


def test_two_containers_of_one_name_are_refused() -> None:
    assert error(HEAD + "  - s: [relu]\n  - s: [relu]\n") == \
        "<spec>:4:8: network.s: two blocks are named 's' in 'network' (the other is at <spec>:3:8); give one a different name"
    assert error(HEAD + "  - s: relu\n  - s: [relu]\n").startswith("<spec>:4:8: network.s: two blocks are named 's' in 'network'")


# -- numbers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("block, message", [
    ('{type: bn, eps: .nan}', '<spec>:3:21: nan is not a finite number; spec values must be finite'),
    ('{type: bn, momentum: -.inf}', '<spec>:3:26: -inf is not a finite number; spec values must be finite'),
    ('{type: act, fn: leaky_relu, negative_slope: 1e400}', '<spec>:3:49: inf is not a finite number; spec values must be finite'),
    ('{type: act, fn: leaky_relu, negative_slope: "${float(\'nan\')}"}', '<spec>:3:49: network (act): negative_slope: value nan is not a finite number'),
    ('{type: layer_norm, eps: -1.0}', '<spec>:3:29: network[0] (layer_norm): eps: expected a finite positive number (or a ${...} expression), found -1.0'),
    ('{type: conv_block, out_channels: 4, kernel_size: 1, eps: 0}', '<spec>:3:62: network[0] (conv_block): eps: expected a finite positive number (or a ${...} expression), found 0'),
    ('{type: bn, eps: 0}', '<spec>:3:21: network[0] (bn): eps: expected a finite positive number (or a ${...} expression), found 0'),
    ('{type: dropout, p: "${float(\'inf\')}"}', '<spec>:3:24: network (dropout): p: value inf is not a finite number'),
])
def test_float_fields_are_finite_and_in_range(block: str, message: str) -> None:
    assert error(HEAD + f"  - {block}\n") == message


# -- expressions ----------------------------------------------------------------------------------
def lets(seed: str, step: str) -> str:
    body = ", ".join(["b0: \"${a + a}\""] + [f"b{i}: \"${{{step.format(p=f'b{i - 1}')}}}\"" for i in range(1, 40)])
    return f"params: {{a: \"${{{seed}}}\"}}\nlet: {{{body}}}\n" + HEAD + "  - relu\n"


@pytest.mark.parametrize("text, message", [
    ("params: {a: \"${'%0999999999d' % 1}\"}\n" + HEAD + "  - relu\n",
     "<spec>:1:13: a: '%' works on numbers only (string formatting is not allowed in expressions)"),
    ("params: {a: \"${round(1, -10**12)}\"}\n" + HEAD + "  - relu\n",
     "<spec>:1:13: a: ${round(1, -10**12)} failed: round: ndigits must be between -20 and 20, found -1000000000000"),
    (lets("'ab'", "{p} + {p}"), "<spec>:2:230: b12: a str of more than 10,000 characters or elements is out of range"),
    (lets("[1]", "{p} + {p}"), "<spec>:2:251: b13: a list of more than 10,000 characters or elements is out of range"),
    (lets("[[1]]", "[{p}, {p}]"), "<spec>:2:219: b11: a list of more than 10,000 characters or elements is out of range"),
], ids=["format", "round", "strings", "lists", "nested lists"])
def test_expression_results_are_bounded(text: str, message: str) -> None:
    assert error(text) == message


# -- inputs ---------------------------------------------------------------------------------------
def test_input_sizes_written_as_expressions_are_checked() -> None:
    assert error("params: {w: 0}\ninput: [3, \"${w}\", 8]\nnetwork: [relu]\n") == \
        "<spec>:2:12: input: expected positive sizes of at most 1,048,576, found 0 at position 1"


def test_activation_memory_is_refused_with_its_figure(monkeypatch) -> None:
    from archspec import limits

    monkeypatch.setattr(limits, "available_bytes", lambda: 16 * 10**9)
    with pytest.raises(SpecError) as e:
        archspec.build("input: [3, 100000, 100000]\nnetwork:\n  - {type: conv, out_channels: 8, kernel_size: 1}\n")
    assert str(e.value) == ("<spec>:3:5: network[0] (conv): one sample's activations take 440.0 GB as float32 but 16.0 GB of "
                            "memory is available; the largest is this block's output, 320.0 GB")


def test_a_huge_flatten_is_a_located_error() -> None:
    assert error("input: [1048576, 1048576, 1048576, 4096]\nnetwork: [flatten, {type: linear, out_features: 2}]\n") == \
        ("<spec>:1:8: network (input): the input (B, 1048576, 1048576, 1048576, 4096) has 4,722,366,482,869,645,213,696 "
         "elements per sample; the limit is 2**40 (1,099,511,627,776)")


# -- depth and size -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    (HEAD + "  " + "[" * 70 + "relu" + "]" * 70 + "\n", "<spec>:3:69: blocks nest more than 64 deep (lists, containers and user blocks all count)"),
    (HEAD + "  - " + "{type: residual, body: " * 70 + "relu" + "}" * 70 + "\n",
     "<spec>:3:1500: blocks nest more than 64 deep (lists, containers and user blocks all count)"),
    ("input: [3, 8, 8]\nblocks:\n" + "".join(f"  B{i}:\n    body: [B{i + 1}]\n" for i in range(80)) + "  B80:\n    body: [relu]\nnetwork: [B0]\n",
     "<spec>:132:12: blocks nest more than 64 deep (lists, containers and user blocks all count)"),
    (HEAD + "  " + "[" * 400 + "relu" + "]" * 400 + "\n", "<spec>:3:102: the YAML nests more than 100 levels deep"),
], ids=["lists", "residuals", "user blocks", "yaml"])
def test_nesting_of_every_kind_hits_a_located_limit(text: str, message: str) -> None:
    assert error(text) == message


def test_two_nested_repeats_lower_every_block() -> None:
    a = archspec.analyze("input: [4]\nnetwork:\n  - r: {type: repeat, n: 999, body: {type: repeat, n: 10, body: relu}}\n")
    assert len(a.graph.nodes) == 9991 and a.graph.nodes[-1].path == "r.998.9"


# -- CLI ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag, problem", [
    ("c=[1,", "expected the node content, but found '<stream end>'"),
    ("c=*x", "found undefined alias 'x'"),
    ("c=!foo 3", "could not determine a constructor for the tag '!foo'"),
])
def test_set_values_that_do_not_parse_name_the_flag(capsys, flag: str, problem: str) -> None:
    assert main(["check", str(ROOT / "specs" / "lenet.yaml"), "--set", flag]) == 2
    assert capsys.readouterr().err == f"error: --set {flag}: the value is not valid YAML ({problem}); quote a string, e.g. --set 'k=\"text\"'\n"


def test_output_into_a_missing_folder_and_check_on_a_folder(tmp_path: Path, capsys) -> None:
    spec = str(ROOT / "specs" / "lenet.yaml")
    assert main(["graph", spec, "-o", str(tmp_path / "nowhere" / "g.dot")]) == 2
    assert capsys.readouterr().err == f"error: cannot write {tmp_path}/nowhere/g.dot: the folder {tmp_path}/nowhere does not exist\n"
    assert main(["check", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"{tmp_path} is a folder; give a spec file (.yaml)\n"


# -- output files ---------------------------------------------------------------------------------
INJECT = 'name: "x\\"]; a [URL=\\"javascript:alert(1)\\"]; b [\\""\n' + 'output: "o\\"] --> click"\n' + HEAD + \
    "  - 'a<b>]': relu\n  - {type: residual, body: [relu]}\n"  # a block name may not hold a quote (test_language)


def test_graph_files_escape_names() -> None:
    from archspec.render import build_picture, dot, mermaid

    a = archspec.analyze(INJECT)
    d, m = dot(build_picture(a), a.spec.name), mermaid(build_picture(a))
    assert d.splitlines()[0] == 'digraph "x\\"]; a [URL=\\"javascript:alert(1)\\"]; b [\\"" {'
    assert '  n1 [label="a<b>]\\nrelu", shape=box];' in d
    assert '  out_o_x22__x5d__x20__x2d__x2d__x3e__x20_click [label="o\\"] --> click", shape=ellipse];' in d
    assert '  n1["a#60;b#62;#93;<br/>relu"]' in m
    assert '  out_o_x22__x5d__x20__x2d__x2d__x3e__x20_click(["o#34;#93; --#62; click"])' in m


def test_the_spec_name_cannot_break_out_of_python_written_from_the_module() -> None:
    """The spec's name names the compiled class, which fx writes into source (print_readable, to_folder)."""
    import ast

    m = archspec.build(INJECT.replace('name: "x', 'name: "x\\n  import os\\n'))
    tree = ast.parse(m.print_readable(print_output=False))
    assert [type(n).__name__ for n in tree.body] == ["ClassDef"] and tree.body[0].name == type(m).__name__
    assert type(m).__name__.isidentifier() and type(m).__name__.startswith("x___import_os_")


def test_the_spec_name_cannot_place_the_run_folder_outside_runs(tmp_path: Path) -> None:
    from archspec.train.runs import default_out

    out = default_out("../../tmp/x y", root=tmp_path / "runs")
    assert out.parent == tmp_path / "runs" and out.name.startswith("______tmp_x_y-")


# -- error messages that crash while being written ------------------------------------------------
def test_messages_quote_exceptions_without_text() -> None:
    assert first_line(EOFError()) == "EOFError"
    assert first_line(ValueError("\n  two\nlines")) == "two"


def test_empty_and_corrupt_checkpoints_are_checkpoint_errors(tmp_path: Path) -> None:
    import json
    import struct

    from archspec.train import checkpoint as ckpt

    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(SpecError, match=r"empty.pt is not a readable checkpoint \(corrupt or truncated\?\): EOFError$"):
        ckpt.load(tmp_path / "empty.pt")
    header = json.dumps({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(10))
    with pytest.raises(SpecError, match=r"model.safetensors is not a readable safetensors file: Error while deserializing header"):
        ckpt.load(tmp_path / "model.safetensors")


# -- generated specs: build or a located error; shapes as torch computes them -------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_generated_specs_build_with_torchs_shapes(seed: int) -> None:
    text = fuzz_specs.generated_text(random.Random(seed))
    assert fuzz_specs.outcome(text, deep=True) in ("built", "validated", "located error"), text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(sorted(fuzz_specs.HOSTILE)))
def test_hostile_specs_give_located_errors(seed: int, cls: str) -> None:
    text = fuzz_specs.HOSTILE[cls](random.Random(seed))
    if cls == "size":
        return  # 100,000 blocks take seconds each; tools/fuzz_specs.py covers them
    assert fuzz_specs.outcome(text) in ("built", "validated", "located error"), text


# -- values from outside the spec: --set flags and a checkpoint's parameters ---------------------
SET_NET = """params: {num_classes: 10, width: 4}
input: [1, 8, 8]
network:
  - conv: {type: conv, out_channels: "${width}", kernel_size: 3}
  - flatten
  - fc: {type: linear, out_features: "${num_classes * width}"}
train: {dataset: synthetic, synthetic_size: 32, limit_test: 16, epochs: 1, batch_size: 16, lr: 0.1, download: false}
"""


@pytest.mark.parametrize("argv, message", [
    (["check", "--set", "num_classes=-3"],
     "--set num_classes=-3: network.fc (linear): out_features: expected a positive integer, found -12 (at {p}:6:38)"),
    (["summary", "--set", "width=abc"],
     "error: --set width=abc: network.conv (conv): out_channels: expected a positive integer, found 'abc' (at {p}:4:38)"),
    (["summary", "--set", "num_classes=${1 // 0}"],
     "error: --set num_classes=${1 // 0}: num_classes: ${1 // 0} failed: integer division or modulo by zero (at {p}:1:23)"),
    (["check", "--set", "num_clases=3"],
     "--set num_clases=3: unknown parameter 'num_clases'; did you mean 'num_classes'? (at {p}:1:1)"),
    (["check", "--set", "width=-2", "--set", "num_classes=3"],  # only the flag whose value is wrong
     "--set width=-2: network.conv (conv): out_channels: expected a positive integer, found -2 (at {p}:4:38)"),
    (["check", "--set", "width=2", "--set", "num_classes=-3"],  # both make the value the field refuses
     "--set width=2 --set num_classes=-3: network.fc (linear): out_features: expected a positive integer, found -6 (at {p}:6:38)"),
    (["train", "--set", "train.lr=-1"], "error: --set train.lr=-1: train (train): lr: expected a number > 0, found -1 (at {p}:7:96)"),
    (["train", "--batch-size", "0"], "error: --batch-size 0: train (train): batch_size: expected an integer >= 1, found 0 (at {p}:7:88)"),
    (["train", "--set", "num_classes=-3"],
     "error: --set num_classes=-3: network.fc (linear): out_features: expected a positive integer, found -12 (at {p}:6:38)"),
], ids=["check", "summary", "expression", "unknown", "one of two", "two", "train field", "train flag", "train param"])
def test_set_values_wrong_for_their_field_name_the_flag(write_spec, tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    path = write_spec(SET_NET)
    out = ["--out", str(tmp_path / "run"), "--no-progress"] if argv[0] == "train" else []
    assert main([argv[0], path, *argv[1:], *out]) == 2
    assert capsys.readouterr().err == message.replace("{p}", path) + "\n"


def test_a_spec_mistake_is_not_blamed_on_a_harmless_flag(write_spec, capsys) -> None:
    path = write_spec(SET_NET.replace('"${width}"', '"${width - 4}"'))
    assert main(["check", path, "--set", "num_classes=5"]) == 2
    assert capsys.readouterr().err == f"{path}:4:38: network.conv (conv): out_channels: expected a positive integer, found 0\n"


def test_values_given_to_build_are_held_to_the_bounds_of_expressions() -> None:
    with pytest.raises(SpecError) as e:
        archspec.analyze(SET_NET, {"width": list(range(20_000))})
    assert str(e.value) == "<spec>:1:34: width: a list of more than 10,000 characters or elements is out of range"
    assert e.value.overrides == ("width",)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[str, Path]:
    """A one-epoch run of SET_NET on 32 synthetic images: its folder holds a real checkpoint.pt and model.safetensors."""
    from archspec.train.loop import train

    root = tmp_path_factory.mktemp("stored_params")
    (root / "net.yaml").write_text(SET_NET)
    train(str(root / "net.yaml"), out=root / "run", progress=False)
    return str(root / "net.yaml"), root / "run"


def test_eval_names_a_set_flag_that_does_not_fit(tiny_run, capsys) -> None:
    spec, run = tiny_run
    assert main(["eval", spec, str(run / "checkpoint.pt"), "--set", "width=abc"]) == 2
    assert capsys.readouterr().err == \
        f"error: --set width=abc: network.conv (conv): out_channels: expected a positive integer, found 'abc' (at {spec}:4:38)\n"


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def cyclic() -> list:
    value: list = []
    value.append(value)
    return value


def tensor() -> object:
    import torch

    return torch.zeros(2)


DAMAGED = "; the file is damaged or was not written by archspec"
HOSTILE_PARAMS = {  # how to make the value, what the refusal says
    "long string": (lambda: "x" * 10**6, "a str of more than 10,000 characters or elements is out of range"),
    "long list": (lambda: list(range(10**5)), "a list of more than 10,000 characters or elements is out of range"),
    "deep list": (lambda: nested(200), "a list nested more than 100 levels deep is out of range"),  # torch.save recurses past ~300
    "cycle": (cyclic, "a list nested more than 100 levels deep is out of range"),
    "huge int": (lambda: 10**500, "an integer of about 500 digits is out of range (limit 1e+12)"),  # torch loads ints of <= 255 bytes
    "nan": (lambda: float("nan"), "value nan is not a finite number"),
    "tensor": (tensor, "a Tensor is not a parameter value (numbers, strings, true/false, null, lists and mappings are)"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_PARAMS))
def test_stored_params_are_bounded_before_eval_uses_them(tiny_run, tmp_path: Path, capsys, case: str) -> None:
    import torch

    from archspec.train import checkpoint as ckpt

    spec, run = tiny_run
    make, problem = HOSTILE_PARAMS[case]
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["record"]["params"] = {"width": make()}
    ckpt.save(tmp_path / "checkpoint.pt", state)
    assert main(["eval", spec, str(tmp_path / "checkpoint.pt")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'checkpoint.pt'}: stored parameter 'width': {problem}{DAMAGED}\n"


@pytest.mark.parametrize("text, message", [
    ('{"width": ' + "9" * 4000 + "}", "stored parameter 'width': an integer of about 4,000 digits is out of range (limit 1e+12)" + DAMAGED),
    ('{"width": ' + "9" * 5000 + "}", "metadata 'archspec.params' is not a JSON value archspec could have written (an integer of too many digits)"),
    ('{"width": ' + "[" * 100_000 + "]" * 100_000 + "}", "metadata 'archspec.params' nests too deeply to be a value archspec wrote"),
    ('{"width": "' + "x" * 10**6 + '"}', "stored parameter 'width': a str of more than 10,000 characters or elements is out of range" + DAMAGED),
    ('"width"', "its stored parameters are a str, not a mapping of at most 10,000; the file was not written by archspec"),
], ids=["4000 digits", "5000 digits", "deep", "long string", "not a mapping"])
def test_safetensors_metadata_params_are_bounded(tiny_run, tmp_path: Path, capsys, text: str, message: str) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    spec, run = tiny_run
    with safe_open(str(run / "model.safetensors"), framework="pt") as f:
        meta = f.metadata()
    bad = tmp_path / "model.safetensors"
    save_file(load_file(str(run / "model.safetensors")), str(bad), metadata={**meta, "archspec.params": text})
    assert main(["eval", spec, str(bad)]) == 2
    assert capsys.readouterr().err == f"error: {bad}: {message}\n"


def test_a_resumed_run_bounds_its_stored_params(tiny_run, tmp_path: Path, capsys) -> None:
    import shutil

    import torch

    from archspec.train import checkpoint as ckpt

    _, run = tiny_run
    shutil.copytree(run, tmp_path / "run")
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["record"]["params"] = state["params"] = {"width": "x" * 10**6}
    ckpt.save(tmp_path / "run" / "checkpoint.pt", state)
    assert main(["train", "--resume", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'run' / 'checkpoint.pt'}: stored parameter 'width': a str of more than "
                                       f"10,000 characters or elements is out of range{DAMAGED}\n")
