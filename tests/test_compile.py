"""The compiled module: generated forward code, and the torch tooling it must work with."""
from __future__ import annotations

import copy
import io

import pytest
import torch

import archspec
from archspec.compile import SpecModule
from conftest import spec_path


@pytest.fixture(scope="module")
def googlenet() -> SpecModule:
    torch.manual_seed(0)
    return archspec.build(spec_path("googlenet"))


def test_forward_is_generated_code_named_after_the_spec() -> None:
    m = archspec.build(spec_path("resnet18"))
    assert isinstance(m, torch.fx.GraphModule) and type(m).__name__ == "resnet18"
    code = m.code
    assert "getattr(self.layer1, \"0\").conv1(" in code or "self.layer1[0].conv1(" in code
    assert code.count("\n") > 50  # one line per call, not a loop over a node list


def test_state_dict_keys_follow_the_spec() -> None:
    keys = list(archspec.build(spec_path("resnet50")).state_dict())
    assert keys[:2] == ["conv1.weight", "bn1.weight"]
    assert "layer1.0.downsample.0.weight" in keys and "layer1.1.downsample.0.weight" not in keys
    assert "layer4.2.conv3.weight" in keys and keys[-2:] == ["fc.weight", "fc.bias"]


def test_training_only_outputs(googlenet: SpecModule) -> None:
    x = torch.randn(2, 3, 224, 224)
    out = googlenet.train()(x)
    assert isinstance(out, dict) and list(out) == ["aux1", "aux2", "out"]
    assert all(v.shape == (2, 1000) for v in out.values())
    y = googlenet.eval()(x)
    assert isinstance(y, torch.Tensor) and y.shape == (2, 1000)
    assert "aux1" not in googlenet.code


def test_symbolic_trace_script_and_trace_agree(googlenet: SpecModule) -> None:
    m = googlenet.eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ref = m(x)
        torch.testing.assert_close(torch.fx.symbolic_trace(m)(x), ref)
        torch.testing.assert_close(torch.jit.script(m)(x), ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(torch.jit.trace(m, x)(x), ref, rtol=1e-5, atol=1e-5)


def test_torch_compile() -> None:
    m = archspec.build(spec_path("mnist_inception")).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(m, backend="aot_eager")(x), m(x))


def test_deepcopy_keeps_both_modes(googlenet: SpecModule) -> None:
    c = copy.deepcopy(googlenet)
    assert type(c).__name__ == "googlenet" and isinstance(c, SpecModule)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(c.eval()(x), googlenet.eval()(x))
    assert isinstance(c.train()(torch.randn(2, 3, 224, 224)), dict)
    assert c.conv1.conv.weight.data_ptr() != googlenet.conv1.conv.weight.data_ptr()


def test_state_dict_round_trip_through_bytes() -> None:
    a = archspec.build(spec_path("mnist_residual")).eval()
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = archspec.build(spec_path("mnist_residual")).eval()
    b.load_state_dict(torch.load(buf, weights_only=True))
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(a(x), b(x))


def test_repr_reads_like_the_spec() -> None:
    text = repr(archspec.build(spec_path("resnet18")))
    assert text.startswith("resnet18(\n  (conv1): Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)")
    assert "(layer1): Sequential(\n    (0): BasicBlock(" in text
    assert "def forward" not in text


def test_inplace_relu_only_where_safe() -> None:
    m = archspec.build(spec_path("resnet18"))
    assert m.get_submodule("0").inplace  # relu after bn1
    # inside the blocks: after a batch norm and after the residual add, each read by nothing else
    assert m.get_submodule("layer1.0.0").inplace and m.get_submodule("layer1.0.1").inplace
    v = archspec.build("input: [8]\nnetwork:\n  - {type: bn}\n  - {type: dropout, p: 0.5}\n  - relu\n")
    assert not v.get_submodule("1").inplace  # only activations become in-place, not a dropout after a norm
    g = archspec.build(spec_path("lenet"))
    assert not any(getattr(mod, "inplace", False) for mod in g.modules())


def test_gradients_flow_in_training_mode(googlenet: SpecModule) -> None:
    m = copy.deepcopy(googlenet).train()
    out = m(torch.randn(2, 3, 224, 224))
    sum(v.sum() for v in out.values()).backward()
    assert m.aux1.fc2.weight.grad is not None and m.conv1.conv.weight.grad is not None


def test_init_policy() -> None:
    torch.manual_seed(0)
    m = archspec.build(spec_path("resnet18"))
    w = m.conv1.weight
    fan_out = w.shape[0] * w.shape[2] * w.shape[3]
    assert abs(w.std().item() - (2 / fan_out) ** 0.5) < 0.01  # kaiming normal, fan_out, as torchvision
    assert torch.equal(m.bn1.weight, torch.ones(64))



