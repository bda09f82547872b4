"""The JSON Schema for editors: every shipped spec passes it, broken specs fail it, the file is current."""
from __future__ import annotations

import json

import jsonschema
import pytest
from ruamel.yaml import YAML

from archspec.jsonschema import schema_text, spec_schema
from conftest import ROOT, SPECS

VALIDATOR = jsonschema.Draft202012Validator(spec_schema())


def load(text: str) -> object:
    return YAML(typ="safe").load(text)


def test_schema_is_valid_and_committed_file_is_current() -> None:
    jsonschema.Draft202012Validator.check_schema(spec_schema())
    assert (ROOT / "archspec.schema.json").read_text() == schema_text()  # regenerate: archspec schema > archspec.schema.json


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_every_spec_validates(spec: str) -> None:
    text = (SPECS / spec).read_text()
    assert text.startswith("# yaml-language-server: $schema=../archspec.schema.json\n")
    assert list(VALIDATOR.iter_errors(load(text))) == []


HEAD = "input: [1, 28, 28]\nnetwork:\n"
BROKEN = {
    "unknown field": HEAD + "  - conv1: {type: conv, out_channel: 6, kernel_size: 5}\n",
    "wrong type": HEAD + "  - conv1: {type: conv, out_channels: six, kernel_size: 5}\n",
    "bad activation": HEAD + "  - {type: act, fn: rleu}\n",
    "unknown top-level key": HEAD + "  - flatten\nnetwrok: []\n",
    "missing network": "input: [1, 28, 28]\n",
    "bad train field": HEAD + "  - flatten\ntrain: {optimizer: sgdd}\n",
}


@pytest.mark.parametrize("kind", BROKEN)
def test_broken_specs_fail(kind: str) -> None:
    assert list(VALIDATOR.iter_errors(load(BROKEN[kind])))


def test_every_field_has_a_description() -> None:
    defs = spec_schema()["$defs"]
    for name, d in defs.items():
        for field, prop in d.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field}"
    assert json.loads(schema_text())["title"] == "archspec spec"
