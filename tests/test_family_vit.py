"""specs/vit.yaml and specs/maxvit.yaml against torchvision: keys/shapes for every variant, outputs for
the cheapest ones, and the two init policies (vit, maxvit)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

import archspec
from archspec.oracle import compare, meta_mismatch, torchvision_model

VARIANTS = ["vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14", "maxvit_t"]


@pytest.mark.parametrize("name", VARIANTS)
def test_state_dict_layout_matches_torchvision(name: str) -> None:
    assert meta_mismatch(name) is None


def test_vit_b_32_matches_torchvision() -> None:
    # compare() alone would compare zeros: ViT's head starts at zero. Give it random weights first.
    torch.manual_seed(0)
    ref = torchvision_model("vit_b_32").eval()
    ours = archspec.build("vit_b_32").eval()
    with torch.no_grad():
        ref.heads.head.weight.normal_(std=0.02)
        ref.heads.head.bias.normal_(std=0.02)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters()) == 88_224_232
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = ours(x), ref(x)
    assert b.abs().max() > 0.01
    assert (a - b).abs().max().item() <= 1e-4


def test_maxvit_t_matches_torchvision() -> None:
    c = compare("maxvit_t", size=224, batch=1)
    assert c.params == c.ref_params == 30_919_624
    assert c.max_diff <= 1e-4


def std(t: torch.Tensor) -> float:
    return t.float().std().item()


def test_vit_init() -> None:
    torch.manual_seed(0)
    m = archspec.build("vit_b_32", image_size=64, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=256)
    w = m.conv_proj.weight                                   # trunc normal, std sqrt(1 / fan_in)
    assert std(w) == pytest.approx(math.sqrt(1 / (3 * 32 * 32)), rel=0.03)
    assert not m.conv_proj.bias.any()
    assert not m.heads.head.weight.any() and not m.heads.head.bias.any()
    assert not m.class_token.any()
    assert std(m.encoder.pos_embedding) == pytest.approx(0.02, rel=0.15)
    for layer in m.encoder.layers.children():
        for lin, (fi, fo) in ((getattr(layer.mlp, "0"), (64, 256)), (getattr(layer.mlp, "3"), (256, 64))):
            bound = math.sqrt(6 / (fi + fo))                 # xavier uniform
            assert lin.weight.abs().max().item() <= bound
            assert std(lin.weight) == pytest.approx(bound / math.sqrt(3), rel=0.05)
            assert 0.5e-6 < std(lin.bias) < 2e-6             # N(0, 1e-6)
        attn = layer.self_attention                          # nn.MultiheadAttention's own init
        assert not attn.in_proj_bias.any() and not attn.out_proj.bias.any()
        assert std(attn.in_proj_weight) == pytest.approx(math.sqrt(2 / (64 + 192)), rel=0.05)


def test_maxvit_init() -> None:
    torch.manual_seed(0)
    m = archspec.build("maxvit_t", stem_channels=16, block_channels=[32, 32, 32, 32], block_layers=[1, 1, 1, 1])
    kinds = set()
    for name, mod in m.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            kinds.add(type(mod))
            if mod.weight.numel() >= 1024:
                assert std(mod.weight) == pytest.approx(0.02, rel=0.1), name
            if mod.bias is not None:
                assert not mod.bias.any(), name
        elif isinstance(mod, nn.BatchNorm2d):
            assert (mod.weight == 1).all() and not mod.bias.any(), name
        elif hasattr(mod, "relative_position_bias_table"):
            assert std(mod.relative_position_bias_table) == pytest.approx(0.02, rel=0.2), name
    assert kinds == {nn.Conv2d, nn.Linear}
