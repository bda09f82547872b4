"""Every registered block type: its static shape rule agrees with the torch module it builds."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import SpecError
from archspec.registry import REGISTRY

# one example per block type: (fields, input shape); adding a block type means adding a line here
EXAMPLES: dict[str, tuple[dict, tuple[int, ...]]] = {
    "conv": ({"out_channels": 8, "kernel_size": [3, 5], "stride": 2, "padding": [1, 2], "groups": 2}, (4, 17, 19)),
    "conv_block": ({"out_channels": 6, "kernel_size": 3, "padding": "same", "act": "silu"}, (3, 9, 9)),
    "bn": ({}, (5, 4, 4)),
    "act": ({"fn": "leaky_relu", "negative_slope": 0.2}, (3, 4, 4)),
    "maxpool": ({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, (2, 10, 11)),
    "avgpool": ({"kernel_size": 2, "count_include_pad": False}, (2, 9, 9)),
    "adaptive_avgpool": ({"output_size": [2, 3]}, (4, 9, 8)),
    "flatten": ({}, (2, 3, 4)),
    "linear": ({"out_features": 7}, (12,)),
    "dropout": ({"p": 0.3}, (12,)),
    "identity": ({}, (3, 5, 5)),
    "seq": ({"body": [{"type": "conv", "out_channels": 3, "kernel_size": 1}, "relu"]}, (2, 6, 6)),
    "residual": ({"body": [{"type": "conv", "out_channels": 2, "kernel_size": 3, "padding": 1}]}, (2, 6, 6)),
    "parallel": ({"branches": [{"type": "conv", "out_channels": 3, "kernel_size": 1}, "identity"]}, (2, 6, 6)),
    "repeat": ({"n": 3, "body": {"type": "conv", "out_channels": 4, "kernel_size": 3}}, (2, 12, 12)),
    "gate": ({"body": [{"type": "adaptive_avgpool"}, {"type": "conv", "out_channels": 2, "kernel_size": 1}, "sigmoid"]}, (2, 6, 6)),
    "layer_norm": ({"channels": True, "eps": 1e-6}, (4, 3, 5)),
    "group_norm": ({"groups": 2, "affine": False}, (4, 3, 5)),
    "permute": ({"dims": [1, 2, 0]}, (4, 3, 5)),
    "reshape": ({"shape": [4, -1]}, (4, 3, 5)),
    "select": ({"index": -1, "dim": 1}, (4, 3, 5)),
    "channel_shuffle": ({"groups": 2}, (4, 3, 5)),
    "param": ({"shape": [4, 1, 1], "op": "mul", "init": "constant", "value": 0.5}, (4, 3, 5)),
    "attention": ({"heads": 2, "dropout": 0.1}, (5, 6)),
    "stochastic_depth": ({"p": 0.2, "mode": "batch"}, (4, 3, 5)),
    "shifted_window_attention": ({"heads": 2, "window": 4, "shift": 2, "v2": True}, (5, 6, 8)),
    "patch_merging": ({"v2": True}, (5, 6, 4)),
    "rel_pos_attention": ({"head_dim": 2, "window": 2}, (3, 4, 6)),
    "channel_affine": ({"scale": [0.5, "${0.224 / 0.5}", 2], "shift": [-0.1, 0.0, 1.0]}, (3, 4, 5)),
    "tap": ({"output": "side", "body": ["flatten", {"type": "linear", "out_features": 2}]}, (2, 6, 6)),
}


def test_every_block_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(REGISTRY)


def spec_for(block: dict, shape: tuple[int, ...]) -> dict:
    return {"input": list(shape), "network": [block]}


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_static_shape_matches_torch(type_name: str) -> None:
    fields, shape = EXAMPLES[type_name]
    spec = spec_for({"type": type_name, **fields}, shape)
    a = archspec.analyze(spec)
    m = archspec.build(spec).eval()
    out = m(torch.randn(2, *shape))
    outs = out if isinstance(out, dict) else {"out": out}
    for name, o in a.graph.outputs.items():
        assert tuple(outs[name].shape) == (2, *a.shapes[o.node])


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_block_has_a_description(type_name: str) -> None:
    cls = REGISTRY[type_name]
    assert cls.describe()
    for name, info in cls.model_fields.items():
        assert name == "type" or info.description, f"{type_name}.{name} has no description"


windows = st.tuples(
    st.integers(1, 7), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3), st.integers(1, 40), st.booleans())


@settings(max_examples=150, deadline=None)
@given(windows, st.sampled_from(["conv", "maxpool", "avgpool"]))
def test_window_shape_rule_matches_torch(params: tuple, kind: str) -> None:
    k, s, p, d, size, ceil = params
    fields: dict = {"kernel_size": k, "stride": s, "padding": p}
    if kind == "conv":
        fields |= {"out_channels": 2, "dilation": d}
    else:
        fields["ceil_mode"] = ceil
        if kind == "maxpool":
            fields["dilation"] = d
    spec = spec_for({"type": kind, **fields}, (2, size, size + 1))
    try:
        a = archspec.analyze(spec)
    except SpecError:
        with pytest.raises(RuntimeError):  # torch must refuse what archspec refuses
            torch_direct(kind, fields, size)
        return
    y = torch_direct(kind, fields, size)
    assert tuple(y.shape[1:]) == a.shapes[-1]


def torch_direct(kind: str, f: dict, size: int) -> torch.Tensor:
    x = torch.randn(1, 2, size, size + 1)
    if kind == "conv":
        m = torch.nn.Conv2d(2, 2, f["kernel_size"], f["stride"], f["padding"], f["dilation"])
    elif kind == "maxpool":
        m = torch.nn.MaxPool2d(f["kernel_size"], f["stride"], f["padding"], f["dilation"], ceil_mode=f["ceil_mode"])
    else:
        m = torch.nn.AvgPool2d(f["kernel_size"], f["stride"], f["padding"], f["ceil_mode"])
    return m(x)


# blocks whose work is all matrix products, which torch's FlopCounterMode counts: an independent
# count of their MACs (attention's fused kernels and elementwise ops are not counted there)
COUNTED = {
    "conv": EXAMPLES["conv"], "conv_block": EXAMPLES["conv_block"], "linear": EXAMPLES["linear"], "gate": EXAMPLES["gate"],
    "patch_merging": EXAMPLES["patch_merging"], "rel_pos_attention": EXAMPLES["rel_pos_attention"],
    "rel_pos_attention_wide": ("rel_pos_attention", {"head_dim": 4, "window": 3}, (2, 9, 12)),
    "swin_v1": ("shifted_window_attention", {"heads": 2, "window": 4, "shift": 2}, (5, 6, 8)),
    "swin_v2": ("shifted_window_attention", {"heads": 2, "window": 4, "shift": 2, "v2": True}, (5, 6, 8)),
}


@pytest.mark.parametrize("case", sorted(COUNTED))
def test_block_macs_equal_torchs_flop_count(case: str) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    type_name, fields, shape = COUNTED[case] if len(COUNTED[case]) == 3 else (case, *COUNTED[case])
    spec = spec_for({"type": type_name, **fields}, shape)
    a = archspec.analyze(spec)
    ours = sum(n.block.macs(a.shapes[n.inputs[0]], a.shapes[n.id]) for n in a.graph.nodes if n.op == "module")
    with FlopCounterMode(display=False) as counter:
        archspec.build(spec).train()(torch.randn(1, *shape))  # batch 1: MACs are per sample
    assert ours == counter.get_total_flops() // 2 > 0


def test_softmax_normalises_the_last_dim_of_tokens() -> None:
    x = torch.randn(2, 3, 5)
    m = archspec.build("input: [3, 5]\nnetwork: [{type: act, fn: softmax}]\n")
    torch.testing.assert_close(m(x), torch.softmax(x, dim=-1))


@pytest.mark.parametrize("op, macs", [("mul", 4 * 3 * 5), ("add", 0)])
def test_learned_tensor_macs(op: str, macs: int) -> None:
    """A layer scale multiplies every element once; adding a position embedding is no multiply-accumulate."""
    a = archspec.analyze(f"input: [4, 3, 5]\nnetwork:\n  - s: {{type: param, shape: [4, 1, 1], op: {op}}}\n")
    node = a.graph.nodes[1]
    assert node.block.macs(a.shapes[0], a.shapes[1]) == macs
