"""The language constructs for today's networks, each against torch: names, loops, merges, splits,
gates, learned tensors, expressions reading shapes, spec-level let, plugins."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import SpecError
from archspec.names import RESERVED

HEAD = "input: [4, 6, 6]\nnetwork:\n"


def build(text: str, **params: object) -> nn.Module:
    return archspec.build(text, **params).eval()


def error(text: str) -> str:
    with pytest.raises(SpecError) as e:
        archspec.build(text)
    return str(e.value)


def test_reserved_names_cover_every_public_attribute_of_the_compiled_module() -> None:
    m = build(HEAD + "  - relu\n")
    public = {a for a in dir(m) if not a.startswith("_")} - {"T_destination"}
    assert public - RESERVED == set()


@pytest.mark.parametrize("name", ["forward", "train", "training", "to", "state_dict", "graph", "code", "class", "None"])
def test_a_name_the_compiled_module_owns_is_a_located_error(name: str) -> None:
    msg = error(HEAD + f"  - {name}: {{type: conv, out_channels: 2, kernel_size: 1}}\n")
    assert msg.startswith("<spec>:3:5: ") and f"block name '{name}' is taken by the compiled module" in msg


@pytest.mark.parametrize("name", ['\'b"),print("PWNED"),getattr(self,"c\'', '\'a\\\\b\'', '"a\\u0007b"'])
def test_a_name_that_would_break_out_of_the_generated_code_is_a_located_error(name: str) -> None:
    """The forward reaches a child as getattr(parent, "NAME"): a quote would end that string and run the
    rest of the name as code (it did: this spec printed PWNED when its forward ran)."""
    text = HEAD + "  - b: {type: conv, out_channels: 2, kernel_size: 1}\n" + f"  - {name}: {{type: conv, out_channels: 2, kernel_size: 1}}\n"
    msg = error(text)
    assert msg.startswith("<spec>:4:5: block name ") and ("quote or backslash" in msg or "control character" in msg), msg


def test_a_name_python_reads_as_another_is_a_located_error() -> None:
    """`self.º` is `self.o` to Python (identifiers are NFKC-normalised): the forward called block o twice
    while the summary showed º's 3 channels."""
    msg = error(HEAD + "  - o: {type: conv, out_channels: 1, kernel_size: 1}\n  - º: {type: conv, out_channels: 3, kernel_size: 1}\n")
    assert msg.startswith("<spec>:4:5: block name 'º' is read by Python as 'o'"), msg


@pytest.mark.parametrize("text, where", [
    ("params: {o: 1, º: 3}\n" + HEAD + "  - {type: conv, out_channels: '${º}', kernel_size: 1}\n", "<spec>:1:16: "),
    ("params: {o: 1}\n" + HEAD + "  - {type: repeat, n: 2, var: º, body: {type: conv, out_channels: '${º + 1}', kernel_size: 1}}\n",
     "<spec>:4:31: network[0] (repeat): var: "),
    ("blocks:\n  B:\n    params: {º: 2}\n    body: [{type: conv, out_channels: '${º}', kernel_size: 1}]\n" + HEAD + "  - {type: B}\n",
     "<spec>:3:14: "),
])
def test_a_value_name_expressions_would_read_as_another_is_a_located_error(text: str, where: str) -> None:
    """`${º}` is `${o}` once Python parses it: the conv got o's 1 channel, silently, where º said 3."""
    assert error(text).startswith(where + "'º' is read by Python as 'o' (Unicode NFKC) in expressions")


@given(st.text(min_size=1, max_size=12))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_every_accepted_name_is_spelt_exactly_in_the_generated_code(name: str) -> None:
    """Whatever name_problem lets through, the code fx writes to reach it is one getattr of that very
    string (or an attribute of that name): nothing of a name can run."""
    from torch.fx.graph import _format_target

    from archspec.names import name_problem

    if name_problem(name) is not None:
        return
    tree = ast.parse(_format_target("self", name), mode="eval").body
    if isinstance(tree, ast.Attribute):
        assert tree.attr == name and isinstance(tree.value, ast.Name)
    else:
        assert isinstance(tree, ast.Call) and tree.func.id == "getattr" and tree.args[1].value == name, ast.dump(tree)


