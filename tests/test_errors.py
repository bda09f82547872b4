"""One test per kind of spec mistake: the exact one-line message with file:line:col, and exit code 2."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.cli import main
from archspec.errors import SpecError

HEAD = "input: [1, 28, 28]\nnetwork:\n"

CASES = {
    "yaml_syntax": (
        HEAD + "  - conv1: {type: conv, out_channels: 6, kernel_size: 5\n  - flatten\n",
        "net.yaml:5:1: YAML syntax error: expected ',' or '}', but got '<stream end>' "
        "(while parsing a flow mapping started at 3:12)"),
    "unknown_type": (
        HEAD + "  - conv1: {type: cnov, out_channels: 6, kernel_size: 5}\n",
        "net.yaml:3:19: network.conv1 (cnov): unknown block type 'cnov'; did you mean 'conv'?"),
    "unknown_field": (
        HEAD + "  - conv1: {type: conv, out_channel: 6, kernel_size: 5}\n",
        "net.yaml:3:25: network.conv1 (conv): unknown field 'out_channel'; did you mean 'out_channels'?"),
    "missing_field": (
        HEAD + "  - conv1: {type: conv, kernel_size: 5}\n",
        "net.yaml:3:12: network.conv1 (conv): missing required field 'out_channels' (number of output channels)"),
    "wrong_type": (
        HEAD + "  - conv1: {type: conv, out_channels: six, kernel_size: 5}\n",
        "net.yaml:3:39: network.conv1 (conv): out_channels: expected a positive integer (or a ${...} expression), found 'six'"),
    "wrong_choice": (
        HEAD + "  - {type: act, fn: rleu}\n",
        "net.yaml:3:21: network[0] (act): fn: expected one of relu, relu6, sigmoid, tanh, gelu, silu, leaky_relu, elu, "
        "hardswish, mish, hardsigmoid, softmax, softplus, identity (or a ${...} expression), found 'rleu'; did you mean 'relu'?"),
    "undefined_param": (
        "params: {num_classes: 10}\n" + HEAD + "  - flatten\n  - fc: {type: linear, out_features: \"${num_clases}\"}\n",
        "net.yaml:5:38: network.fc (linear): out_features: undefined parameter 'num_clases'; did you mean 'num_classes'?"),
    "expression_type": (
        "params: {c: 10}\n" + HEAD + "  - conv1: {type: conv, out_channels: \"${c / 3}\", kernel_size: 1}\n",
        "net.yaml:4:39: network.conv1 (conv): out_channels: expected a positive integer, found 3.3333333333333335"),
    "unknown_block": (
        "input: [3, 32, 32]\nblocks:\n  Bottleneck:\n    body: [{type: conv, out_channels: 8, kernel_size: 1}]\n"
        "network:\n  - layer1: {type: repeat, n: 2, body: {type: Bottlenek}}\n",
        "net.yaml:6:47: network.layer1.body (Bottlenek): unknown block 'Bottlenek'; did you mean 'Bottleneck'?"),
    "recursion": (
        "input: [3, 32, 32]\nblocks:\n  A:\n    body: [{type: conv, out_channels: 8, kernel_size: 1}, {type: B}]\n"
        "  B:\n    body: [{type: A}]\nnetwork:\n  - a: A\n",
        "net.yaml:6:12: network.a (A): block 'A' uses itself (A -> B -> A)"),
    "unknown_block_param": (
        "input: [3, 32, 32]\nblocks:\n  B:\n    params: {planes: null}\n    body: [{type: conv, out_channels: \"${planes}\", kernel_size: 1}]\n"
        "network:\n  - b: {type: B, plane: 4}\n",
        "net.yaml:7:18: network.b (B): unknown parameter 'plane' for block B; did you mean 'planes'?"),
    "duplicate_name": (
        HEAD + "  - c: {type: conv, out_channels: 4, kernel_size: 1}\n  - c: {type: conv, out_channels: 4, kernel_size: 1}\n",
        "net.yaml:4:8: network.c: two blocks are named 'c' in 'network' (the other is at net.yaml:3:8); give one a different name"),
}

SHAPE_CASES = {
    "channel_mismatch_at_add": (
        "input: [3, 32, 32]\nnetwork:\n  - stem: {type: conv, out_channels: 16, kernel_size: 3, padding: 1}\n"
        "  - block:\n      type: residual\n      body:\n        - conv1: {type: conv, out_channels: 32, kernel_size: 3, padding: 1}\n",
        "net.yaml:5:7: network.block (add): channel mismatch at add: branch 0 gives (B, 32, 32, 32), branch 1 gives (B, 16, 32, 32)",
        ["    network.block.conv1  conv   (B, 32, 32, 32)   4,640", ">>  network.block        add    error"]),
    "spatial_mismatch_at_concat": (
        "input: [3, 32, 32]\nnetwork:\n  - mix:\n      type: parallel\n      branches:\n"
        "        - a: {type: conv, out_channels: 8, kernel_size: 3, padding: 1}\n        - b: {type: conv, out_channels: 8, kernel_size: 3}\n",
        "net.yaml:4:7: network.mix (concat): spatial mismatch at concat: branch 0 gives (B, 8, 32, 32), branch 1 gives (B, 8, 30, 30)",
        ["    network.mix.b  conv    (B, 8, 30, 30)     224", ">>  network.mix    concat  error"]),
    "shrinks_to_zero": (
        HEAD + "  - conv1: {type: conv, out_channels: 6, kernel_size: 5}\n  - pool1: {type: maxpool, kernel_size: 2}\n"
        "  - conv2: {type: conv, out_channels: 16, kernel_size: 5}\n  - pool2: {type: maxpool, kernel_size: 2}\n"
        "  - conv3: {type: conv, out_channels: 32, kernel_size: 5}\n",
        "net.yaml:7:12: network.conv3 (conv): conv would shrink the input to 0x0: input (B, 16, 4, 4), "
        "kernel_size 5, stride 1, padding 0, dilation 1",
        ["    network.pool2  maxpool  (B, 16, 4, 4)        0", ">>  network.conv3  conv     error"]),
    "linear_on_image": (
        HEAD + "  - fc: {type: linear, out_features: 10}\n",
        "net.yaml:3:9: network.fc (linear): linear expects input (B, F), found (B, 1, 28, 28); add a flatten before it",
        [">>  network.fc  linear  error"]),
    "groups_must_divide": (
        HEAD + "  - c: {type: conv, out_channels: 6, kernel_size: 1, groups: 4}\n",
        "net.yaml:3:8: network.c (conv): groups=4 must divide in_channels=1 and out_channels=6 (input (B, 1, 28, 28))",
        [">>  network.c  conv   error"]),
}


def error_of(path: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        archspec.build(path)
    return info.value


@pytest.mark.parametrize("kind", CASES)
def test_spec_error_message(kind: str, write_spec, monkeypatch) -> None:
    text, expected = CASES[kind]
    path = write_spec(text)
    monkeypatch.chdir(Path(path).parent)
    assert error_of("net.yaml").headline() == expected


@pytest.mark.parametrize("kind", SHAPE_CASES)
def test_shape_error_message_and_partial_table(kind: str, write_spec, monkeypatch) -> None:
    text, expected, table_lines = SHAPE_CASES[kind]
    monkeypatch.chdir(Path(write_spec(text)).parent)
    err = error_of("net.yaml")
    assert err.headline() == expected
    lines = [ln.rstrip() for ln in err.detail.splitlines()]
    for want in table_lines:
        assert any(ln.startswith(want) for ln in lines), (want, err.detail)
    assert lines[-2].startswith(">>")  # the failing block is the last row, marked


def test_cli_prints_message_and_exits_2(write_spec, monkeypatch, capsys) -> None:
    text, expected = CASES["unknown_field"]
    monkeypatch.chdir(Path(write_spec(text)).parent)
    assert main(["summary", "net.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == expected


def test_cli_subprocess_has_no_traceback(write_spec) -> None:
    path = write_spec(SHAPE_CASES["shrinks_to_zero"][0])
    r = subprocess.run([sys.executable, "-m", "archspec.cli", "summary", path], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{path}:7:12: network.conv3 (conv): conv would shrink the input to 0x0")
    assert ">>  network.conv3" in r.stderr


def test_unknown_override_parameter(write_spec) -> None:
    path = write_spec("params: {num_classes: 10}\n" + HEAD + "  - flatten\n")
    with pytest.raises(SpecError, match=r"net.yaml:1:1: unknown parameter 'num_clases'; did you mean 'num_classes'\?"):
        archspec.build(path, num_clases=3)


def test_missing_file_is_a_spec_error(tmp_path) -> None:
    with pytest.raises(SpecError, match="spec file not found: .*nope.yaml"):
        archspec.build(str(tmp_path / "nope.yaml"))
