"""Plain YAML data -> spec objects: validated pydantic blocks, each with its place in the file.

Blocks are validated here for structure (known type, known fields, types or `${...}`
expressions); expressions are evaluated later, when the graph is built.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import blocks as _blocks  # noqa: F401  (registers the block types)
from .blocks.act import ACT_NAMES
from .errors import SpecError, did_you_mean
from .expr import Expr, ExprError, is_expr
from .names import name_problem, spelling_problem
from .registry import REGISTRY, Block, unknown_type_message
from .source import DataPath, Source
from .train.config import TrainConfig
from .types import Int1, expected, field_concrete, literal_choices, range_hint

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REQUIRED = None  # a user-block parameter whose default is null must be given at each use


@dataclass
class Item:
    """One occurrence of a block in a list: its optional name, its fields, where it was written."""

    name: Optional[str]
    block: Block
    path: DataPath
    display: str


class UserCall(Block):
    """A use of a block defined in the spec's `blocks:` section; `args` are its parameters."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    type: str  # type: ignore[assignment]
    args: dict[str, Any] = Field(default_factory=dict)
    container = True


class DynamicCall(Block):
    """A block whose type is an expression (`type: ${block}`); parsed once the type is known."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    type: str  # type: ignore[assignment]
    type_expr: Any = None
    raw: dict[str, Any] = Field(default_factory=dict)
    container = True


@dataclass
class UserBlock:
    """A block defined in the spec, with parameters and a body of blocks."""

    name: str
    params: dict[str, Any]
    let: dict[str, Any]
    body: list[Item]
    path: DataPath
    description: str = ""
    order: list[str] = field(default_factory=list)


class BlockDef(BaseModel):
    """A user-defined block: parameters with defaults (null = required), derived values, and a body."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: start-up stays fast
    description: str = Field("", description="what the block is, for readers and `archspec list`")
    params: dict[str, Any] = Field(default_factory=dict, description="parameter -> default; null means required")
    let: dict[str, Any] = Field(default_factory=dict, description="derived values, evaluated in order, e.g. width: ${planes * 4}")
    body: Any = Field(description="the blocks this block runs, in order")
    order: list[str] = Field(default_factory=list, description="registration order of its named children when it differs from the call order (Swin V2 registers norm1 before attn but calls it after)")


class VariantDef(BaseModel):
    """A named parameter set: one spec file, a family of networks."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: start-up stays fast
    description: str = Field("", description="what this member of the family is")
    params: dict[str, Any] = Field(default_factory=dict, description="parameter values replacing the spec's defaults")


class SpecDoc(BaseModel):
    """The top level of a spec file."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: start-up stays fast
    name: Optional[str] = Field(None, description="network name; defaults to the file name")
    description: str = Field("", description="what the network is")
    params: dict[str, Any] = Field(default_factory=dict, description="spec parameters with defaults, overridable with --set or build(**params)")
    let: dict[str, Any] = Field(default_factory=dict, description="derived values, evaluated in order after params; --set cannot override them")
    input: list[Int1] = Field(description="shape of one input sample without the batch dim, e.g. [3, 224, 224]")
    init: str = Field("torchvision", description="weight-init policy: torchvision (ResNet's: kaiming-normal convs, BN 1/0), torch (PyTorch's defaults) or a family's (see archspec list --inits)")
    output: str = Field("out", description="name of the network's main output")
    blocks: dict[str, BlockDef] = Field(default_factory=dict, description="blocks defined in this spec, used as `type: Name`")
    network: Any = Field(description="the network: a list of blocks run in order")
    train: Optional[dict[str, Any]] = Field(None, description="how `archspec train` trains it (see TrainConfig)")
    variants: dict[str, VariantDef] = Field(default_factory=dict, description="named parameter sets, e.g. resnet18 and resnet50 from one spec")


@dataclass
class Spec:
    """A validated spec: its parameters, user blocks and network, with the source for locations."""

    name: str
    description: str
    params: dict[str, Any]
    input: list[Any]
    init: str
    output: str
    blocks: dict[str, UserBlock]
    network: list[Item]
    source: Source = field(repr=False)
    train: Optional[TrainConfig] = None
    variants: dict[str, VariantDef] = field(default_factory=dict)
    let: dict[str, Any] = field(default_factory=dict)


