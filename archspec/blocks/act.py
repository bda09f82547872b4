"""Activations: act (fn: relu, gelu, ...) and the functions it can name."""
from __future__ import annotations

from typing import Callable, Literal

from pydantic import Field

from ..lazy import nn
from ..registry import Block, register
from ..types import Float, P, Shape

ActFn = Literal["relu", "relu6", "sigmoid", "tanh", "gelu", "silu", "leaky_relu", "elu", "hardswish", "hardsigmoid", "mish",
                "softplus", "softmax", "identity"]

_ACTS: dict[str, Callable[[bool, float], nn.Module]] = {
    "relu": lambda inplace, a: nn.ReLU(inplace),
    "relu6": lambda inplace, a: nn.ReLU6(inplace),
    "sigmoid": lambda inplace, a: nn.Sigmoid(),
    "tanh": lambda inplace, a: nn.Tanh(),
    "gelu": lambda inplace, a: nn.GELU(),
    "silu": lambda inplace, a: nn.SiLU(inplace),
    "leaky_relu": lambda inplace, a: nn.LeakyReLU(a, inplace),
    "elu": lambda inplace, a: nn.ELU(inplace=inplace),
    "hardswish": lambda inplace, a: nn.Hardswish(inplace),
    "mish": lambda inplace, a: nn.Mish(inplace),
    "hardsigmoid": lambda inplace, a: nn.Hardsigmoid(inplace),
    "softmax": lambda inplace, a: nn.Softmax(dim=-1),
    "softplus": lambda inplace, a: nn.Softplus(),
    "identity": lambda inplace, a: nn.Identity(),
}
ACT_NAMES = tuple(_ACTS)
ACT_CHOICES = "one of " + ", ".join(ACT_NAMES)


def make_act(fn: str, inplace: bool = False, negative_slope: float = 0.01) -> nn.Module:
    """The torch module for activation `fn`."""
    return _ACTS[fn](inplace, negative_slope)


@register
class Act(Block):
    """Elementwise activation; a bare name such as `relu` in a list is shorthand for {type: act, fn: relu}."""

    type: Literal["act"]
    fn: P(ActFn, ACT_CHOICES) = Field(description="the activation function")  # type: ignore[valid-type]
    negative_slope: Float = Field(0.01, description="slope for x < 0 (leaky_relu only)")
    learns = False

    def infer(self, x: Shape) -> Shape:
        return x

    def build(self, x: Shape) -> nn.Module:
        # in-place is switched on by the compiler where the input has no other reader
        return make_act(self.fn, False, self.negative_slope)
