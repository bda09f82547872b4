"""docs/errors.md: every error archspec gives, with an example and its message, generated here so
it never goes stale. Regenerate with ARCHSPEC_WRITE_DOCS=1 python -m pytest tests/test_error_catalogue.py."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import pytest

import archspec
from archspec.errors import SpecError
from conftest import ROOT
from test_errors import CASES, HEAD, SHAPE_CASES

DOC = ROOT / "docs" / "errors.md"

SPEC_CASES: dict[str, tuple[str, str]] = {
    **{k: (v[0], "") for k, v in CASES.items()},
    **{k: (v[0], "") for k, v in SHAPE_CASES.items()},
    "block_without_type": (HEAD + "  - {out_channels: 6, kernel_size: 5}\n", ""),
    "empty_network": ("input: [1, 28, 28]\nnetwork: []\n", ""),
    "same_padding_with_stride": (HEAD + "  - c: {type: conv, out_channels: 4, kernel_size: 3, stride: 2, padding: same}\n", ""),
    "pool_padding_too_large": (HEAD + "  - p: {type: maxpool, kernel_size: 2, padding: 2}\n", ""),
    "split_dim_out_of_range": (HEAD + "  - {type: parallel, dim: 5, split: 2, branches: [identity, identity]}\n", ""),
    "bad_expression": (HEAD + "  - c: {type: conv, out_channels: \"${2 +}\", kernel_size: 1}\n", ""),
    "unsafe_expression": (HEAD + "  - c: {type: conv, out_channels: \"${__import__('os')}\", kernel_size: 1}\n", ""),
    "size_out_of_range": (HEAD + "  - c: {type: conv, out_channels: 100000000, kernel_size: 1}\n", ""),
    "repeat_limit": (HEAD + "  - r: {type: repeat, n: 20000, body: relu}\n", ""),
    "missing_block_param": ("input: [3, 8, 8]\nblocks:\n  B:\n    params: {planes: null}\n    body: [relu]\nnetwork:\n  - b: B\n", ""),
    "tap_without_name": (HEAD + "  - {type: tap, body: flatten}\n  - flatten\n", ""),
    "unknown_loss_output": (HEAD + "  - flatten\n  - fc: {type: linear, out_features: 10}\ntrain: {loss_weights: {aux: 0.3}}\n", "train"),
    "nothing_to_train": (HEAD + "  - flatten\n", "train"),
    "memory_limit": ("input: [3, 224, 224]\nnetwork:\n  - flatten\n  - fc: {type: linear, out_features: 100000}\n", "build"),
    "activation_memory": ("input: [3, 100000, 100000]\nnetwork:\n  - {type: conv, out_channels: 8, kernel_size: 1}\n", "build"),
    "invalid_name": (HEAD + "  - class: {type: conv, out_channels: 4, kernel_size: 1}\n", ""),
    "name_with_a_dot": (HEAD + "  - conv.1: {type: conv, out_channels: 4, kernel_size: 1}\n", ""),
    "branches_not_a_list": (HEAD + "  - p: {type: parallel, branches: relu}\n", ""),
    "first_on_a_container": (HEAD + "  - r: {type: repeat, n: 2, body: {type: seq, body: [relu]}, first: {stride: 2}}\n", ""),
    "expression_fails": ("params: {c: 0}\n" + HEAD + "  - c: {type: conv, out_channels: \"${8 // c}\", kernel_size: 1}\n", ""),
    "expression_too_large": ("params: {a: abcdefghij}\nlet:\n" + "".join(f"  b{i}: \"${{b{i - 1} + b{i - 1}}}\"\n" for i in range(1, 11)).replace("b0", "a")
                             + HEAD + "  - relu\n", ""),
    "string_formatting": ("params: {a: \"${'%05d' % 3}\"}\n" + HEAD + "  - relu\n", ""),
    "not_finite": (HEAD + "  - bn: {type: bn, eps: .nan}\n", ""),
    "yaml_value": (HEAD + "  - c: {type: conv, out_channels: !!int abc, kernel_size: 1}\n", ""),
    "integer_too_large": (HEAD + "  - c: {type: conv, out_channels: 123456789012345678901234567890, kernel_size: 1}\n", ""),
    "nesting_limit": (HEAD + "  - " + "[" * 66 + "relu" + "]" * 66 + "\n", ""),
    "elements_limit": ("input: [1048576, 1048576, 1048576, 4096]\nnetwork: [flatten]\n", ""),
}


def message_for(text: str, how: str, tmp: Path) -> str:
    path = tmp / "net.yaml"
    path.write_text(text)
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        if how == "train":
            from archspec.train.loop import train

            train("net.yaml", overrides={"synthetic_size": 32, "epochs": 1}, out=tmp / "run", progress=False)
        elif how == "build":
            archspec.build("net.yaml")
        else:
            archspec.analyze("net.yaml")
    except SpecError as e:
        return str(e)
    finally:
        os.chdir(cwd)
    raise AssertionError(f"no error for:\n{text}")


def other_cases(tmp: Path) -> dict[str, tuple[str, Callable[[], object]]]:
    from archspec.train import checkpoint as ckpt
    from archspec.train import data

    bad_ckpt = tmp / "checkpoint.pt"
    bad_ckpt.write_bytes(b"PK\x03\x04 not a checkpoint")
    return {
        "corrupt_checkpoint": ("archspec eval net.yaml checkpoint.pt  (a truncated file)", lambda: ckpt.load("checkpoint.pt")),
        "missing_checkpoint": ("archspec eval net.yaml nowhere.pt", lambda: ckpt.load("nowhere.pt")),
        "unknown_variant": ("archspec summary resnet.yaml --variant resnet51", lambda: archspec.analyze(copy_spec("resnet", tmp), variant="resnet51")),
        "device_unavailable": ("archspec train net.yaml --device mps   (on a machine without it)", lambda: __import__("archspec.train.loop", fromlist=["x"]).pick_device("mps", __import__("archspec.train.loop", fromlist=["x"]).Dist())),
        "truncated_idx": ("a truncated train-images-idx3-ubyte", lambda: data.read_idx(write_truncated_idx(tmp))),
        "empty_checkpoint": ("archspec eval net.yaml empty.pt  (an empty file)", lambda: ckpt.load(write_file(tmp / "empty.pt", b""))),
        "spec_not_utf8": ("archspec check latin1.yaml  (saved as Latin-1)", lambda: archspec.analyze(str(write_file(
            tmp / "latin1.yaml", "# caf\u00e9\ninput: [1, 28, 28]\nnetwork: [relu]\n".encode("latin-1"))))),
        "bad_set_value": ("archspec check net.yaml --set 'c=[1,'", lambda: __import__("archspec.cli", fromlist=["x"]).parse_set(["c=[1,"])),
    }


def copy_spec(name: str, tmp: Path) -> str:
    (tmp / f"{name}.yaml").write_text((ROOT / "specs" / f"{name}.yaml").read_text())
    return f"{name}.yaml"  # relative: the page must not depend on where the checkout is


def write_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def write_truncated_idx(tmp: Path) -> Path:
    p = tmp / "train-images-idx3-ubyte"
    p.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 28, 0, 0, 0, 28]) + bytes(100))
    return p


def catalogue(tmp: Path) -> str:
    parts = ["# archspec's errors", "",
             "Every mistake is reported as `file:line:col: block.path (type): message`; the CLI prints it and exits",
             "with status 2 (a NaN loss exits 3, Ctrl-C 130). This page is generated by",
             "`tests/test_error_catalogue.py` from the examples below, so each message is exactly what archspec prints.", ""]
    for name, (text, how) in SPEC_CASES.items():
        msg = message_for(text, how, tmp).replace(str(tmp) + "/", "")
        parts += [f"## {name.replace('_', ' ')}", "", "```yaml", text.rstrip("\n"), "```", "", "```", msg, "```", ""]
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        for name, (what, call) in other_cases(tmp).items():
            with pytest.raises(SpecError) as e:
                call()
            parts += [f"## {name.replace('_', ' ')}", "", f"`{what}`", "", "```", host_free(str(e.value).replace(str(tmp) + "/", "")), "```", ""]
    finally:
        os.chdir(cwd)
    return "\n".join(parts)


def host_free(msg: str) -> str:
    """archspec's own words only: the reason torch gives for an unreadable file varies with its version."""
    return re.sub(r"(\(corrupt or truncated\?\): ).*", r"\1<torch's reason, first line>", msg)


def test_error_catalogue_is_current(tmp_path: Path, monkeypatch) -> None:
    import torch

    from archspec import limits

    monkeypatch.setattr(limits, "available_bytes", lambda: 16 * 10**9)  # the page must not depend on this machine
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # nor on its devices ("available: cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    text = catalogue(tmp_path)
    if os.environ.get("ARCHSPEC_WRITE_DOCS"):
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text)
    assert DOC.read_text() == text, "docs/errors.md is stale: ARCHSPEC_WRITE_DOCS=1 python -m pytest tests/test_error_catalogue.py"
