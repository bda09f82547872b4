"""Mutation check: apply small deliberate bugs to archspec, one at a time, run the fast tests that cover
the mutated file, and print which mutations survive (no test failed).

Mutations: the named ones from issue 15 (conv/maxpool ignoring dilation, concat checking only the
last dim, bn momentum 0.1 -> 0.01, kaiming gain relu -> linear, aux weight 0.3 -> 1.0, opt.step()
removed), plus a sample of generated ones over archspec/blocks, shapes, merges, graph and compile:
swapped operators (+ -, < <=, == !=, and or), changed constants (0 1 2, True False) and dropped call
statements. Work happens in a copy of the tree (default /tmp/mut_src, PYTHONPATH pointing at it), so
the checkout and other people's runs are never touched; the mutated file is restored after each run.

    python tools/mutate.py [--sample 40] [--seed 0] [--only-named] [--files archspec/fastyaml.py] [--dest /tmp/mut_src]
"""
from __future__ import annotations

import argparse
import ast
import io
import os
import random
import shutil
import subprocess
import sys
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository root
    old: str  # text that occurs exactly once in the file (named) or the token replaced (generated)
    new: str
    line: int = 0  # generated mutations: 1-based line and column of the token
    col: int = -1


NAMED = [
    Mutation("conv ignores dilation", "archspec/blocks/conv.py",
             "pair(self.dilation), self.groups, self.bias)", "1, self.groups, self.bias)"),
    Mutation("maxpool ignores dilation", "archspec/blocks/pool.py",
             "self.padding, self.dilation, ceil_mode=self.ceil_mode)", "self.padding, 1, ceil_mode=self.ceil_mode)"),
    Mutation("concat checks only the last dim", "archspec/merges.py",
             "s[:d] + s[d + 1:] != first[:d] + first[d + 1:]", "s[-1:] != first[-1:]"),
    Mutation("bn momentum 0.1 -> 0.01", "archspec/blocks/norm.py",
             'momentum: Probability = Field(0.1,', 'momentum: Probability = Field(0.01,'),
    Mutation("kaiming gain relu -> linear", "archspec/inits/base.py",
             'nonlinearity="relu")\n        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d))',
             'nonlinearity="linear")\n        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d))'),
    Mutation("aux loss weight 0.3 -> 1.0", "archspec/train/loop.py",
             "1.0 if n == spec.output else 0.3", "1.0 if n == spec.output else 1.0"),
    Mutation("opt.step() removed", "archspec/train/loop.py",
             "        loss.backward()\n        run.opt.step()", "        loss.backward()"),
]

TEST_TIMEOUT_S = 300  # the covering tests take under two minutes unmutated

TARGETS = ["archspec/blocks/*.py", "archspec/shapes.py", "archspec/merges.py", "archspec/graph.py", "archspec/compile.py",
           "archspec/fastyaml.py", "archspec/train/optim.py"]
SWAPS = {"+": "-", "-": "+", "*": "//", "//": "*", "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==",
         "and": "or", "or": "and", "True": "False", "False": "True", "0": "1", "1": "2", "2": "1"}

# the fast tests that cover each file, cheapest first (pytest -x stops at the first failure)
COVER = {
    "archspec/fastyaml.py": ["tests/test_fastyaml.py"],
    "archspec/blocks/compose.py": ["tests/test_blocks.py", "tests/test_language.py", "tests/test_block_properties.py"],
    "archspec/blocks/": ["tests/test_block_properties.py", "tests/test_defaults.py", "tests/test_blocks.py", "tests/test_family_resnet.py",
                         "tests/test_family_vit.py"],
    "archspec/merges.py": ["tests/test_block_properties.py::test_merge_shape_rule_agrees_with_torch",
                           "tests/test_block_properties.py::test_every_user_merge_has_a_torch_oracle", "tests/test_language.py",
                           "tests/test_errors.py"],
    "archspec/shapes.py": ["tests/test_errors.py", "tests/test_language.py", "tests/test_blocks.py"],
    "archspec/graph.py": ["tests/test_language.py", "tests/test_errors.py", "tests/test_compile.py", "tests/test_defaults.py",
                          "tests/test_family_resnet.py"],
    "archspec/compile.py": ["tests/test_compile.py", "tests/test_language.py", "tests/test_family_resnet.py"],
    "archspec/inits/": ["tests/test_training_behaviour.py", "tests/test_defaults.py"],
    "archspec/train/optim.py": ["tests/test_optim.py", "tests/test_startup.py::test_training_and_checkpointing_import_no_torch_dynamo"],
    "archspec/train/": ["tests/test_defaults.py", "tests/test_training_behaviour.py"],
}


def covering_tests(path: str) -> list[str]:
    """COVER's list; for a block file, the property tests of the block types it defines come first."""
    tests = next(tests for prefix, tests in COVER.items() if path.startswith(prefix))
    if path.startswith("archspec/blocks/"):
        first = [f"tests/test_block_properties.py::test_block_matches_its_static_shape_and_fields[{t}]" for t in types_in(path)]
        tests = first + [t for t in tests if t != "tests/test_block_properties.py"] + ["tests/test_block_properties.py"]
    return tests


