"""`archspec summary`: a golden table, the header facts, and every shipped spec."""
from __future__ import annotations

from pathlib import Path

import pytest

from archspec.cli import main
from conftest import ROOT, SPECS

GOLDEN = Path(__file__).parent / "golden"


def run(capsys, *argv: str) -> str:
    assert main(["summary", *argv]) == 0
    return capsys.readouterr().out


def test_lenet_table_matches_golden(capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    assert run(capsys, "specs/lenet.yaml") == (GOLDEN / "lenet_summary.txt").read_text()


def test_googlenet_header(capsys) -> None:
    out = run(capsys, str(SPECS / "googlenet.yaml"), "--depth", "1")
    lines = out.splitlines()
    assert lines[1] == "input:      (B, 3, 224, 224)"
    assert lines[2] == "outputs:    aux1 (B, 1000) (training only), aux2 (B, 1000) (training only), out (B, 1000)"
    assert lines[3] == "parameters: 13,389,064"
    assert "Total params: 13,389,064" in out  # aux heads included


def test_table_keeps_the_spec_order_where_the_compiler_moves_relu(capsys) -> None:
    # the trained module calls the pool before the ReLU (same values); the table shows the spec's order
    lines = run(capsys, str(SPECS / "mnist_residual.yaml"), "--depth", "1").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("input "))
    types = [line.split()[1] for line in lines[start + 1: start + 8]]
    assert types == ["conv", "relu", "maxpool", "ResidualBlock", "conv", "relu", "maxpool"]


def test_set_and_input_overrides(capsys) -> None:
    out = run(capsys, str(SPECS / "resnet18.yaml"), "--set", "num_classes=7", "--input", "3,64,64")
    assert "input:      (B, 3, 64, 64)" in out and "outputs:    out (B, 7)" in out
    assert "parameters: 11,180,103" in out  # 11,689,512 - 993 * 513


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_every_spec_summarises(spec: str, capsys) -> None:
    out = run(capsys, str(SPECS / spec), "--depth", "1")
    params = int(out.splitlines()[3].split()[1].replace(",", ""))
    assert f"Total params: {params:,}" in out


def test_bad_set_syntax_exits_2(capsys) -> None:
    assert main(["summary", str(SPECS / "lenet.yaml"), "--set", "num_classes"]) == 2
    assert "--set expects key=value, found 'num_classes'" in capsys.readouterr().err


def test_check_reports_each_broken_file(write_spec, capsys) -> None:
    bad = write_spec("input: [1, 28, 28]\nnetwork:\n  - conv1: {type: cnov, out_channels: 6, kernel_size: 5}\n", "bad.yaml")
    assert main(["check", str(SPECS / "lenet.yaml"), bad]) == 2
    out, err = capsys.readouterr()
    assert out.strip() == f"{SPECS / 'lenet.yaml'}: ok (12 blocks; outputs out (B, 10))"
    assert err.strip() == f"{bad}:3:19: network.conv1 (cnov): unknown block type 'cnov'; did you mean 'conv'?"
    assert main(["check", str(SPECS / "lenet.yaml")]) == 0


def test_list_names_every_block_and_field(capsys) -> None:
    from archspec.registry import REGISTRY

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name, cls in REGISTRY.items():
        assert f"\n{name}: {cls.describe()}" in "\n" + out
    assert "    kernel_size        a positive integer or a pair [h, w]; required. window size: k or [kh, kw]" in out