def parse_spec(src: Source, default_name: str = "network") -> Spec:
    """Validate a parsed YAML document into a Spec."""
    data = src.data
    if not isinstance(data, dict):
        raise SpecError(f"a spec is a mapping with 'input' and 'network', found {type(data).__name__}", src.loc(()), code="structure")
    doc = validate(SpecDoc, data, (), src, "spec", "")
    for section in ("params", "let"):
        check_spelling(getattr(doc, section), (section,), src)
    params = {k: parse_value(v, ("params", k), src) for k, v in doc.params.items()}
    parser = ItemParser(src, set(doc.blocks))
    blocks = {name: parser.block_def(name, d) for name, d in doc.blocks.items()}
    network = parser.items(doc.network, ("network",), "network")
    if not network:
        raise SpecError("the network is empty", src.loc(("network",)), code="structure")
    train = train_config(src, doc.train or {}) if doc.train is not None else None
    for name, v in doc.variants.items():
        for k in v.params:
            if k not in params:
                raise SpecError(f"variant '{name}' sets unknown parameter '{k}'{did_you_mean(k, params)}",
                                src.loc(("variants", name, "params", k), key=True), code="undefined_param")
        v.params = {k: parse_value(val, ("variants", name, "params", k), src) for k, val in v.params.items()}
    from .inits import INITS
    if doc.init not in INITS:
        raise SpecError(f"init: unknown policy '{doc.init}'{did_you_mean(doc.init, INITS)}; known: {', '.join(INITS)}",
                        src.loc(("init",)), code="field_type")
    let = {k: parse_value(v, ("let", k), src) for k, v in doc.let.items()}
    for k in let:
        if k in params:
            raise SpecError(f"'{k}' is both a parameter and a let value; let values are derived, give it another name",
                            src.loc(("let", k), key=True), code="duplicate_name")
    return Spec(doc.name or default_name, doc.description, params, doc.input, doc.init, doc.output, blocks, network, src, train,
                doc.variants, let)


def select_variant(spec: Spec, variant: str) -> Spec:
    """The spec with a variant's parameters as its defaults, named after the variant."""
    import dataclasses

    if variant not in spec.variants:
        where = spec.source.loc(("variants",), key=True) if spec.variants else spec.source.loc(())
        known = f"{did_you_mean(variant, spec.variants)}" if spec.variants else "; this spec defines no variants"
        raise SpecError(f"unknown variant '{variant}'{known}", where, code="unknown_variant")
    v = spec.variants[variant]
    return dataclasses.replace(spec, name=variant, description=v.description or spec.description, params={**spec.params, **v.params})