@given(st.text(min_size=1, max_size=12).filter(lambda t: "." not in t))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_archspecs_code_writer_spells_any_name_exactly(name: str) -> None:
    """pycode.attribute, which writes the forward's module accesses, needs no help from name_problem
    ('.' separates the levels of the path it is given)."""
    from archspec.pycode import attribute

    tree = ast.parse(attribute("self", name), mode="eval").body
    got = tree.attr if isinstance(tree, ast.Attribute) else tree.args[1].value
    assert got == name and (isinstance(tree, ast.Attribute) or tree.func.id == "getattr")


def test_numeric_and_dashed_names_are_module_names() -> None:
    m = build(HEAD + "  - 3: {type: conv, out_channels: 2, kernel_size: 1}\n  - block1-0: {type: conv, out_channels: 2, kernel_size: 1}\n")
    assert list(m.state_dict()) == ["3.weight", "3.bias", "block1-0.weight", "block1-0.bias"]


def test_two_containers_with_one_name_are_refused() -> None:
    msg = error(HEAD + "  - a: [{type: conv, out_channels: 4, kernel_size: 1}]\n  - a: [{type: conv, out_channels: 4, kernel_size: 1}]\n")
    assert "two blocks are named 'a'" in msg


def test_repeat_index_in_names_and_fields() -> None:
    m = build(HEAD + '  - {type: repeat, n: 3, body: {"layer${i + 1}": {type: conv, out_channels: "${2 * (i + 1)}", kernel_size: 1}}}\n')
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items() if k.endswith("weight")] == [
        ("layer1.weight", (2, 4, 1, 1)), ("layer2.weight", (4, 2, 1, 1)), ("layer3.weight", (6, 4, 1, 1))]


def test_counter_runs_across_repeats() -> None:
    m = build(HEAD + "  - {type: repeat, n: 2, counter: k, body: {type: conv, out_channels: '${k + 1}', kernel_size: 1}}\n"
              "  - {type: repeat, n: 2, counter: k, body: {type: conv, out_channels: '${k + 1}', kernel_size: 1}}\n")
    assert [v.shape[0] for k, v in m.state_dict().items() if k.endswith("weight")] == [1, 2, 3, 4]


def test_flat_repeat_numbers_on_like_vgg_features() -> None:
    m = build(HEAD + "  - features:\n      - {type: repeat, n: 2, flat: true, body: [{type: conv, out_channels: 4, kernel_size: 1}, relu]}\n"
              "      - {type: maxpool, kernel_size: 2}\n")
    assert [k for k in m.state_dict()] == ["features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias"]
    assert isinstance(m.features._modules["4"], nn.MaxPool2d)


def test_gate_is_squeeze_excitation() -> None:
    m = build(HEAD + "  - type: gate\n    body:\n      - pool: adaptive_avgpool\n"
              "      - fc1: {type: conv, out_channels: 2, kernel_size: 1}\n      - act: relu\n"
              "      - fc2: {type: conv, out_channels: '${in_channels * 2}', kernel_size: 1}\n      - scale: hardsigmoid\n")
    x = torch.randn(2, 4, 6, 6)
    s = x.mean((2, 3), keepdim=True)
    s = nn.functional.hardsigmoid(m.fc2(torch.relu(m.fc1(s))))
    torch.testing.assert_close(m(x), x * s)
    assert m.fc2.out_channels == 4  # in_channels of fc2's own input (2) times 2


def test_split_branches_match_chunk_and_concat_along_a_dim() -> None:
    text = HEAD + "  - {type: parallel, split: [2, 4], merge: concat, dim: -1, branches: [identity, {type: maxpool, kernel_size: [1, 2]}]}\n"
    assert archspec.analyze(text).shapes[-1] == (4, 6, 4)
    x = torch.randn(2, 4, 6, 6)
    a, b = x.split([2, 4], dim=-1)
    torch.testing.assert_close(build(text)(x), torch.cat([a, nn.functional.max_pool2d(b, (1, 2))], -1))


