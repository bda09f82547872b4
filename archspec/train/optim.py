"""torch's optimizers, used eagerly without importing torch._dynamo.

torch.optim wraps `add_param_group`, `zero_grad`, `state_dict`, `load_state_dict` and every `step` in
functions that `import torch._dynamo` when first called, so that a torch.compile'd caller does not
trace into them. Outside torch.compile that import does nothing but cost 1.5-2.4 s on these 2 cores:
it was most of the time `archspec train` took to reach its first batch, and it came back at the first
checkpoint. `eager(cls)` is `cls` with those methods calling the functions they wrap: same arithmetic,
same state_dict. The trainer's optimizer is never traced (with --compile only the model is), so it
always uses these.
If a future torch wraps them differently, `eager` returns `cls` unchanged: slower start, same results.
"""
from __future__ import annotations

from functools import cache
from typing import Any, Callable, Optional

import torch
import torch.optim.optimizer as optimizer_module


def wrapper_code(module: Any, decorator: str) -> Optional[Any]:
    """The code object of the function `module.decorator` wraps a function in; None if torch has no such
    decorator or it cannot be called so (a private API that changed: torch's own methods are used)."""
    try:
        return getattr(module, decorator)(lambda: None).__code__
    except Exception:
        return None


_DISABLE = wrapper_code(torch, "_disable_dynamo")
_USE_GRAD = wrapper_code(optimizer_module, "_use_grad_for_differentiable")
# the methods torch.optim.Optimizer wraps in _disable_dynamo (`step` is wrapped in _use_grad_for_differentiable)
DISABLED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


def unwrapped(fn: Any, code: Optional[Any]) -> Optional[Callable[..., Any]]:
    """The function wrapped by the wrapper whose code is `code`, found along `fn`'s chain of wrappers
    (an optimizer's first instance wraps its class's `step` once more, in a profiling hook)."""
    if code is None:
        return None
    while fn is not None:
        if getattr(fn, "__code__", None) is code:
            return getattr(fn, "__wrapped__", None)
        fn = getattr(fn, "__wrapped__", None)
    return None


def plain_step(raw: Callable[..., Any]) -> Callable[..., Any]:
    """`step` as torch's _use_grad_for_differentiable runs it in eager mode, minus its dynamo import."""
    def step(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        with torch.set_grad_enabled(self.defaults["differentiable"]):
            return raw(self, *args, **kwargs)
    return step


@cache
def eager(cls: type[torch.optim.Optimizer]) -> type[torch.optim.Optimizer]:
    """`cls` whose methods skip torch's lazy `import torch._dynamo` (see the module's docstring)."""
    methods: dict[str, Callable[..., Any]] = {}
    for name in DISABLED:
        raw = unwrapped(getattr(cls, name, None), _DISABLE)
        if raw is not None:
            methods[name] = raw
    raw_step = unwrapped(getattr(cls, "step", None), _USE_GRAD)
    if raw_step is not None:
        methods["step"] = plain_step(raw_step)
    if len(methods) < len(DISABLED) + 1:
        return cls  # some method is wrapped in a way this does not know: it would import dynamo anyway
    return type(cls.__name__, (cls,), {**methods, "__module__": __name__, "__doc__": cls.__doc__})
