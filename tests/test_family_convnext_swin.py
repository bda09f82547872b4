"""ConvNeXt and Swin (V1, V2) against torchvision: state_dict keys and shapes for every variant, outputs
of the smallest of each kind, and the two init policies."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import archspec
from archspec.oracle import compare, keys_and_shapes, meta_mismatch, torchvision_model

CONVNEXT = ["convnext_tiny", "convnext_small", "convnext_base", "convnext_large"]
SWIN = ["swin_t", "swin_s", "swin_b"]
SWIN_V2 = ["swin_v2_t", "swin_v2_s", "swin_v2_b"]


@pytest.mark.parametrize("name", CONVNEXT + SWIN + SWIN_V2)
def test_keys_and_shapes(name: str) -> None:
    assert meta_mismatch(name) is None  # V2 needs its block's `order:` (norm1 registered before attn)


# smallest inputs: ConvNeXt's min_size is 32; Swin pads to whole windows at any size, 64 keeps the
# shifted windows (and their masks) in play in the first two stages
@pytest.mark.parametrize("name,size", [("convnext_tiny", 32), ("swin_t", 64), ("swin_v2_t", 64)])
def test_outputs_match_torchvision(name: str, size: int) -> None:
    c = compare(name, size=size, batch=1)
    assert c.params == c.ref_params
    assert c.max_diff <= 1e-4


def init_stats(m: nn.Module) -> dict[str, tuple[float, float]]:
    return {k: (v.std().item(), v.abs().max().item()) for k, v in m.state_dict().items() if v.is_floating_point()}


def small_pair(kind: str) -> tuple[nn.Module, nn.Module]:
    """A two-stage member of the family built both ways from the same seed (the real ones take seconds)."""
    from torchvision.models import convnext as cn, swin_transformer as sw

    torch.manual_seed(0)
    if kind == "convnext":
        ref = cn.ConvNeXt([cn.CNBlockConfig(32, 64, 2), cn.CNBlockConfig(64, None, 2)], 0.1, num_classes=10)
        ours = archspec.build("convnext_tiny", dims=[32, 64], depths=[2, 2], num_classes=10)
    else:
        v2 = kind == "swin_v2"
        extra = {"block": sw.SwinTransformerBlockV2, "downsample_layer": sw.PatchMergingV2} if v2 else {}
        ref = sw.SwinTransformer([4, 4], 32, [2, 2], [2, 4], [8, 8] if v2 else [7, 7], num_classes=10, **extra)
        ours = archspec.build("swin_v2_t" if v2 else "swin_t", embed_dim=32, depths=[2, 2], num_heads=[2, 4], num_classes=10)
    return ours, ref


@pytest.mark.parametrize("kind", ["convnext", "swin", "swin_v2"])
def test_init_matches_torchvision_statistics(kind: str) -> None:
    ours, ref = small_pair(kind)
    a, b = init_stats(ours), init_stats(ref)
    assert a.keys() == b.keys()
    for k in a:
        (sa, ma), (sb, mb) = a[k], b[k]
        if sb == 0:  # constants: zero biases, layer norms, layer scale, logit scale
            assert torch.equal(ours.state_dict()[k], ref.state_dict()[k]), k
        else:  # same distribution per tensor (each has >= 96 values)
            assert abs(sa - sb) <= 0.15 * sb and abs(ma - mb) <= 0.5 * mb, (k, sa, sb)


def test_init_closed_forms() -> None:
    convnext, _ = small_pair("convnext")
    for m in convnext.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.numel() >= 1024:
            assert abs(m.weight.std().item() - 0.02) < 0.002 and not m.bias.any()
    swin, _ = small_pair("swin")
    stem = swin.get_submodule("features.0.0")
    bound = (1 / 48) ** 0.5  # PyTorch's default for the patch conv: U(+-1/sqrt(fan_in)), fan_in 3*4*4
    assert stem.weight.abs().max() <= bound and abs(stem.weight.std().item() - bound / 3 ** 0.5) < 0.006
    for m in swin.modules():
        if isinstance(m, nn.Linear) and m.weight.numel() >= 1024:
            assert abs(m.weight.std().item() - 0.02) < 0.002 and (m.bias is None or not m.bias.any())