def train_config(src: Source, raw: dict[str, Any], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The spec's `train:` section merged with command-line overrides, validated with locations; an error
    that only the overrides cause names them as `train.FIELD` (SpecError.overrides)."""
    def check(given: dict[str, Any]) -> TrainConfig:
        return validate(TrainConfig, {**raw, **given}, ("train",), src, "train", "train")
    try:
        return check(overrides or {})
    except SpecError as e:
        e.overrides = tuple(f"train.{k}" for k in blame(check, overrides or {}, e))
        raise


def blame(run: Callable[[dict[str, Any]], object], overrides: dict[str, Any], error: SpecError) -> tuple[str, ...]:
    """The overrides without which `run` no longer fails with `error`, each left out in turn: the error is
    theirs, not the spec's (its location is the field that used the value). Empty when the spec fails the
    same way without any one of them. Only on the error path: one more run per override."""
    def fails_alike(given: dict[str, Any]) -> bool:
        try:
            run(given)
        except SpecError as e:
            return (e.message, e.loc, e.path) == (error.message, error.loc, error.path)
        return False
    return tuple(k for k in overrides if not fails_alike({o: v for o, v in overrides.items() if o != k}))


def parse_value(v: Any, path: DataPath, src: Source) -> Any:
    """A parameter value: literal, or `${...}` parsed into an Expr (located error on bad syntax)."""
    if is_expr(v):
        try:
            return Expr.parse(v)
        except ExprError as e:
            raise SpecError(str(e), src.loc(path), code="expr") from None
    return v


class ItemParser:
    """Recursively turns raw block lists into Items."""

    def __init__(self, src: Source, user_blocks: set[str]) -> None:
        self.src = src
        self.user_blocks = user_blocks

    def block_def(self, name: str, d: BlockDef) -> UserBlock:
        path = ("blocks", name)
        if not NAME_RE.match(name):
            raise SpecError(f"block name '{name}' must be an identifier", self.src.loc(path, key=True), code="name")
        if name in REGISTRY:
            raise SpecError(f"block name '{name}' is a built-in block type; choose another name", self.src.loc(path, key=True), code="name")
        for section in ("params", "let"):
            check_spelling(getattr(d, section), path + (section,), self.src)
        params = {k: parse_value(v, path + ("params", k), self.src) for k, v in d.params.items()}
        let = {k: parse_value(v, path + ("let", k), self.src) for k, v in d.let.items()}
        body = self.items(d.body, path + ("body",), f"blocks.{name}")
        return UserBlock(name, params, let, body, path, d.description, d.order)

    def items(self, raw: Any, path: DataPath, display: str) -> list[Item]:
        """A list of blocks (a single block is taken as a list of one)."""
        if not isinstance(raw, list):
            return [self.item(raw, path, display)]
        return [self.item(r, path + (i,), f"{display}[{i}]") for i, r in enumerate(raw)]

    def item(self, raw: Any, path: DataPath, display: str, name: Optional[str] = None) -> Item:
        """One block: `{type: ...}`, `name: {type: ...}`, a bare type name, or a list (a sequence)."""
        if isinstance(raw, list):
            return Item(name, self.seq(raw, path, display), path, display)
        if isinstance(raw, str):
            return Item(name, self.mapping(shorthand(raw), path, display), path, display)
        if isinstance(raw, dict) and "type" not in raw and len(raw) == 1 and name is None:
            (key, value), = raw.items()
            base = display.rsplit("[", 1)[0] if display.endswith("]") else display
            return self.item(value, path + (key,), f"{base}.{key}", self.block_name(key, path))
        if isinstance(raw, dict):
            return Item(name, self.mapping(raw, path, display), path, display)
        raise SpecError(f"expected a block (a mapping with 'type', 'name: block', a type name or a list), found {raw!r}",
                        self.src.loc(path), code="structure")

    def block_name(self, key: Any, path: DataPath) -> str:
        """A `name: block` key as a module name: any name nn.Module accepts (`0`, `block1-0`), or a
        template with `${...}` parts filled in when lowering (`denselayer${i + 1}`)."""
        if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
            key = str(key)
        problem = "must be a string or a non-negative integer" if not isinstance(key, str) else None
        if problem is None and "${" not in key:
            problem = name_problem(key)
        if problem:
            raise SpecError(f"block name {key!r} {problem}", self.src.loc(path + (key,), key=True), code="name")
        return key

    def seq(self, raw: list, path: DataPath, display: str) -> Block:
        from .blocks.compose import Seq
        return Seq(type="seq", body=self.items(raw, path, display))

    def mapping(self, raw: dict, path: DataPath, display: str) -> Block:
        if "type" not in raw:
            keys = ", ".join(map(str, raw)) or "none"
            raise SpecError(f"a block needs a 'type' (or is written 'name: block'); found keys: {keys}", self.src.loc(path), code="structure")
        t = raw["type"]
        if is_expr(t):
            return DynamicCall.model_construct(type=t, type_expr=parse_value(t, path + ("type",), self.src), raw=raw,
                                               when=parse_value(raw.get("when", True), path + ("when",), self.src))
        if not isinstance(t, str):
            raise SpecError(f"'type' must be a block type name, found {t!r}", self.src.loc(path + ("type",)), code="type")
        if t in self.user_blocks:
            return self.user_call(t, raw, path)
        if t in ACT_NAMES and t not in REGISTRY:
            raw = {**raw, "type": "act", "fn": t}  # `type: relu6` as the bare `relu6` means
            t = "act"
        cls = REGISTRY.get(t)
        if cls is None or cls is UserCall:
            raise SpecError(unknown_type_message(t, self.user_blocks), self.src.loc(path + ("type",)), display, t, code="unknown_type")
        block = validate(cls, raw, path, self.src, t, display)  # child fields are typed Any here
        kids = {k: self.child(cls, k, raw[k], path + (k,), f"{display}.{k}") for k in cls.children if k in raw}
        return block.model_copy(update=kids)

    def child(self, cls: type[Block], field_name: str, raw: Any, path: DataPath, display: str) -> Any:
        kind = cls.children[field_name]
        if raw is None and not cls.model_fields[field_name].is_required():
            return None
        if raw is None or raw == [] or raw == {}:
            raise SpecError(f"{field_name}: expected {cls.model_fields[field_name].description}, found {raw!r}",
                            self.src.loc(path), display, cls.type_name(), code="structure")
        if kind == "item":
            return self.item(raw, path, display)
        if kind == "items":
            return self.items(raw, path, display)
        if not isinstance(raw, list) or not raw:
            raise SpecError("expected a list of branches", self.src.loc(path), code="structure")
        return [self.item(r, path + (i,), f"{display}[{i}]") for i, r in enumerate(raw)]

    def user_call(self, t: str, raw: dict, path: DataPath) -> Block:
        args = {k: parse_value(v, path + (k,), self.src) for k, v in raw.items() if k not in ("type", "when")}
        when = parse_value(raw.get("when", True), path + ("when",), self.src)
        return UserCall.model_construct(type=t, args=args, when=when)


def check_spelling(names: dict[str, Any], path: DataPath, src: Source) -> None:
    """Each declared name is read by expressions as written (names.spelling_problem)."""
    for k in names:
        problem = spelling_problem(k)
        if problem:
            raise SpecError(f"'{k}' {problem}", src.loc(path + (k,), key=True), code="name")


def shorthand(name: str) -> dict:
    """`relu` -> {type: act, fn: relu}; `flatten` -> {type: flatten}."""
    return {"type": "act", "fn": name} if name in ACT_NAMES and name not in REGISTRY else {"type": name}


def validate(model: type[BaseModel], raw: dict, path: DataPath, src: Source, block_type: str, display: str) -> Any:
    """model.model_validate(raw), with pydantic's errors turned into one located SpecError."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise located(e, model, raw, path, src, block_type, display) from None


def located(e: ValidationError, model: type[BaseModel], raw: dict, path: DataPath, src: Source, block_type: str, display: str) -> SpecError:
    """The first of pydantic's errors as a SpecError with file:line:col and a did-you-mean."""
    order = {"extra_forbidden": 0, "missing": 1}
    err = min(e.errors(), key=lambda x: order.get(x["type"], 2))  # a misspelt field also shows as missing
    name = str(err["loc"][0]) if err["loc"] else ""
    fields = [f for f in model.model_fields if f != "type"]
    if err["type"] == "extra_forbidden":
        msg = f"unknown field '{name}'{did_you_mean(name, fields)}"
        return SpecError(msg, src.loc(path + (name,), key=True), display, block_type, code="unknown_field")
    if err["type"] == "missing":
        info = model.model_fields[name]
        msg = f"missing required field '{name}' ({info.description or expected(info)})"
        return SpecError(msg, src.loc(path), display, block_type, code="missing_field")
    return SpecError(field_message(model, name, raw.get(name), err), src.loc(path + tuple(err["loc"][:1])), display, block_type, code="field_type")


def field_message(model: type[BaseModel], name: str, value: Any, err: Any) -> str:
    """'kernel_size: expected a positive integer or a pair [h, w], found 0'."""
    if is_expr(value):
        try:
            Expr.parse(value)
        except ExprError as x:
            return f"{name}: {x}"
    info = model.model_fields.get(name)
    want = expected(info) if info else err["msg"]
    hint = did_you_mean(value, literal_choices(info)) if isinstance(value, str) and info else ""
    want += range_hint(value)
    return f"{name}: expected {want}, found {value!r}{hint if hint.startswith(';') and 'did you' in hint else ''}"
