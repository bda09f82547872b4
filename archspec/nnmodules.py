"""The torch modules behind some block types (the blocks themselves, in archspec/blocks, import no
torch: see archspec/lazy.py). Each is a small nn.Module with the parameter names torchvision uses."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def prepend(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """[p; x] along the token dim, p expanded over the batch (a class token)."""
    return torch.cat([p.expand(x.shape[0], -1, -1), x], dim=1)


class Permute(nn.Module):
    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = [0, *(d + 1 for d in dims)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Reshape(nn.Module):
    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape([x.shape[0]] + self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Select(nn.Module):
    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim, self.index = dim, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"


class ShuffleChannels(nn.Module):
    """torchvision's channel_shuffle as a module (nn.ChannelShuffle has no autograd on CPU in some versions)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x = x.view(b, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous()
        return x.view(b, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ChannelAffine(nn.Module):
    def __init__(self, scale: list[float], shift: list[float], rank: int) -> None:
        super().__init__()
        view = (len(scale),) + (1,) * (rank - 1)  # (C, 1, 1) for images, (F,) for features
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.get_default_dtype()).view(view), persistent=False)
        self.register_buffer("shift", torch.tensor(shift, dtype=torch.get_default_dtype()).view(view), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    def extra_repr(self) -> str:
        return f"scale={self.scale.flatten().tolist()}, shift={self.shift.flatten().tolist()}"


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) image (ConvNeXt's), with nn.LayerNorm's parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class SelfAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention called on one sequence (batch first); same parameter names. Eager calls
    go through nn.MultiheadAttention (its fused inference path, as torchvision's ViT); TorchScript,
    which has no super(), gets the same computation through the functional form."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if torch.jit.is_scripting():
            return self.functional(x)
        return self.eager(x)

    @torch.jit.unused
    def eager(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x, x, x, need_weights=False)[0]

    def functional(self, x: torch.Tensor) -> torch.Tensor:
        q = x.transpose(0, 1)
        out, _ = F.multi_head_attention_forward(
            q, q, q, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, self.bias_k, self.bias_v,
            self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias, training=self.training, need_weights=False)
        return out.transpose(0, 1)


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth, the same computation and random draws: importing torchvision.ops
    imports torch._dynamo (1.5 s), which building or summarising EfficientNet or ConvNeXt then paid."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
