"""The JSON Schema of the spec format, generated from the pydantic models of the registry,
for editors (yaml-language-server) and for users' own validation."""
from __future__ import annotations

import json
from typing import Any

from .expr import EXPR_RE
from .registry import REGISTRY
from .schema import BlockDef, SpecDoc
from .train.config import TrainConfig

NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # user block types
BLOCK_NAME = r"^(?!_)(?:[^.\s$]|\$\{[^}]*\})+$"  # block names: any name nn.Module accepts (0, block1-0), or a ${...} template


def block_schema(cls: type) -> dict[str, Any]:
    """One block type: its fields from pydantic, with nested-block fields pointing at `item`."""
    s = cls.model_json_schema(ref_template="#/$defs/{model}")
    props = s.get("properties", {})
    props["type"] = {"const": cls.type_name(), "description": cls.describe()}
    for name, kind in cls.children.items():
        desc = props.get(name, {}).get("description", "")
        ref = {"$ref": "#/$defs/items"} if kind == "items" else {"$ref": "#/$defs/item"}
        if kind == "branches":
            ref = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}}
        props[name] = {**ref, "description": desc}
    out = {"type": "object", "description": cls.describe(), "properties": props, "required": sorted(set(s.get("required", [])) | {"type"}),
           "additionalProperties": False}
    return out, s.get("$defs", {})


def spec_schema() -> dict[str, Any]:
    """The whole spec format as a JSON Schema (draft 2020-12)."""
    defs: dict[str, Any] = {"expr": {"type": "string", "pattern": EXPR_RE.pattern, "description": "an expression on spec parameters, e.g. ${planes * 4}"}}
    blocks = []
    for name, cls in sorted(REGISTRY.items()):
        schema, extra = block_schema(cls)
        defs.update(extra)
        defs[f"block_{name}"] = schema
        blocks.append({"$ref": f"#/$defs/block_{name}"})
    defs["user_block_call"] = {
        "type": "object", "description": "a use of a block defined under `blocks:`; the other keys are its parameters",
        "properties": {"type": {"anyOf": [{"type": "string", "pattern": NAME, "not": {"enum": sorted(REGISTRY)}}, {"$ref": "#/$defs/expr"}],
                                "description": "the name of a block defined under `blocks:`, or an expression giving a block type"}},
        "required": ["type"]}
    defs["block"] = {"anyOf": blocks + [{"$ref": "#/$defs/user_block_call"}]}
    defs["item"] = {"description": "a block: {type: ...}, name: {type: ...}, a bare type name, or a list (a sequence)", "anyOf": [
        {"type": "string", "pattern": NAME},
        {"$ref": "#/$defs/block"},
        {"type": "array", "items": {"$ref": "#/$defs/item"}},
        {"type": "object", "minProperties": 1, "maxProperties": 1, "propertyNames": {"pattern": BLOCK_NAME},
         "additionalProperties": {"$ref": "#/$defs/item"}, "not": {"required": ["type"]}},
    ]}
    defs["items"] = {"anyOf": [{"type": "array", "items": {"$ref": "#/$defs/item"}}, {"$ref": "#/$defs/item"}]}
    top = SpecDoc.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(top.pop("$defs", {}))
    block_def = BlockDef.model_json_schema(ref_template="#/$defs/{model}")
    block_def["properties"]["body"] = {"$ref": "#/$defs/items", "description": block_def["properties"]["body"].get("description", "")}
    defs["BlockDef"] = block_def
    train = TrainConfig.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(train.pop("$defs", {}))
    defs["TrainConfig"] = train
    top["properties"]["network"] = {"$ref": "#/$defs/items", "description": top["properties"]["network"].get("description", "")}
    top["properties"]["blocks"] = {"type": "object", "description": top["properties"]["blocks"]["description"],
                                   "propertyNames": {"pattern": NAME}, "additionalProperties": {"$ref": "#/$defs/BlockDef"}}
    top["properties"]["train"] = {"anyOf": [{"$ref": "#/$defs/TrainConfig"}, {"type": "null"}], "description": "how `archspec train` trains it"}
    top["additionalProperties"] = False
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **top, "title": "archspec spec", "$defs": defs}


def schema_text() -> str:
    return json.dumps(spec_schema(), indent=2, sort_keys=False) + "\n"
