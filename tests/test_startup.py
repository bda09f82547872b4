"""Commands that need no network answer without importing torch (seconds on a cold start)."""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import archspec.cli as cli
try:
    cli.main({argv!r})
except SystemExit:
    pass
print("archspec.source" in sys.modules)
print("torch" in sys.modules)
"""


def imports_torch(argv: list[str]) -> bool:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120)
    return out.stdout.strip().splitlines()[-1] == "True"


def test_list_does_not_read_yaml() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=["list"])], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-2] == "False"  # no spec is read: the YAML readers stay unimported


def test_help_version_list_and_schema_do_not_import_torch() -> None:
    assert not imports_torch(["--help"])
    assert not imports_torch(["--version"])
    assert not imports_torch(["train", "--help"])
    assert not imports_torch(["list"])  # the registry's types and fields need no torch (archspec/lazy.py)
    assert not imports_torch(["schema"])


def test_importing_the_package_does_not_import_torch_until_a_module_is_built() -> None:
    code = ("import sys, archspec; b = archspec.build; a = 'torch' in sys.modules; "
            "m = b('specs/lenet.yaml'); print(a, 'torch' in sys.modules, type(m).__mro__[1].__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "True", "SpecModule"]


def test_version_is_printed_when_asked_for(capsys) -> None:
    from importlib.metadata import version

    import pytest

    from archspec.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"archspec {version('archspec')}\n"


def test_building_and_summarising_import_no_torch_dynamo() -> None:
    """torch._dynamo costs 1.5 to 2.6 s to import: torchvision.ops (stochastic depth) and torch's meta
    normal_ (a learned tensor counted on the meta device) pulled it in for EfficientNet, ConvNeXt and ViT."""
    code = ("import io, sys, contextlib, archspec, archspec.cli as c\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    c.main(['summary', 'vit_b_16']); c.main(['summary', 'efficientnet_b0'])\n"
            "archspec.build('convnext_tiny')\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["False"], out.stderr[-2000:]


def test_training_and_checkpointing_import_no_torch_dynamo(tmp_path) -> None:
    """torch.optim imports torch._dynamo when an optimizer is made, stepped or saved: 1.5 to 2.4 s before
    the first batch, for nothing outside torch.compile (archspec/train/optim.py)."""
    code = ("import sys, archspec.cli as c\n"
            f"c.main(['train', 'specs/lenet.yaml', '--no-progress', '--epochs', '2', '--out', {str(tmp_path / 'run')!r}, "
            "'--set', 'train.limit_train=128', '--set', 'train.limit_test=64'])\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split()[-1] == "False", out.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoint.pt").exists()