def test_split_into_equal_parts_and_shuffle_is_shufflenet_unit() -> None:
    text = HEAD + ("  - {type: parallel, split: 2, branches: [identity, [{type: conv, out_channels: 2, kernel_size: 1}]]}\n"
                   "  - {type: channel_shuffle, groups: 2}\n")
    m = build(text)
    x = torch.randn(2, 4, 6, 6)
    a, b = x.chunk(2, dim=1)
    y = torch.cat([a, m._modules["1"](b)], 1)  # identity is 0
    y = y.view(2, 2, 2, 6, 6).transpose(1, 2).reshape(2, 4, 6, 6)
    torch.testing.assert_close(m(x), y)


def test_split_that_does_not_cover_the_input_is_located() -> None:
    msg = error(HEAD + "  - {type: parallel, split: [1, 2], branches: [identity, identity]}\n")
    assert msg.startswith("<spec>:3:5: ") and "cover the size 4" in msg


@pytest.mark.parametrize("split", ["2", "[2, 2]"])
def test_split_along_a_dim_the_input_lacks_is_located(split: str) -> None:
    msg = error(HEAD + f"  - {{type: parallel, dim: 5, split: {split}, branches: [identity, identity]}}\n")
    assert msg.startswith("<spec>:3:5: network[0] (parallel): split: dim 5 is out of range for input (B, ")


def test_mul_merge_refuses_shapes_that_do_not_broadcast() -> None:
    msg = error(HEAD + "  - {type: residual, merge: mul, body: [{type: conv, out_channels: 3, kernel_size: 1}]}\n")
    assert "shape mismatch at mul" in msg


def test_concat_checks_every_dim() -> None:
    msg = error(HEAD + "  - {type: parallel, branches: [identity, {type: maxpool, kernel_size: [2, 1]}]}\n")
    assert "spatial mismatch at concat" in msg


def test_learned_tensors_keep_their_names_and_apply() -> None:
    text = ("input: [3, 8]\nnetwork:\n  - cls: {type: param, shape: [1, 1, 8], op: prepend}\n"
            "  - pos: {type: param, shape: [1, 4, 8], op: add, init: normal}\n"
            "  - scale: {type: param, shape: [8], op: mul, init: constant, value: 0.5}\n  - first: {type: select, index: 0}\n")
    m = build(text)
    assert list(m.state_dict()) == ["cls", "pos", "scale"]
    x = torch.randn(2, 3, 8)
    expect = (torch.cat([m.cls.expand(2, -1, -1), x], 1) + m.pos) * 0.5
    torch.testing.assert_close(m(x), expect[:, 0])


def test_prepend_needs_a_token_shaped_param() -> None:
    assert "prepend needs tokens" in error(HEAD + "  - {type: param, shape: [1, 1, 6], op: prepend}\n")