def reader_of(m: SpecModule, target: str) -> str:
    """The class of the module that reads module `target`'s output in the generated code."""
    node = next(n for n in m.graph.nodes if n.op == "call_module" and n.target == target)
    return type(m.get_submodule(next(iter(node.users)).target)).__name__


@pytest.mark.parametrize("name,shape", [("mnist_residual", None), ("lenet_cifar", None), ("resnet18", (3, 64, 64))])
def test_relu_moves_behind_max_pool_with_the_same_values_and_gradients(name: str, shape: tuple | None) -> None:
    from archspec import analyze, load_spec
    from archspec.compile import compile_graph, pool_first

    a = analyze(load_spec(spec_path(name)), {}, shape)
    fast, plain = compile_graph(a.graph, a.shapes), compile_graph(a.graph, a.shapes, reorder=False)
    plain.load_state_dict(fast.state_dict())
    pool, act = next(iter(pool_first(a.graph).items()))  # resnet18: its stem's overlapping 3x3/2 pool
    assert reader_of(fast, a.graph.nodes[pool].path) == "ReLU" and reader_of(plain, a.graph.nodes[act].path) == "MaxPool2d"
    torch.manual_seed(1)
    x = torch.randn(4, *a.graph.input_shape)
    # a constant patch: conv outputs repeat exactly there, so pooling windows hold ties (zeros after the
    # ReLU, or equal positive values), where the two orders could route gradients differently
    x[0, :, :12] = -1.0
    results = []
    for m in (fast, plain):
        out = m.train()(x)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad for p in m.parameters()]))
    assert torch.equal(results[0][0], results[1][0])
    assert all(torch.equal(g, h) for g, h in zip(results[0][1], results[1][1]))


def test_sigmoid_moves_behind_max_pool_with_the_same_values_and_close_gradients() -> None:
    """LeNet's sigmoid is non-decreasing, so it moves behind its 2x2 pools too (a quarter of the work);
    gradients can differ only where sigmoid rounds two entries of a window to one value."""
    from archspec import analyze, load_spec
    from archspec.compile import compile_graph, pool_first

    a = analyze(load_spec(spec_path("lenet")))
    assert [a.graph.nodes[act].block.fn for act in pool_first(a.graph).values()] == ["sigmoid", "sigmoid"]
    fast, plain = compile_graph(a.graph, a.shapes), compile_graph(a.graph, a.shapes, reorder=False)
    plain.load_state_dict(fast.state_dict())
    assert reader_of(fast, "conv.2") == "Sigmoid" and reader_of(plain, "conv.1") == "MaxPool2d"
    torch.manual_seed(1)
    x = torch.randn(8, 1, 28, 28)
    results = []
    for m in (fast, plain):
        out = m.train()(x)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad for p in m.parameters()]))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=1e-6)
    for g, h in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(g, h, rtol=1e-5, atol=1e-7)


def test_switching_modes_regenerates_the_forward_only_when_the_graph_changes(googlenet: SpecModule) -> None:
    m = copy.deepcopy(googlenet).train()
    forward = type(m).forward
    m.train()
    assert type(m).forward is forward  # already training: same graph, same code
    m.eval()
    assert type(m).forward is not forward and set(m.train()(torch.randn(1, 3, 224, 224))) == {"out", "aux1", "aux2"}


def test_node_depth_is_the_nesting_of_named_blocks() -> None:
    from archspec import analyze

    for name in ("resnet18", "vit"):
        nodes = [n for n in analyze(spec_path(name)).graph.nodes if n.op == "module"]
        assert all(n.depth == n.path.count(".") + 1 for n in nodes)
        assert max(n.depth for n in nodes) == (4 if name == "resnet18" else 5)  # layer1.0.downsample.0; encoder.layers.encoder_layer_0.mlp.0


@pytest.mark.parametrize("slope", [-0.5, 0.0, 0.2])
def test_leaky_relu_with_a_negative_slope_is_not_run_in_place_nor_moved(slope: float) -> None:
    """torch cannot differentiate an in-place leaky ReLU with a negative slope, and such a one decreases,
    so max-pooling after it is not the same (found by tools/fuzz_specs.py)."""
    from archspec import analyze
    from archspec.compile import compile_graph

    spec = ("input: [2, 8, 8]\nnetwork:\n  - {type: conv, out_channels: 4, kernel_size: 3}\n"
            f"  - {{type: act, fn: leaky_relu, negative_slope: {slope}}}\n  - {{type: maxpool, kernel_size: 2}}\n")
    a = analyze(spec)
    fast, plain = compile_graph(a.graph, a.shapes), compile_graph(a.graph, a.shapes, reorder=False)
    plain.load_state_dict(fast.state_dict())
    assert fast.get_submodule("1").inplace == (slope >= 0)
    x = torch.randn(3, 2, 8, 8)
    out = fast.train()(x)
    out.sum().backward()  # torch refuses this for an in-place leaky ReLU with a negative slope
    torch.testing.assert_close(out, plain.train()(x), rtol=0, atol=0)


