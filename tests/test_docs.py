"""The README's example builds, and its reference names every block type and field."""
from __future__ import annotations

import re

import torch

import archspec
from archspec.registry import REGISTRY
from conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_example_builds_and_runs() -> None:
    example = re.search(r"```yaml\n(.*?)```", README, re.DOTALL).group(1)
    m = archspec.build(example)
    out = m.train()(torch.randn(2, 3, 32, 32))
    assert list(out) == ["aux", "out"] and out["out"].shape == (2, 10)
    assert m.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert "stage2.0.proj.weight" in m.state_dict() and "stage2.1.proj.weight" not in m.state_dict()


def test_readme_documents_every_block_type_and_field() -> None:
    table = README.split("### Block types", 1)[1]
    for name, cls in REGISTRY.items():
        row = next((ln for ln in table.splitlines() if ln.startswith(f"| `{name}` |")), None)
        assert row, f"block type {name} missing from the README"
        fields = set(cls.model_fields) - {"type", "when"}
        if name == "conv_block":
            fields -= set(REGISTRY["conv"].model_fields)
        for f in fields:
            assert f"`{f}`" in row, f"{name}.{f} missing from the README"


def test_readme_spec_counts_match_tests() -> None:
    from test_specs import COUNTS

    for name, _params, count in COUNTS:
        assert f"{count:,}" in README, (name, count)


def test_readme_documents_every_train_field() -> None:
    from archspec.train.config import TrainConfig

    table = README.split("The `train:` section", 1)[1].split("## Layout", 1)[0]
    for name in TrainConfig.model_fields:
        assert f"`{name}`" in table, f"train.{name} missing from the README"