def types_in(path: str) -> list[str]:
    """The block types registered by the module at `path` (archspec/blocks/conv.py -> conv, conv_block)."""
    sys.path.insert(0, str(ROOT))
    import archspec.blocks  # noqa: F401  (registers every block type)
    from archspec.registry import REGISTRY

    module = path[:-3].replace("/", ".")
    return [name for name, cls in REGISTRY.items() if cls.__module__ == module]


def call_lines(tree: ast.AST) -> set[int]:
    """Lines holding a whole one-line call statement (`shadow_children(m)`): candidates to drop."""
    return {n.lineno for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and n.end_lineno == n.lineno}


def generated(path: Path, rel: str) -> list[Mutation]:
    """Every operator/constant swap outside strings and comments, and every droppable call statement."""
    text = path.read_text()
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.OP, tokenize.NAME, tokenize.NUMBER) and tok.string in SWAPS:
            line, col = tok.start
            out.append(Mutation(f"{tok.string} -> {SWAPS[tok.string]}", rel, tok.string, SWAPS[tok.string], line, col))
    lines = text.splitlines()
    for n in sorted(call_lines(ast.parse(text))):
        stripped = lines[n - 1].strip()
        out.append(Mutation(f"drop {stripped[:50]}", rel, stripped, "pass", n, len(lines[n - 1]) - len(lines[n - 1].lstrip())))
    return out


def apply(text: str, m: Mutation) -> str:
    if m.line == 0:
        assert text.count(m.old) == 1, f"{m.name}: the text to mutate is not in {m.path} exactly once (the code moved?)"
        return text.replace(m.old, m.new)
    lines = text.splitlines(keepends=True)
    ln = lines[m.line - 1]
    assert ln[m.col:m.col + len(m.old)] == m.old, (m, ln)
    lines[m.line - 1] = ln[:m.col] + m.new + ln[m.col + len(m.old):]
    return "".join(lines)


def copy_tree(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".git", "runs", "__pycache__", ".hypothesis", "*.egg-info", ".pytest_cache"))


def run_tests(dest: Path, tests: list[str]) -> tuple[bool, float]:
    """True when some test failed (the mutation was caught)."""
    env = {**os.environ, "PYTHONPATH": str(dest), "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "ARCHSPEC_NO_SHRINK": "1"}
    t0 = time.time()
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests], cwd=dest, env=env,
                           capture_output=True, text=True, timeout=TEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:  # a mutation that makes a loop endless is caught by the tests that hang
        return True, time.time() - t0
    return r.returncode != 0, time.time() - t0


def check(dest: Path, m: Mutation) -> tuple[str, float]:
    f = dest / m.path
    original = f.read_text()
    try:
        mutated = apply(original, m)
    except AssertionError as e:
        return f"stale ({e})", 0.0
    try:
        compile(mutated, str(f), "exec")
    except SyntaxError:
        return "invalid", 0.0
    f.write_text(mutated)
    try:
        caught, secs = run_tests(dest, covering_tests(m.path))
    finally:
        f.write_text(original)
    return ("caught" if caught else "SURVIVED"), secs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sample", type=int, default=40, help="generated mutations to run (a seeded sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only-named", action="store_true")
    p.add_argument("--named", default="", help="run only the named mutations whose name contains this text")
    p.add_argument("--dest", default="/tmp/mut_src")
    p.add_argument("--at", default="", help="of the sample, run only these PATH:LINE,... (to recheck survivors)")
    p.add_argument("--files", default="", help="sample only from these files (comma-separated paths); skips the named ones")
    args = p.parse_args()
    dest = Path(args.dest)
    copy_tree(dest)
    pool = [m for pattern in TARGETS for f in sorted(ROOT.glob(pattern)) for m in generated(f, str(f.relative_to(ROOT)))]
    if args.files:
        pool = [m for m in pool if m.path in args.files.split(",")]
    named = [] if args.files else [m for m in NAMED if args.named in m.name]
    sample = [] if args.only_named else random.Random(args.seed).sample(pool, min(args.sample, len(pool)))
    if args.at:
        sample = [m for m in sample if f"{m.path}:{m.line}" in args.at.split(",")]
    print(f"{len(pool)} generated mutations in {', '.join(TARGETS)}; running {len(sample)} of them and {len(named)} named", flush=True)
    results = []
    for m in named + sample:
        status, secs = check(dest, m)
        where = f"{m.path}:{m.line}" if m.line else m.path
        results.append((m, status))
        print(f"{status:9} {secs:6.1f}s  {where:32} {m.name}", flush=True)
    score(results)


def score(results: list[tuple[Mutation, str]]) -> None:
    counted = [(m, s) for m, s in results if s in ("caught", "SURVIVED")]
    caught = sum(s == "caught" for _, s in counted)
    named = [s for m, s in results if m.line == 0]
    print(f"\nmutation score: {caught}/{len(counted)} caught ({100 * caught / max(1, len(counted)):.0f} %); "
          f"named mutations caught: {named.count('caught')}/{len(named)}")
    for m, s in results:
        if s == "SURVIVED":
            print(f"  survivor: {m.path}:{m.line} {m.name}")
    sys.exit(0 if named.count("caught") == len(named) else 1)


if __name__ == "__main__":
    main()
