"""Fuzz archspec with three kinds of specs and count outcomes by class:

- mutations of the shipped specs (tests/mutations.py);
- random valid specs generated from the registry's block types (every type and field, nested
  containers, user blocks, repeats, expressions), built and checked against torch: every node's
  inferred shape equals the shape torch computes, the output is finite, and forward/backward agree
  with and without the compiler's rewrites;
- hostile specs, one generator per class of input that once crashed archspec (YAML merge keys and
  bad tags, huge numbers, non-UTF-8 files, reserved names, NaN/inf, expressions that blow up,
  deep nesting, huge inputs and flattens).

Property: each spec builds or gives archspec's located SpecError, never another exception, within
--timeout CPU seconds and --memory GB. The targets are zero of: other exception, time-out, error without
location, shape mismatch, NaN output, rewrite mismatch.

    python tools/fuzz_specs.py 20000 [--seed 0] [--timeout 10] [--only generated|hostile|mutation] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from mutations import load_originals, mutated_text  # noqa: E402

import archspec  # noqa: E402
from archspec.compile import compile_graph, pool_first  # noqa: E402
from archspec.errors import SpecError  # noqa: E402
from archspec.limits import check_memory  # noqa: E402

BUILD_LIMIT = 2_000_000  # build and run specs up to this many parameters; larger ones are checked statically
BUILD_NODES = 5_000  # and up to this many blocks (compiling a 100,000-block forward takes longer than the time limit)
BAD = ("other exception", "time-out", "error without location", "shape mismatch", "NaN output", "rewrite mismatch")
ACTS = ["relu", "relu6", "sigmoid", "tanh", "gelu", "silu", "leaky_relu", "elu", "hardswish", "mish", "hardsigmoid",
        "softplus", "identity"]


# -- random valid specs ---------------------------------------------------------------------------
class Gen:
    """One random spec: blocks chosen for the shape flowing at each point, which the generator tracks
    (("img", C, H, W), ("feat", F) or ("tok", N, D)), so that most specs are valid."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.params: dict[str, int] = {"w": rng.choice([2, 4, 6, 8])}
        self.user: dict[str, Any] = {}
        self.names = 0
        self.depth = 0

    # values, written as literals or as expressions that evaluate to them
    def num(self, v: int, shape: tuple | None = None) -> Any:
        r, w = self.rng, self.params["w"]
        forms = [v, v, f"${{{v}}}", f"${{w + {v - w}}}", f"${{max({v}, 1)}}", f"${{int({v} * 1.0)}}",
                 f"${{[{v}, 0][0]}}", f"${{{v} if w > 0 else 1}}", f"${{round({v} + 0.2)}}", f"${{{2 * v} // 2}}"]
        if shape is not None and shape[0] == "img" and v % shape[1] == 0:
            forms.append(f"${{in_channels * {v // shape[1]}}}")
        if shape is not None and shape[0] in ("feat", "tok") and v == shape[-1]:
            forms.append("${in_features}")
        return r.choice(forms)

    def name(self) -> str:
        self.names += 1
        return f"b{self.names}"

    def item(self, block: dict[str, Any]) -> Any:
        """Named, unnamed, or (for field-less types) a bare name."""
        r = self.rng.random()
        if len(block) == 1 and r < 0.3:
            return block["type"]
        return {self.name(): block} if r < 0.6 else block

    # -- images (C, H, W) ----------------------------------------------------------------------
    def conv(self, s: tuple, kind: str = "conv") -> tuple[dict, tuple]:
        r, (_, c, h, w) = self.rng, s
        k = r.choice([1, 3]) if min(h, w) >= 3 else 1
        out = r.choice([c, 2 * c, 4, 8, self.params["w"]])
        stride = r.choice([1, 1, 2]) if min(h, w) >= 4 else 1
        b: dict[str, Any] = {"type": kind, "out_channels": self.num(out, s), "kernel_size": k}
        pad = k // 2
        if stride == 1 and r.random() < 0.2:
            b["padding"] = "same"
        else:
            b["padding"] = pad
        if stride != 1 or r.random() < 0.3:
            b["stride"] = stride
        g = r.choice([g for g in (1, 2, c) if c % g == 0 and out % g == 0])
        if g != 1:
            b["groups"] = g
        if r.random() < 0.3:
            b["bias"] = r.random() < 0.5
        if kind == "conv_block":
            if r.random() < 0.5:
                b["act"] = r.choice(ACTS)
            if r.random() < 0.3:
                b["eps"], b["momentum"] = r.choice([1e-5, 1e-3, 0.1]), r.choice([0.0, 0.1, 1.0])
        hh, ww = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        return b, ("img", out, hh, ww)

    def pool(self, s: tuple) -> tuple[dict, tuple]:
        r, (_, c, h, w) = self.rng, s
        k = r.choice([2, 3]) if min(h, w) >= 3 else 1
        st, pad = r.choice([1, 2]), r.choice([0, k // 2])
        kind = r.choice(["maxpool", "avgpool"])
        b: dict[str, Any] = {"type": kind, "kernel_size": k, "stride": st, "padding": pad}
        ceil = r.random() < 0.3
        if ceil:
            b["ceil_mode"] = True
        if kind == "avgpool" and r.random() < 0.3:
            b["count_include_pad"] = False
        size = lambda n: max(1, (n + 2 * pad - k + (st - 1 if ceil else 0)) // st + 1)  # noqa: E731
        hh, ww = size(h), size(w)
        if ceil:  # torch drops a last window that starts in the right padding
            hh -= (hh - 1) * st >= h + pad
            ww -= (ww - 1) * st >= w + pad
        return b, ("img", c, hh, ww)

    def keep_img(self, s: tuple) -> dict:
        """A block that keeps an image's shape."""
        r, c = self.rng, s[1]
        choices: list[Callable[[], dict]] = [
            lambda: {"type": "bn", **({"eps": 1e-3, "momentum": r.choice([0.01, 0.5])} if r.random() < 0.3 else {})},
            lambda: {"type": "act", "fn": r.choice(ACTS), **({"negative_slope": r.choice([-0.5, 0.0, 0.2])} if r.random() < 0.3 else {})},
            lambda: {"type": r.choice(ACTS)},
            lambda: {"type": "dropout", "p": r.choice([0.0, 0.1, 0.5])},
            lambda: {"type": "identity"},
            lambda: {"type": "stochastic_depth", "p": r.choice([0.0, 0.2]), "mode": r.choice(["row", "batch"])},
            lambda: {"type": "group_norm", "groups": r.choice([g for g in (1, 2, c) if c % g == 0]), "eps": 1e-5},
            lambda: {"type": "layer_norm", "channels": True, "affine": r.random() < 0.8},
            lambda: {"type": "channel_shuffle", "groups": r.choice([g for g in (1, 2) if c % g == 0])},
            lambda: {"type": "conv", "out_channels": "${in_channels}", "kernel_size": 3, "padding": 1} if min(s[2:]) >= 3 else {"type": "identity"},
            lambda: {"type": "param", "shape": [1, c, 1, 1], "op": r.choice(["add", "mul"]),
                     "init": r.choice(["zeros", "ones", "constant", "normal", "trunc_normal"]), "value": 0.5, "std": 0.1},
        ]
        if c <= 8:
            choices.append(lambda: {"type": "channel_affine", "scale": [1.0 + i / 10 for i in range(c)], "shift": [0.1] * c})
        return r.choice(choices)()

    def img_block(self, s: tuple) -> tuple[Any, tuple]:
        r = self.rng
        k = r.random()
        if k < 0.22:
            b, s = self.conv(s, r.choice(["conv", "conv_block"]))
            return self.item(b), s
        if k < 0.32 and min(s[2:]) >= 2:
            b, s = self.pool(s)
            return self.item(b), s
        if k < 0.37:
            o = r.choice([1, 2, [1, 2]])
            o = o if min(s[2:]) >= 2 else 1
            oh, ow = (o, o) if isinstance(o, int) else o
            return self.item({"type": "adaptive_avgpool", "output_size": o}), ("img", s[1], oh, ow)
        if self.depth < 4 and k < 0.65:
            return self.container(s)
        if k < 0.72 and s[1] <= 64:
            return self.user_call(s)
        return self.item(self.keep_img(s)), s

    def container(self, s: tuple) -> tuple[Any, tuple]:
        r = self.rng
        self.depth += 1
        try:
            kind = r.choice(["residual", "parallel", "seq", "repeat", "gate", "tap", "list", "channels_last"])
            return getattr(self, "c_" + kind)(s)
        finally:
            self.depth -= 1

    def keep_body(self, s: tuple, n: int = 2) -> list[Any]:
        return [self.item(self.keep_img(s)) for _ in range(self.rng.randint(1, n))]

    def c_residual(self, s: tuple) -> tuple[Any, tuple]:
        b: dict[str, Any] = {"type": "residual", "body": self.keep_body(s)}
        if self.rng.random() < 0.3:
            b["shortcut"] = [{"type": "identity"}]
        if self.rng.random() < 0.3:
            b["merge"] = self.rng.choice(["add", "mul"])
        return self.item(b), s

    def c_parallel(self, s: tuple) -> tuple[Any, tuple]:
        r, c = self.rng, s[1]
        if r.random() < 0.4 and c % 2 == 0:
            br = [self.keep_body(("img", c // 2, *s[2:]), 1), self.keep_body(("img", c // 2, *s[2:]), 1)]
            br = [[x for x in b if "channel_affine" not in json.dumps(x) and "param" not in json.dumps(x)] or ["identity"] for b in br]
            return self.item({"type": "parallel", "split": r.choice([2, [c // 2, c // 2]]), "branches": br}), s
        outs = [r.choice([2, 4, c]) for _ in range(r.randint(2, 3))]
        merge = r.choice(["concat", "add", "mul"])
        if merge != "concat":
            outs = [outs[0]] * len(outs)
        br = [[{"type": "conv", "out_channels": o, "kernel_size": 1}] for o in outs]
        b: dict[str, Any] = {"type": "parallel", "branches": br, "merge": merge}
        if merge == "concat" and r.random() < 0.3:
            b["dim"] = 0
        return self.item(b), ("img", sum(outs) if merge == "concat" else outs[0], *s[2:])

    def c_seq(self, s: tuple) -> tuple[Any, tuple]:
        body = []
        for _ in range(self.rng.randint(1, 3)):
            it, s = self.img_block(s)
            body.append(it)
        return self.item({"type": "seq", "body": body}), s

    def c_list(self, s: tuple) -> tuple[Any, tuple]:
        body = []
        for _ in range(self.rng.randint(1, 3)):
            it, s = self.img_block(s)
            body.append(it)
        return body, s

    def c_repeat(self, s: tuple) -> tuple[Any, tuple]:
        r = self.rng
        n = r.randint(1, 3)
        b: dict[str, Any] = {"type": "repeat", "n": n}
        if r.random() < 0.4 and min(s[2:]) >= 4:
            b["body"] = {"type": "conv", "out_channels": "${in_channels}", "kernel_size": 3, "padding": 1}
            b["first"] = {"stride": 2}
            s = ("img", s[1], (s[2] - 1) // 2 + 1, (s[3] - 1) // 2 + 1)
        else:
            b["body"] = self.keep_body(s)
            if r.random() < 0.5:
                b["var"] = "i"
                b["body"] = [{"type": "dropout", "p": "${0.1 * i / " + str(n) + "}"}, *b["body"]]
        if r.random() < 0.3:
            b["counter"] = "k"
        if r.random() < 0.3:
            b["flat"] = True
        return self.item(b), s

    def c_gate(self, s: tuple) -> tuple[Any, tuple]:
        c = s[1]
        mid = max(1, c // 2)
        body = [{"type": "adaptive_avgpool", "output_size": 1}, {"type": "conv", "out_channels": mid, "kernel_size": 1},
                "relu", {"type": "conv", "out_channels": c, "kernel_size": 1}, "hardsigmoid"]
        return self.item({"type": "gate", "body": body}), s

    def c_tap(self, s: tuple) -> tuple[Any, tuple]:
        b = {"type": "tap", "training_only": self.rng.random() < 0.5,
             "body": [{"type": "adaptive_avgpool", "output_size": 1}, "flatten", {"type": "linear", "out_features": 3}]}
        return {self.name(): b}, s

    def c_channels_last(self, s: tuple) -> tuple[Any, tuple]:
        """(C, H, W) -> (H, W, C) for blocks working on the last dim, and back."""
        r, (_, c, h, w) = self.rng, s
        body: list[Any] = [{"type": "permute", "dims": [1, 2, 0]}, {"type": "layer_norm"}]
        out = c
        if r.random() < 0.5:
            out = r.choice([c, 4, 8])
            body.append({"type": "linear", "out_features": self.num(out)})
        if r.random() < 0.3 and h % 2 == 0 and w % 2 == 0 and r.random() < 0.5:
            body.append({"type": "patch_merging", "v2": r.random() < 0.5})
            h, w, out = h // 2, w // 2, 2 * out
        body.append({"type": "permute", "dims": [2, 0, 1]})
        return self.item({"type": "seq", "body": body}), ("img", out, h, w)

    def user_call(self, s: tuple) -> tuple[Any, tuple]:
        """A block of the spec's own, with a required parameter, a default and a let."""
        r, c = self.rng, s[1]
        if not self.user:
            self.user["Unit"] = {"params": {"channels": None, "stride": 1}, "let": {"mid": "${max(1, channels // 2)}"},
                                 "body": [{"c1": {"type": "conv", "out_channels": "${mid}", "kernel_size": 1}}, "relu",
                                          {"c2": {"type": "conv", "out_channels": "${channels}", "kernel_size": 3,
                                                  "padding": 1, "stride": "${stride}"}}]}
        out = r.choice([c, 4, 8])
        stride = r.choice([1, 2]) if min(s[2:]) >= 4 else 1
        call = {"type": "Unit", "channels": self.num(out, s), **({"stride": stride} if stride != 1 else {})}
        return {self.name(): call}, ("img", out, (s[2] - 1) // stride + 1, (s[3] - 1) // stride + 1)

    # -- tokens and features -------------------------------------------------------------------
    def tokens(self, s: tuple) -> tuple[list[Any], tuple]:
        """(C, H, W) -> tokens (H*W, C) -> attention blocks -> a class token's features."""
        r, (_, c, h, w) = self.rng, s
        items: list[Any] = [{"type": "reshape", "shape": [c, -1]}, {"type": "permute", "dims": [1, 0]}]
        n, d = h * w, c
        heads = r.choice([x for x in (1, 2, d) if d % x == 0])
        att = {"type": "attention", "heads": heads, "dropout": r.choice([0.0, 0.1]), "bias": r.random() < 0.8}
        if r.random() < 0.5:
            items.append({self.name(): {"type": "param", "shape": [1, 1, "${in_features}"], "op": "prepend"}})
            n += 1
        if r.random() < 0.5:
            items.append({self.name(): {"type": "param", "shape": [1, n, d], "op": "add", "init": "normal", "std": 0.02}})
        items.append({"type": "residual", "body": [{"type": "layer_norm", "eps": 1e-6}, att]})
        items.append({"type": "residual", "body": [{"type": "layer_norm"}, {"type": "linear", "out_features": 2 * d},
                                                   "gelu", {"type": "linear", "out_features": "${in_features // 2}"}]})
        items.append({"type": "select", "index": 0, "dim": 0})
        return items, ("feat", d)

    def head(self, s: tuple) -> list[Any]:
        r = self.rng
        items: list[Any] = ["flatten"] if s[0] != "feat" else []
        f = math.prod(s[1:])
        for _ in range(r.randint(0, 2)):
            k = r.random()
            if k < 0.4:
                f = r.choice([4, 8, 16])
                items.append({"type": "linear", "out_features": self.num(f, ("feat", f)), "bias": r.random() < 0.8})
            elif k < 0.6:
                items.append({"type": "residual", "body": [{"type": "linear", "out_features": "${in_features}"}, "relu"]})
            else:
                items.append(r.choice([{"type": "bn"}, {"type": "layer_norm"}, {"type": "dropout", "p": 0.2}, "tanh"]))
        items.append({"fc": {"type": "linear", "out_features": "${num_classes}"}})
        return items

    def generate(self) -> dict[str, Any]:
        r = self.rng
        self.input = (r.choice([1, 2, 3, 4]), r.choice([4, 7, 8, 12, 16]), r.choice([4, 8, 9, 16]))
        s: tuple = ("img", *self.input)
        network: list[Any] = []
        for _ in range(r.randint(1, 6)):
            it, s = self.img_block(s)
            network.append(it)
        if r.random() < 0.2 and math.prod(s[1:]) <= 4096:
            items, s = self.tokens(s)
            network += items
        network += self.head(s)
        doc: dict[str, Any] = {"name": "fuzz", "params": {**self.params, "num_classes": r.randint(1, 10)},
                               "let": {"w2": "${w * 2}"}, "input": list(self.input)}
        if self.user:
            doc["blocks"] = self.user
        doc["network"] = network
        if r.random() < 0.2:
            doc["init"] = r.choice(["torch", "torchvision"])
        return doc


def generated_text(rng: random.Random) -> str:
    """A random valid spec as YAML text (JSON is YAML)."""
    return json.dumps(Gen(rng).generate(), indent=1) + "\n"


# -- hostile inputs, one generator per class -------------------------------------------------------
HEAD = "input: [3, 8, 8]\nnetwork:\n"


def h_merge_keys(r: random.Random) -> str:
    where = r.choice(["block", "params", "user"])
    if where == "block":
        return HEAD + "  - a: &c {type: conv, out_channels: 4, kernel_size: 3, padding: 1}\n  - b: {<<: *c" + r.choice(["", ", kernel_size: 1, padding: 0", ", bogus: 1"]) + "}\n"
    if where == "params":
        return "params:\n  base: &p {w: 4}\n  <<: *p\n  " + r.choice(["w: 2", "v: 1", "x: [1]"]) + "\n" + HEAD + "  - {type: conv, out_channels: \"${w}\", kernel_size: 1}\n"
    return ("blocks:\n  A: &a\n    params: {c: 4}\n    body: [relu]\n  B:\n    <<: *a\n    params: {c: 2}\n" + HEAD + "  - x: A\n  - y: B\n")


def h_tags(r: random.Random) -> str:
    v = r.choice(["!!int abc", "!!float x", "!!timestamp 2001-99-99", "!!binary ==", "!!bool maybe", "!!int 0x", "!!set {a}",
                  "!!omap [a]", "!!python/name:os.system", "!foo 3", "!!str", "!!null x"])
    return HEAD + f"  - c: {{type: conv, out_channels: {v}, kernel_size: 1}}\n"


def h_numbers(r: random.Random) -> str:
    v = r.choice([".nan", ".inf", "-.inf", "1e400", "-1", "0", "1e-400", "9" * r.choice([20, 500, 5000]), "-0.0"])
    f = r.choice(["{type: bn, eps: V}", "{type: bn, momentum: V}", "{type: act, fn: leaky_relu, negative_slope: V}",
                  "{type: layer_norm, eps: V}", "{type: dropout, p: V}", "{type: group_norm, groups: 1, eps: V}",
                  "{type: conv_block, out_channels: 4, kernel_size: 1, eps: V}", "{type: conv, out_channels: V, kernel_size: 1}",
                  "{type: param, shape: [1, 3, 1, 1], op: mul, init: constant, value: V}"])
    expr = r.random() < 0.3
    return HEAD + "  - " + f.replace("V", f'"${{float(\'{v}\')}}"' if expr else v) + "\n"


def h_names(r: random.Random) -> str:
    n = r.choice(["class", "None", "forward", "train", "training", "to", "state_dict", "_x", "a.b", "graph", "code", "lambda",
                  "'a b'", "'1x'", "'${\"for\"}'", "match",
                  # that break out of getattr(self, "NAME") in the generated code, or that Python reads as another name
                  '"b\\"),print(1),getattr(self,\\"c"', "'a\\b'", '"a\\x07b"', "º", "'ﬁ'"])
    if r.random() < 0.5:
        return HEAD + f"  - {n}: relu\n"
    return HEAD + "  - s: [relu]\n  - s: [relu]\n" if r.random() < 0.5 else HEAD + "  - s: relu\n  - s: [relu]\n"


def h_expressions(r: random.Random) -> str:
    e = r.choice(["'%0999999999d' % 1", "round(1, -10**12)", "10**10**10", "'a' * 10**9", "[1] * 10**9", "2.0**2000",
                  "exp(1000)", "int('9' * 499)", "float('nan')", "sum([[1]] * 2)", "log(0)", "1/0", "'%s' % 'x'",
                  "make_divisible(10**12, 1)", "[[[[1]]]] == [[[[1]]]]", "max([])", "len(5)"])
    dbl = r.random() < 0.3
    if dbl:
        seed = r.choice(["'ab'", "[1, 2]", "[[1]]"])
        lets = ", ".join([f"b0: \"${{a + a}}\""] + [f"b{i}: \"${{[b{i - 1}, b{i - 1}]}}\"" if seed == "[[1]]" else f"b{i}: \"${{b{i - 1} + b{i - 1}}}\""
                                                  for i in range(1, 40)])
        return f"params: {{a: \"${{{seed}}}\"}}\nlet: {{{lets}}}\n" + HEAD + "  - relu\n"
    return f"params: {{a: \"${{{e}}}\"}}\n" + HEAD + "  - relu\n"


def h_inputs(r: random.Random) -> str:
    dims = r.choice([["${w}", 8, 8], [3, "${w - 4}", 8], [10**6, 10**6, 3], [1024, 1024, 1024, 1024], [2**20] * 3, [0], [-1, 2],
                     [3, 1.5, 2], ["${2**30}"]])
    net = r.choice(["[relu]", "[flatten]", "[flatten, {type: linear, out_features: 2}]", "[{type: conv, out_channels: 4, kernel_size: 1}]"])
    return f"params: {{w: {r.choice([0, -3, 4])}}}\ninput: {json.dumps(dims)}\nnetwork: {net}\n"


def h_depth(r: random.Random) -> str:
    n = r.choice([65, 90, 200, 600])
    kind = r.choice(["list", "residual", "seq", "user", "named"])
    if kind == "list":
        return HEAD + "  " + "[" * n + "relu" + "]" * n + "\n"
    if kind == "residual":
        return HEAD + "  - " + "{type: residual, body: " * n + "relu" + "}" * n + "\n"
    if kind == "seq":
        return HEAD + "  - " + "{type: seq, body: [" * n + "relu" + "]}" * n + "\n"
    if kind == "named":
        return HEAD + "  - " + "{type: seq, body: [a: " * n + "relu" + "]}" * n + "\n"
    return "input: [3, 8, 8]\nblocks:\n" + "".join(f"  B{i}:\n    body: [B{i + 1}]\n" for i in range(n)) + f"  B{n}:\n    body: [relu]\nnetwork: [B0]\n"


def h_size(r: random.Random) -> str:
    o, i = r.choice([(200, 200), (99, 1010), (10, 10_000), (10_001, 1)])
    return f"input: [4]\nnetwork:\n  - r: {{type: repeat, n: {o}, body: {{type: repeat, n: {i}, body: relu}}}}\n"


HOSTILE: dict[str, Callable[[random.Random], str]] = {
    "merge keys": h_merge_keys, "tags": h_tags, "numbers": h_numbers, "names": h_names, "expressions": h_expressions,
    "inputs": h_inputs, "depth": h_depth, "size": h_size,
}


def encoded(rng: random.Random, text: str) -> bytes:
    """Text as a file might hold it: UTF-8 mostly, sometimes Latin-1 or UTF-16."""
    enc = rng.choice(["utf-8", "latin-1", "utf-16", "utf-8-sig"])
    if enc == "latin-1":
        text = "# café\n" + text
    try:
        return text.encode(enc)
    except UnicodeEncodeError:  # a character Latin-1 lacks (ﬁ): the file is UTF-8 after all
        return text.encode("utf-8")


# -- checking one spec -------------------------------------------------------------------------------
def outcome(spec: str | Path, deep: bool = False) -> str:
    """built / validated / located error, or what went wrong; `deep` also runs torch against the
    inferred shapes and the compiler's rewrites."""
    try:
        a = archspec.analyze(spec)
        if check_memory(a.graph, a.shapes) > BUILD_LIMIT or len(a.graph.nodes) > BUILD_NODES:
            return "validated"
        m = compile_graph(a.graph, a.shapes)
        return check_against_torch(a, m) if deep else "built"
    except SpecError as e:
        return "located error" if e.loc is not None else "error without location"


def check_against_torch(a: Any, m: Any) -> str:
    """'built', or the first property torch disagrees with."""
    import torch

    shapes: dict[int, tuple] = {}
    hooks = []
    for node in a.graph.nodes:
        if node.op == "module" and node.type != "param":
            mod = m.get_submodule(node.path)
            hooks.append(mod.register_forward_hook(lambda mod, i, o, n=node.id: shapes.__setitem__(n, tuple(o.shape[1:]))))
    x = torch.randn(2, *a.graph.input_shape)
    m.eval()
    with torch.no_grad():
        y = m(x)
    for h in hooks:
        h.remove()
    # an activation the compiler moved behind its max-pool (compile.pool_first) computes the pool's shape
    expected = {n: tuple(a.shapes[n]) for n in shapes}
    expected.update({act: tuple(a.shapes[pool]) for pool, act in pool_first(a.graph).items()})
    if any(shapes[n] != expected[n] for n in shapes):
        return "shape mismatch"
    if not all(torch.isfinite(t).all() for t in tensors(y)):
        return "NaN output"
    return compare_rewrites(a, m, x, y)


def tensors(out: Any) -> list[Any]:
    """A network's outputs as a list: one tensor, or a dict of named ones (with taps)."""
    return list(out.values()) if isinstance(out, dict) else [out]


def compare_rewrites(a: Any, m: Any, x: Any, y: Any) -> str:
    """The same weights compiled without the rewrites (pool before ReLU, in-place ops) give the same
    output and the same gradients."""
    import torch

    plain = compile_graph(a.graph, a.shapes, reorder=False)
    plain.load_state_dict(m.state_dict())
    plain.eval()
    with torch.no_grad():
        if not all(torch.allclose(p, q, rtol=1e-4, atol=1e-5) for p, q in zip(tensors(plain(x)), tensors(y))):
            return "rewrite mismatch"
    grads = []
    for mod in (m, plain):
        mod.train()
        mod.zero_grad()
        torch.manual_seed(0)
        out = mod(x)
        loss = sum(v.float().square().mean() for v in tensors(out))
        loss.backward()
        grads.append([p.grad for p in mod.parameters()])
    # float noise is measured against the network's largest gradient: a different memory layout (an
    # in-place sum keeps its first input's) can pick another conv kernel, and where a gradient is
    # mathematically zero (a norm's bias before a norm) both runs return only rounding, which no
    # relative tolerance can match; a wrong rewrite is off by the gradient's own size
    scale = max((g.abs().max().item() for g in grads[0] if g is not None), default=0.0)
    for g1, g2 in zip(*grads):
        if (g1 is None) != (g2 is None) or (g1 is not None and not torch.allclose(g1, g2, rtol=1e-3, atol=1e-5 + 1e-4 * scale)):
            return "rewrite mismatch"
    return "built"


class TimedOut(Exception):
    pass


def on_alarm(signum: int, frame: object) -> None:
    raise TimedOut


def one(kind: str, rng: random.Random, originals: dict, tmp: Path) -> tuple[str, str | Path]:
    """(class, spec) for the i-th case: a mutation, a generated spec, or a hostile one (sometimes as a file)."""
    if kind == "mutation":
        return "mutation", mutated_text(rng, originals)
    if kind == "generated":
        return "generated", generated_text(rng)
    cls = rng.choice(list(HOSTILE))
    text = HOSTILE[cls](rng)
    if rng.random() < 0.2:
        path = tmp / "spec.yaml"
        path.write_bytes(encoded(rng, text))
        return cls, path
    return cls, text


def run(n: int, seed: int, timeout: float, only: str | None, memory_gb: float, jobs: int = 1, part: int = 0) -> Counter:
    """Specs part, part + jobs, part + 2 * jobs, ... of n. Each spec has its own random stream (seed, i), so
    a run of n specs is the same specs whatever the number of processes it is split over."""
    originals = load_originals()
    counts: Counter = Counter()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (int(memory_gb * 2**30), hard))  # bounded memory: a blow-up is a MemoryError
    # the limit is CPU seconds (ITIMER_PROF), not wall-clock: on a machine shared with other jobs, a
    # spec's wall-clock time says more about the load than about archspec
    signal.signal(signal.SIGPROF, on_alarm)
    kinds = [only] if only else ["mutation", "generated", "hostile"]
    shown, t0, done = 0, time.time(), 0
    with tempfile.TemporaryDirectory() as d:
        for i in range(part, n, jobs):
            rng = random.Random(f"{seed}:{i}")
            cls, spec = one(kinds[i % len(kinds)], rng, originals, Path(d))
            signal.setitimer(signal.ITIMER_PROF, timeout)
            tb = ""
            try:
                result = outcome(spec, deep=cls == "generated")
            except TimedOut:
                result = "time-out"
            except Exception:  # what the fuzzer is looking for
                result, tb = "other exception", traceback.format_exc(limit=-6)
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
            counts[(cls, result)] += 1
            if result in BAD and shown < 5:
                shown += 1
                text = spec.read_bytes()[:2000] if isinstance(spec, Path) else spec[:2000]
                print(f"--- {cls} {i}: {result}\n{text}\n{tb}", file=sys.stderr)
            done += 1
            if done % 1000 == 0:
                print(f"{done:,} specs{f' (process {part + 1} of {jobs})' if jobs > 1 else ''}, {time.time() - t0:.0f} s", flush=True)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    counts[("total", "seconds")] = round(time.time() - t0)
    return counts


def run_parallel(n: int, seed: int, timeout: float, only: str | None, memory_gb: float, jobs: int) -> Counter:
    """run() split over `jobs` processes (each with its own memory limit); their counts added up."""
    if jobs == 1:
        return run(n, seed, timeout, only, memory_gb)
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter each: no inherited limits or handlers
    t0 = time.time()
    with ctx.Pool(jobs) as pool:
        parts = pool.starmap(run, [(n, seed, timeout, only, memory_gb, jobs, k) for k in range(jobs)])
    total: Counter = Counter()
    for c in parts:
        c.pop(("total", "seconds"), None)
        total.update(c)
    total[("total", "seconds")] = round(time.time() - t0)
    return total


def report(counts: Counter) -> str:
    seconds = counts.pop(("total", "seconds"), 0)
    total = sum(counts.values())
    results = ["built", "validated", "located error", *BAD]
    W = max(map(len, results)) + 2  # noqa: N806
    classes = sorted({c for c, _ in counts})
    lines = [f"{total:,} specs in {seconds} s ({1000 * seconds / max(total, 1):.0f} s per 1,000)", "",
             f"{'class':<14}" + "".join(f"{r:>{W}}" for r in results)]
    for c in classes:
        lines.append(f"{c:<14}" + "".join(f"{counts.get((c, r), 0):>{W},}" for r in results))
    lines.append(f"{'all':<14}" + "".join(f"{sum(v for (_, r), v in counts.items() if r == res):>{W},}" for res in results))
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("n", type=int, nargs="?", default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10, help="CPU seconds per spec")
    p.add_argument("--memory", type=float, default=8.0, help="GB of address space for the whole run")
    p.add_argument("--only", choices=["mutation", "generated", "hostile"])
    p.add_argument("--jobs", type=int, default=1, help="processes to split the specs over (the same specs for any number)")
    args = p.parse_args()
    counts = run_parallel(args.n, args.seed, args.timeout, args.only, args.memory, max(1, args.jobs))
    bad = sum(v for (_, r), v in counts.items() if r in BAD)
    print("\n" + report(counts) + (f"\n({args.jobs} processes; the times are wall-clock)" if args.jobs > 1 else ""))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
