"""Every code block of the README runs: python blocks in a fresh interpreter, yaml blocks that are whole
specs are built and run, and each `archspec ...` line of the bash blocks runs (training lines on a tiny
synthetic data set). Lines that are not run say why (SKIP)."""
from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

import archspec
from archspec.cli import main
from conftest import ROOT

README = (ROOT / "README.md").read_text()
BLOCKS = [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", README, re.DOTALL | re.MULTILINE)]
LINES = [ln.strip() for lang, body in BLOCKS if lang == "bash" for ln in body.replace("\\\n", " ").splitlines() if ln.strip()]

SKIP = {
    "python -m pytest": "runs this test suite itself",
    "torchrun": "starts two DistributedDataParallel processes; tests/test_train_processes.py covers torchrun",
    "archspec train specs/resnet18.yaml --weights": "needs torchvision's resnet18 weights (a download) and an ants/bees image folder",
}
# training on the real data sets would download them and take minutes: a tiny synthetic run instead
TINY = ["--dataset", "synthetic", "--epochs", "1", "--set", "train.synthetic_size=64", "--set", "train.limit_test=32",
        "--no-progress", "--device", "cpu"]
EVAL_TINY = ["--dataset", "synthetic", "--set", "train.synthetic_size=64", "--device", "cpu"]
# what each line must leave behind, beyond exit status 0: (file it writes, text its output holds)
EXPECT = {
    "archspec summary specs/googlenet.yaml": (None, "parameters: 13,389,064"),
    "archspec summary specs/resnet50.yaml": (None, "parameters: 25,557,032"),
    "archspec summary specs/resnet50.yaml --set num_classes=10": (None, "outputs:    out (B, 10)"),
    "archspec graph specs/googlenet.yaml": ("googlenet.svg", "googlenet.svg"),
    "archspec graph specs/resnet18.yaml": ("r18.mmd", "r18.mmd"),
    "archspec check": (None, "specs/lenet.yaml: ok (12 blocks; outputs out (B, 10))"),
    "archspec list": (None, "tap: A side output"),
    "archspec summary specs/resnet.yaml --variant resnet152": (None, "parameters: 60,192,808"),
    "archspec diff specs/resnet.yaml": (None, "resnet50 -> resnext50_32x4d:"),
    "archspec diff specs/resnet18.yaml": (None, "resnet18 -> resnet34:"),
    "archspec schema": ("archspec.schema.json", ""),
    "archspec export specs/resnet50.yaml": ("r50.onnx", "wrote r50.onnx"),
    "archspec export specs/lenet.yaml": ("lenet.pt", "wrote lenet.pt"),
    "archspec train specs/lenet.yaml": (None, "training lenet on synthetic"),
    "archspec train specs/mnist_residual.yaml --epochs": ("runs/res/checkpoint.pt", "epoch 1/1"),
    "archspec train --resume": ("runs/res/checkpoint.pt", "runs/res"),
    "archspec predict": (None, "shirt.png"),
    "archspec eval": (None, "accuracy"),
}


def command(line: str) -> str:
    """The archspec part of a line (`pip install ... && archspec ...`), comments dropped."""
    return line.split("&&")[-1].split("  #")[0].strip()


class Workdir:
    """A folder with the shipped specs where the README's lines run; a line that needs an earlier
    line's output (a trained run) runs that line first, once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "specs").symlink_to(ROOT / "specs")
        self.done: dict[str, str] = {}

    def lenet_run(self) -> str:
        self.run(next(ln for ln in LINES if command(ln) == "archspec train specs/lenet.yaml"))
        return os.path.relpath(glob.glob(str(self.path / "runs" / "lenet-*"))[0], self.path)

    def run(self, line: str) -> str:
        cmd = command(line)
        if cmd not in self.done:
            self.done[cmd] = self.execute(cmd)
        return self.done[cmd]

    def execute(self, cmd: str) -> str:
        if "--resume" in cmd:
            self.run(next(ln for ln in LINES if "--out runs/res" in ln and "--resume" not in ln))
        if "runs/<run>" in cmd or "runs/x/" in cmd:
            cmd = cmd.replace("runs/<run>", self.lenet_run()).replace("runs/x", self.lenet_run())
        target = None
        if " > " in cmd:
            cmd, target = cmd.split(" > ")
        cmd = re.sub(r"\[(.*?)\]", r"\1", cmd)  # an optional flag, [--json]: given
        if " predict " in f" {cmd} ":
            self.images()
        argv = [a for arg in shlex.split(cmd)[1:] for a in (sorted(glob.glob(arg, root_dir=self.path)) if "*" in arg else [arg])]
        if argv[0] in ("train", "eval"):
            extra = [] if "--resume" in argv else TINY if argv[0] == "train" else EVAL_TINY  # a resume runs as configured
            return self.subprocess(argv + extra)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.chdir(self.path):
            assert main(argv) == 0, (cmd, out.getvalue())
        if target:
            (self.path / target).write_text(out.getvalue())
        return out.getvalue()

    def images(self) -> None:
        """The pictures the predict line names: shirt.png and a folder photos/."""
        from PIL import Image

        (self.path / "photos").mkdir(exist_ok=True)
        for i, name in enumerate(["shirt.png", "photos/a.png", "photos/b.png"]):
            Image.new("L", (28, 28), 60 * i).save(self.path / name)

    def subprocess(self, argv: list[str]) -> str:
        # training sets process-wide state (signal handlers, malloc options): a process of its own
        p = subprocess.run([sys.executable, "-m", "archspec.cli", *argv], cwd=self.path, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, (argv, p.stdout, p.stderr)
        return p.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Workdir:
    return Workdir(tmp_path_factory.mktemp("readme"))


@pytest.mark.parametrize("line", LINES)
def test_bash_line_runs(line: str, work: Workdir) -> None:
    reason = next((why for start, why in SKIP.items() if line.startswith(start)), None)
    if reason:
        pytest.skip(reason)
    out = work.run(line)
    cmd = command(line)
    key = max((k for k in EXPECT if cmd.startswith(k)), key=len)  # the most specific entry
    path, text = EXPECT[key]
    assert text in out
    if path:
        assert (work.path / path).stat().st_size > 0
    if path == "archspec.schema.json":
        assert json.loads((work.path / path).read_text())["title"]


def python_blocks() -> list[str]:
    return [body for lang, body in BLOCKS if lang == "python"]


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TORCH_HOME": str(cwd / "torch_home")}  # where a download would land
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_python_example_runs_without_downloads(tmp_path: Path) -> None:
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    main_example = next(b for b in python_blocks() if "archspec.build" in b)
    p = run_python(main_example, tmp_path)
    assert p.returncode == 0, p.stderr
    assert "def forward(self, x)" in p.stdout
    assert not (tmp_path / "torch_home").exists()  # torchvision's weights=None: nothing fetched


def test_plugin_example_registers_a_block_type(tmp_path: Path) -> None:
    plugin = next(b for b in python_blocks() if b.startswith("# my_blocks.py"))
    (tmp_path / "my_blocks.py").write_text(plugin)
    (tmp_path / "net.yaml").write_text("input: [2, 4, 4]\nnetwork:\n  - blur: {type: blur, passes: 2}\n  - flatten\n")
    # as the README runs it; in a process of its own, as registering changes the block registry
    p = subprocess.run([sys.executable, "-m", "archspec.cli", "--plugin", "my_blocks", "summary", "net.yaml"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "blur   blur     (B, 2, 4, 4)      18     0" in p.stdout
    assert "Non-trainable params: 18" in p.stdout  # the blur's weights are frozen


def test_yaml_blocks_build() -> None:
    specs = [b for lang, b in BLOCKS if lang == "yaml" and re.search(r"^network:", b, re.MULTILINE)]
    fragments = [b for lang, b in BLOCKS if lang == "yaml" and b not in specs]
    assert len(specs) == 1 and len(fragments) == 1  # a new yaml block needs a line here
    m = archspec.build(specs[0])
    out = m.train()(torch.randn(2, 3, 32, 32))
    assert list(out) == ["aux", "out"] and out["out"].shape == (2, 10)


def test_squeeze_excitation_fragment_is_torchvisions() -> None:
    fragment = next(b for lang, b in BLOCKS if lang == "yaml" and "SqueezeExcitation" in b)
    spec = "input: [16, 8, 8]\n" + fragment + "network:\n  - se: {type: SqueezeExcitation, squeeze: 4}\n"
    m = archspec.build(spec).eval()
    ref = torchvision.ops.SqueezeExcitation(16, 4, scale_activation=torch.nn.Hardsigmoid).eval()
    m.load_state_dict({f"se.{k}": v for k, v in ref.state_dict().items()}, strict=True)
    x = torch.randn(2, 16, 8, 8)
    assert torch.allclose(m(x), ref(x), atol=1e-6)