def test_permute_makes_channels_last_for_linear_and_layer_norm() -> None:
    m = build(HEAD + "  - {type: permute, dims: [1, 2, 0]}\n  - {type: layer_norm, eps: 1.0e-6}\n  - {type: linear, out_features: 5}\n"
              "  - {type: permute, dims: [2, 0, 1]}\n")
    x = torch.randn(2, 4, 6, 6)
    ln, fc = m._modules["1"], m._modules["2"]
    torch.testing.assert_close(m(x), fc(ln(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2))
    assert "linear expects input (B, F)" in error(HEAD + "  - {type: linear, out_features: 5}\n")


def test_layer_norm_over_image_channels_is_convnext_layernorm2d() -> None:
    m = build(HEAD + "  - {type: layer_norm, channels: true, eps: 1.0e-6}\n")
    x = torch.randn(2, 4, 6, 6)
    ln = m._modules["0"]
    ref = nn.functional.layer_norm(x.permute(0, 2, 3, 1), (4,), ln.weight, ln.bias, 1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(m(x), ref)


def test_attention_has_multihead_attention_parameters() -> None:
    m = build("input: [5, 8]\nnetwork:\n  - sa: {type: attention, heads: 2}\n")
    ref = nn.MultiheadAttention(8, 2, batch_first=True)
    ref.load_state_dict(m.sa.state_dict())
    x = torch.randn(3, 5, 8)
    torch.testing.assert_close(m(x), ref(x, x, x, need_weights=False)[0])
    assert "heads=3 must divide the token width 8" in error("input: [5, 8]\nnetwork:\n  - {type: attention, heads: 3}\n")


def test_stochastic_depth_drops_only_in_training() -> None:
    m = build(HEAD + "  - {type: residual, body: [{type: conv, out_channels: 4, kernel_size: 1}, {type: stochastic_depth, p: 1.0}]}\n")
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(m.train()(x), x)  # the branch is always dropped at p = 1
    assert not torch.allclose(m.eval()(x), x)


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_draws_what_torchvision_draws(mode: str) -> None:
    from torchvision.ops import StochasticDepth

    from archspec.nnmodules import StochasticDepth as Ours

    x = torch.randn(16, 3, 4, 4)
    for p in (0.0, 0.3, 1.0):
        torch.manual_seed(1)
        ours = Ours(p, mode)(x)
        torch.manual_seed(1)
        torch.testing.assert_close(ours, StochasticDepth(p, mode)(x), rtol=0, atol=0)
    assert repr(Ours(0.3, mode)) == repr(StochasticDepth(0.3, mode))


def test_expressions_in_enum_fields_and_activation_types() -> None:
    text = ("params: {act: relu6, m: mul, e: 0.001}\n" + HEAD +
            "  - {type: conv_block, out_channels: 4, kernel_size: 1, act: '${act}', eps: '${e}'}\n"
            "  - {type: residual, merge: '${m}', body: [{type: act, fn: '${act}'}]}\n  - {type: relu6}\n")
    m = build(text)
    assert isinstance(m._modules["0"].act, nn.ReLU6) and m._modules["0"].bn.eps == 0.001
    assert isinstance(m._modules["2"], nn.ReLU6)
    assert "x1 = x1 * x" in m.code  # the residual merges by multiplying


def test_spec_let_is_derived_and_cannot_be_set() -> None:
    text = "params: {w: 2}\nlet: {width: '${make_divisible(w * 3.3, 4)}'}\n" + HEAD + "  - {type: conv, out_channels: '${width}', kernel_size: 1}\n"
    assert build(text)._modules["0"].out_channels == 8
    with pytest.raises(SpecError, match="unknown parameter 'width'"):
        archspec.build(text, width=3)


def test_make_divisible_is_torchvisions() -> None:
    from torchvision.models._utils import _make_divisible

    from archspec.expr import make_divisible

    for v in [3.2, 16 * 0.75, 24 * 1.3, 40 * 0.35, 96.0, 7.9, 1000 * 0.5]:
        for d in (8, 4):
            assert make_divisible(v, d) == _make_divisible(v, d), (v, d)


def test_model_names_resolve_like_timm() -> None:
    a = archspec.analyze("resnet18")
    assert a.spec.name == "resnet18" and a.graph.nodes[1].path == "conv1"
    with pytest.raises(SpecError, match="unknown model 'resnet19'; did you mean"):
        archspec.analyze("resnet19")


PLUGIN = '''
from typing import Literal
import torch.nn as nn
from archspec.registry import Block, register

@register
class Twice(Block):
    """Multiplies by two."""
    type: Literal["twice"]

    def infer(self, x):
        return x

    def build(self, x):
        return Scale2()

class Scale2(nn.Module):
    def forward(self, x):
        return 2 * x
'''


def test_plugin_block_is_loaded_only_by_the_flag(tmp_path: Path) -> None:
    (tmp_path / "my_blocks.py").write_text(PLUGIN)
    (tmp_path / "net.yaml").write_text("input: [3, 4, 4]\nnetwork:\n  - twice\n  - flatten\n")
    run = [sys.executable, "-m", "archspec.cli"]
    without = subprocess.run([*run, "check", "net.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert without.returncode == 2 and "net.yaml:3:5: network[0] (twice): unknown block type 'twice'" in without.stderr
    with_flag = subprocess.run([*run, "--plugin", "my_blocks", "summary", "net.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert with_flag.returncode == 0, with_flag.stderr
    rows = [ln.split() for ln in with_flag.stdout.splitlines()]
    assert ["0", "twice", "(B,", "3,", "4,", "4)", "0", "0"] in rows and ["1", "flatten", "(B,", "48)", "0", "0"] in rows
