"""archspec.train.optim: torch's optimizers without the torch._dynamo import, step for step the same."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from archspec.train.optim import eager

CASES = [(torch.optim.Adam, {"fused": True}), (torch.optim.Adam, {}), (torch.optim.AdamW, {"fused": True, "weight_decay": 0.1}),
         (torch.optim.SGD, {"momentum": 0.9, "fused": True}), (torch.optim.SGD, {"momentum": 0.9, "nesterov": True})]


def trained(opt_cls: type[torch.optim.Optimizer], kw: dict, steps: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    opt = opt_cls(model.parameters(), 0.05, **kw)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(8, 5, generator=g), torch.randint(0, 3, (8,), generator=g)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()
    return model, opt


@pytest.mark.parametrize("cls,kw", CASES, ids=lambda c: getattr(c, "__name__", str(c)))
def test_eager_optimizer_steps_and_saves_exactly_as_torchs(cls: type, kw: dict) -> None:
    fast = eager(cls)
    assert fast is not cls and issubclass(fast, cls)
    ours, ours_opt = trained(fast, kw, 6)
    ref, ref_opt = trained(cls, kw, 6)
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), ref.parameters()))
    # state_dicts go both ways: a checkpoint from either resumes in the other, and the steps stay equal
    a, b = ours_opt.state_dict(), ref_opt.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert all(torch.equal(a["state"][i][k], b["state"][i][k]) for i in a["state"] for k in a["state"][i])
    ours_opt.load_state_dict(b)
    ref_opt.load_state_dict(a)


def test_step_hooks_and_grad_mode_are_kept() -> None:
    model, opt = trained(eager(torch.optim.Adam), {}, 1)
    seen = []
    opt.register_step_post_hook(lambda o, args, kwargs: seen.append(torch.is_grad_enabled()))
    model(torch.randn(2, 5)).sum().backward()
    opt.step()
    assert seen == [True]  # the hook runs after the step, whose no-grad mode was restored
    assert [p.grad_fn for p in model.parameters()] == [None] * 4  # the update itself was not recorded by autograd


def test_an_optimizer_whose_methods_torch_did_not_wrap_is_left_as_it_is() -> None:
    """The fallback when a torch release wraps its methods another way: the class itself, not a broken copy."""
    class Plain(torch.optim.SGD):
        def step(self, closure=None):  # no dynamo wrapper to skip: eager cannot vouch for this class
            return super().step(closure)

    assert eager(Plain) is Plain
