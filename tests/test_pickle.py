"""A compiled module pickles like a hand-written one: pickle, torch.save, deepcopy and multiprocessing's
spawn give back the same class name, module tree, state_dict, mode and outputs."""
from __future__ import annotations

import copy
import io
import multiprocessing as mp
import pickle

import pytest
import torch

import archspec
from conftest import SPECS

# scopes of several kinds (a user block, repeat, parallel, tap), a learned tensor on a scope and one
# at the top, a gate, a training-only output: every part of a SpecModule that pickle must carry
SPEC = """
name: picklenet
input: [3, 16, 16]
blocks:
  Cell:
    params: {c: null}
    body:
      - type: residual
        body:
          - conv: {type: conv_block, out_channels: "${c}", kernel_size: 3, padding: 1}
          - scale: {type: param, shape: [1, "${c}", 1, 1], op: mul, init: constant, value: 0.5}
      - type: gate
        body: [{type: adaptive_avgpool}, {type: conv, out_channels: "${c}", kernel_size: 1}, sigmoid]
network:
  - stem: {type: conv, out_channels: 8, kernel_size: 3, padding: 1}
  - cells: {type: repeat, n: 2, body: {type: Cell, c: 8}}
  - mix: {type: parallel, branches: [[{type: conv, out_channels: 4, kernel_size: 1}], [{type: maxpool, kernel_size: 3, stride: 1, padding: 1}]]}
  - aux: {type: tap, training_only: true, body: [{type: adaptive_avgpool}, flatten, {type: linear, out_features: 3}]}
  - pool: {type: adaptive_avgpool}
  - flatten
  - bias: {type: param, shape: [12], op: add, init: normal, std: 1.0}
  - drop: {type: dropout, p: 0.0}
"""


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def roundtrip_pickle(m: torch.nn.Module) -> torch.nn.Module:
    return pickle.loads(pickle.dumps(m))


def roundtrip_torch_save(m: torch.nn.Module) -> torch.nn.Module:
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)  # our own bytes, just written


@pytest.mark.parametrize("roundtrip", [roundtrip_pickle, roundtrip_torch_save, copy.deepcopy])
def test_roundtrip_keeps_tree_weights_modes_and_outputs(roundtrip) -> None:
    torch.manual_seed(0)
    m = archspec.build(SPEC)
    m.extra_note = "kept"  # an attribute a user set
    m2 = roundtrip(m)
    assert type(m2).__name__ == "picklenet" and str(m2) == str(m) and m2.code == m.code
    assert same_state(m, m2) and m2.extra_note == "kept"
    assert [n for n, _ in m2.named_modules()] == [n for n, _ in m.named_modules()]
    x = torch.randn(2, 3, 16, 16)
    out, out2 = m(x), m2(x)
    assert list(out2) == ["aux", "out"] and all(torch.equal(out[k], out2[k]) for k in out)
    assert torch.equal(m.eval()(x), m2.eval()(x))
    assert not isinstance(m2(x), dict)  # eval mode: the forward without the training-only output


def test_an_eval_mode_module_comes_back_in_eval_mode_with_its_eval_forward() -> None:
    m = archspec.build(SPEC).eval()
    m2 = roundtrip_pickle(m)
    assert not m2.training and not any(c.training for c in m2.modules())
    assert "aux" not in m2.code and m2.code == m.code
    assert list(m2.train()(torch.randn(1, 3, 16, 16))) == ["aux", "out"]  # and switches back


@pytest.mark.parametrize("name", ["lenet", "mnist_inception", "googlenet"])
def test_shipped_specs_pickle(name: str) -> None:
    m = archspec.build(SPECS / f"{name}.yaml")
    m2 = roundtrip_pickle(m)
    assert same_state(m, m2) and str(m2) == str(m)
    shape = archspec.analyze(SPECS / f"{name}.yaml").graph.input_shape
    x = torch.randn(2, *shape)
    assert torch.equal(m.eval()(x), m2.eval()(x))


def test_spawned_worker_runs_the_module() -> None:
    torch.manual_seed(0)
    m = archspec.build(SPEC).eval().requires_grad_(False)  # an output needing grad cannot cross processes
    x = torch.randn(2, 3, 16, 16)
    with mp.get_context("spawn").Pool(1) as pool:
        out = pool.apply(m, (x,))  # the module itself is the function: pickled to a fresh interpreter
    assert torch.equal(out, m(x))
