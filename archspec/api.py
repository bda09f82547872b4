"""The API: load_spec, analyze, build (re-exported by the archspec package)."""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .errors import Loc, SpecError
from .graph import Graph, lower
from .schema import Spec, parse_spec, select_variant
from .shapes import infer_shapes
from .source import read_source, parse_yaml
from .types import Shape

__all__ = ["build", "load_spec", "analyze", "Analysis", "SpecError", "Loc"]
__version__ = "0.1.0"


def load_spec(spec: str | Path | dict) -> Spec:
    """Read and validate a spec from a path, YAML text or a dict."""
    if isinstance(spec, dict):
        from ruamel.yaml import YAML

        buf = io.StringIO()
        YAML(typ="safe", pure=True).dump(spec, buf)
        src = parse_yaml(buf.getvalue(), "<dict>")
        return parse_spec(src, str(spec.get("name") or "network"))
    key = file_key(spec)
    if key is not None and key in _PARSED:
        return _PARSED[key]
    src = read_source(spec)
    default = Path(src.file).stem if src.file != "<spec>" else "network"
    parsed = parse_spec(src, default)
    if key is not None:
        _PARSED[key] = parsed
    return parsed


_PARSED: dict[tuple[str, int, int], Spec] = {}  # spec files already read and validated in this process


def forget() -> None:
    """Drop this process's memos of parsed specs and analyses (and with them the forward code compiled
    for each), so the next build reads, lowers and compiles again: what a benchmark of whole builds wants."""
    _PARSED.clear()
    _ANALYSED.clear()


def file_key(spec: str | Path) -> tuple[str, int, int] | None:
    """(path, mtime, size) of a spec file, so a file read once is not parsed again until it changes
    (YAML parsing is most of building a small network); None for YAML text."""
    if not isinstance(spec, Path) and not (isinstance(spec, str) and "\n" not in spec and spec.endswith((".yaml", ".yml"))):
        return None
    try:
        st = Path(spec).stat()
    except OSError:
        return None
    return (str(spec), st.st_mtime_ns, st.st_size)  # as written: messages name the file the way the user did


def resolve_name(spec: str | Path | dict | Spec, variant: str | None) -> tuple[str | Path | dict | Spec, str | None]:
    """A model name (`efficientnet_b3`) as its shipped spec file and variant; anything else unchanged."""
    from .catalog import is_model_name, lookup, models

    if not isinstance(spec, str) or not is_model_name(spec) or Path(spec).exists():
        return spec, variant
    found = lookup(spec)
    if found is None:
        from .errors import did_you_mean
        raise SpecError(f"unknown model '{spec}'{did_you_mean(spec, models())}; give a spec file (.yaml) or a name "
                        "from `archspec list --models`", code="file")
    path, var = found
    return path, variant or var


@dataclass
class Analysis:
    """A spec lowered to a graph with every node's inferred shape."""

    spec: Spec
    graph: Graph
    shapes: list[Shape]


def analyze(spec: str | Path | dict | Spec, params: dict[str, Any] | None = None, input_shape: Sequence[int] | None = None,
            variant: str | None = None) -> Analysis:
    """Validate a spec, build its graph and infer every shape; no weights are allocated."""
    spec, variant = resolve_name(spec, variant)
    s = spec if isinstance(spec, Spec) else load_spec(spec)
    if variant is not None:
        s = select_variant(s, variant)
    if input_shape is not None:
        s = dataclasses.replace(s, input=list(input_shape))
    graph = lower(s, params)
    return Analysis(s, graph, infer_shapes(graph))


def build(spec: str | Path | dict | Spec, variant: str | None = None, **params: Any) -> "torch.nn.Module":  # noqa: F821
    """Compile a spec into an nn.Module; `variant` picks a named parameter set, keyword arguments
    override single parameters."""
    from .compile import compile_graph

    a = checked_analysis(spec, params, variant)
    return compile_graph(a.graph, a.shapes)


def checked_analysis(spec: str | Path | dict | Spec, params: dict[str, Any], variant: str | None) -> Analysis:
    """analyze + the memory check, remembered for a spec file or model name: the graph is a function of
    the file's contents, the variant and the params, and compiling never changes it, so building the
    same network again (a sweep, a test suite, an ensemble) skips lowering."""
    from .limits import check_memory

    spec, variant = resolve_name(spec, variant)
    file = file_key(spec) if isinstance(spec, (str, Path)) else None
    key = None if file is None else (file, variant, repr(sorted(params.items())))
    if key is not None and key in _ANALYSED:
        _ANALYSED[key] = _ANALYSED.pop(key)  # most recently used last
        return _ANALYSED[key]
    a = analyze(spec, params, variant=variant)
    check_memory(a.graph, a.shapes)
    if key is not None:
        _ANALYSED[key] = a
        while len(_ANALYSED) > 16:
            del _ANALYSED[next(iter(_ANALYSED))]
    return a


_ANALYSED: dict[tuple[Any, ...], Analysis] = {}  # the last few networks built from files, least recently used first