def test_building_a_file_again_reuses_its_analysis_but_not_its_module(tmp_path) -> None:
    from archspec import api

    path = tmp_path / "net.yaml"
    path.write_text("input: [1, 8, 8]\nnetwork:\n  - {type: conv, out_channels: 4, kernel_size: 3}\n  - relu\n")
    first, second = archspec.build(path), archspec.build(path)
    assert len([k for k in api._ANALYSED if k[0][0] == str(path)]) == 1  # one analysis for both builds
    assert first is not second and first.graph is not second.graph and first.code == second.code
    assert not torch.equal(first.get_submodule("0").weight, second.get_submodule("0").weight)  # each initialised anew
    assert type(first).forward is type(second).forward  # compiled once (SpecModule.recompile)
    x = torch.randn(2, 1, 8, 8)
    second.load_state_dict(first.state_dict())
    torch.testing.assert_close(first(x), second(x), rtol=0, atol=0)
    relu = next(n for n in first.graph.nodes if n.op == "call_module" and n.target == "1")
    relu.replace_all_uses_with(relu.args[0])
    first.graph.erase_node(relu)
    first.recompile()  # a user's edit of one module's graph gets fresh code and leaves the other alone
    assert "getattr(self, \"1\")" not in first.code and "getattr(self, \"1\")" in second.code
    assert type(first).forward is not type(second).forward and (first(x) < 0).any() and not (second(x) < 0).any()
    path.write_text("input: [1, 8, 8]\nnetwork:\n  - {type: conv, out_channels: 6, kernel_size: 3}\n")
    assert archspec.build(path).get_submodule("0").out_channels == 6  # an edited file is read again


def test_children_sit_in_the_instance_dict_for_the_generated_forward() -> None:
    """The generated forward reaches leaves through attributes; each child mirrored in the instance
    dict is found without nn.Module.__getattr__ (compile.shadow_children), and a replaced child follows."""
    m = archspec.build(spec_path("resnet18"))
    assert m.__dict__["layer1"] is m._modules["layer1"] and m.layer1.__dict__["0"] is m.layer1._modules["0"]
    m.fc = torch.nn.Identity()
    assert m.__dict__.get("fc", m._modules["fc"]) is m._modules["fc"]


def test_residual_sums_are_computed_in_place_where_nothing_else_reads_the_first_input() -> None:
    """torchvision's `out += identity`: no new tensor per block (a tenth of ResNet-50's forward at batch 32)."""
    m = archspec.build(spec_path("resnet18"))
    assert m.code.count(".add_(") == 8 and "operator.add" not in m.code  # every BasicBlock's sum
    shared = ("input: [2, 4, 4]\nnetwork:\n  - a: {type: conv, out_channels: 2, kernel_size: 1}\n"
              "  - {type: residual, body: [relu]}\n  - t: {type: tap, output: side, body: [flatten]}\n")
    # the sum's first input is the body's ReLU output (an activation may run in place on memory others read): no add_
    assert ".add_(" not in archspec.build(shared).code


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_a_residual_sum_after_stochastic_depth_or_dropout_is_in_place_when_their_input_may_be_overwritten(mode: str) -> None:
    """Dropout and stochastic depth may hand back their input itself (eval mode), so a sum after them is
    in place only when that input may be overwritten: ConvNeXt's `result += input` after layer scale."""
    from archspec import analyze
    from archspec.compile import compile_graph

    body = ("[{type: conv, out_channels: 4, kernel_size: 3, padding: 1},"
            " {type: param, shape: [4, 1, 1], op: mul, init: constant, value: 0.5}, {type: stochastic_depth, p: 0.5}, {type: dropout, p: 0.5}]")
    spec = f"input: [4, 6, 6]\nnetwork:\n  - {{type: residual, body: {body}}}\n  - {{type: residual, body: {body}}}\n  - flatten\n"
    a = analyze(spec)
    fast, plain = compile_graph(a.graph, a.shapes), compile_graph(a.graph, a.shapes, reorder=False)
    assert fast.code.count(".add_(") == 2 and ".add_(" not in plain.code
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(3, 4, 6, 6)
    outs = []
    for m in (getattr(fast, mode)(), getattr(plain, mode)()):
        torch.manual_seed(0)
        out = m(x)
        out.square().sum().backward()  # torch refuses the backward if a tensor it saved was overwritten
        outs.append((out, [p.grad for p in m.parameters()]))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    # the stochastic depth's input read by a second branch: its output may be that input, so no add_
    shared = "input: [4, 6, 6]\nnetwork:\n  - c: {type: conv, out_channels: 4, kernel_size: 1}\n" \
             "  - {type: residual, body: [{type: stochastic_depth, p: 0.5}]}\n  - t: {type: tap, output: side, body: [flatten]}\n"
    assert ".add_(" not in archspec.build(shared).code


