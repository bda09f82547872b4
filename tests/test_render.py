"""`archspec graph`: Mermaid and dot text for every spec, SVG through Graphviz, a clear error without it."""
from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import archspec
from archspec import render as render_mod
from archspec.cli import main
from archspec.errors import SpecError
from conftest import SPECS

ALL = sorted(p.stem for p in SPECS.glob("*.yaml"))


def top_level_names(name: str) -> list[str]:
    return [item.name for item in archspec.load_spec(SPECS / f"{name}.yaml").network if item.name]


@pytest.mark.parametrize("name", ALL)
def test_mermaid_names_every_top_level_block(name: str, tmp_path: Path) -> None:
    out = tmp_path / "g.mmd"
    assert main(["graph", str(SPECS / f"{name}.yaml"), "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("flowchart TD\n")
    for block in top_level_names(name):
        assert any(f in text for f in (f'["{block}<br/>', f'[["{block}<br/>', f'["{block}"]', f'subgraph c_{block}[')), block
    a = archspec.analyze(SPECS / f"{name}.yaml")
    final = a.shapes[a.graph.outputs["out"].node]
    assert f'-->|"{"x".join(map(str, final))}"| out_out' in text  # the output edge carries the inferred shape


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz (installed by .ci/run)")
@pytest.mark.parametrize("name", ALL)
def test_svg_is_valid_and_names_every_top_level_block(name: str, tmp_path: Path) -> None:
    out = tmp_path / "g.svg"
    assert main(["graph", str(SPECS / f"{name}.yaml"), "-o", str(out)]) == 0
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    for block in top_level_names(name):
        assert any(t == block or t.startswith(f"{block}: ") for t in texts if t), block  # a box or a cluster


def test_expand_opens_user_blocks(tmp_path: Path) -> None:
    a = archspec.analyze(SPECS / "resnet18.yaml")
    closed = render_mod.mermaid(render_mod.build_picture(a, expand=False))
    opened = render_mod.mermaid(render_mod.build_picture(a, expand=True))
    assert '[["0<br/>BasicBlock"]]' in closed and "conv1<br/>conv" in closed
    assert 'subgraph c_layer1_0["0: BasicBlock"]' in opened and closed.count("<br/>conv\"]") < opened.count("<br/>conv\"]")


def test_missing_graphviz_says_how_to_get_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(render_mod.shutil, "which", lambda _: None)
    with pytest.raises(SpecError, match=r"needs Graphviz's `dot`, which is not installed: apt-get install graphviz"):
        render_mod.render(archspec.analyze(SPECS / "lenet.yaml"), tmp_path / "g.svg")
    render_mod.render(archspec.analyze(SPECS / "lenet.yaml"), tmp_path / "g.dot")  # text formats need nothing
    assert (tmp_path / "g.dot").read_text().startswith('digraph "lenet" {')