def test_a_network_built_again_emits_its_fx_graphs_only_when_asked() -> None:
    """A second build of an analysis takes the forwards compiled by the first (SpecModule._use_mode):
    no fx graph is emitted until `.graph` is read, in either mode, and the one emitted then is the
    graph the forward was generated from."""
    first, second = archspec.build("googlenet"), archspec.build("googlenet")
    assert second.__dict__["_fx_graph"] is None
    x = torch.randn(2, 3, 224, 224)
    second.load_state_dict(first.state_dict())
    first.eval(), second.eval()
    torch.testing.assert_close(second(x), first(x), rtol=0, atol=0)
    assert second.__dict__["_fx_graph"] is None and type(second).forward is type(first).forward
    assert [(n.op, n.target) for n in second.graph.nodes] == [(n.op, n.target) for n in first.graph.nodes]
    assert second.graph.owning_module is second and "aux" not in second.code
    second.train()
    assert set(second(x)) == {"out", "aux_logits1", "aux_logits2"} and "aux" in second.code


# -- the forward's code, written from the calls (archspec/pycode.py) --------------------------------
WRITER_SPEC = """
input: [3, 8, 8]
network:
  - stem: {type: conv, out_channels: 8, kernel_size: 1}
  - {type: residual, body: [relu, {type: conv, out_channels: 8, kernel_size: 1}]}
  - {type: parallel, merge: concat, branches: [[{type: conv, out_channels: 4, kernel_size: 1}], [identity]]}
  - {type: channel_shuffle, groups: 2}
  - aux: {type: tap, body: [adaptive_avgpool, flatten, {type: linear, out_features: 3}], training_only: true}
  - {type: reshape, shape: [12, 64]}
  - {type: permute, dims: [1, 0]}
  - class_token: {type: param, shape: [1, 1, 12], op: prepend, init: normal}
  - pos: {type: param, shape: [1, 65, 12], op: add, init: normal}
  - self: {type: attention, heads: 2}
  - {type: select, index: 0}
  - torch: {type: linear, out_features: 5}
"""


def test_the_written_forward_computes_what_fx_writes_from_the_same_graph() -> None:
    """The code archspec writes from the calls and the code fx writes from `.graph` (made from the same
    calls, with the same names) give the same outputs bit for bit, in both modes: module calls,
    learned tensors, in-place and concatenating merges, splits, taps, and blocks named like the
    code's own names (`self`, `torch`)."""
    torch.manual_seed(0)
    m = archspec.build(WRITER_SPEC)
    x = torch.randn(2, 3, 8, 8)
    for mode in (False, True):
        m.train(mode)
        ours = m.code
        assert "= self.self(" in ours and "= self.torch(" in ours and ".add_(" in ours
        assigned = {line.split(" = ")[0].strip() for line in ours.splitlines() if " = " in line}
        assert assigned <= {"x", "x1", "x2", "x3"}, assigned  # few variables, each reused as values die
        torch.manual_seed(1)
        want = m(x)
        m.recompile()  # fx's own code from m.graph
        assert m.code != ours
        torch.manual_seed(1)
        got = m(x)
        assert (set(want) == set(got) and all(torch.equal(want[k], got[k]) for k in want)) if mode else torch.equal(want, got)


def test_a_block_emitting_more_of_fx_than_the_writer_covers_gets_fx_code() -> None:
    from archspec.blocks.linear import Identity
    from archspec.pycode import Recorder

    class Fancy(Identity):  # a plugin's emit that reaches for fx.Graph API the Recorder lacks
        def emit(self, g, path, x):  # type: ignore[no-untyped-def]
            with g.inserting_after(x):
                return g.call_module(path, (x,))

    a = archspec.analyze("input: [4]\nnetwork: [identity]\n")
    node = a.graph.nodes[1]
    node.block = Fancy.model_construct(type="identity")
    from archspec.compile import compile_graph

    m = compile_graph(a.graph, a.shapes)
    assert not hasattr(Recorder, "inserting_after") and "getattr(self, \"0\")(x)" in m.code
    assert torch.equal(m(torch.ones(2, 4)), torch.ones(2, 4))
