"""The `archspec` command: a thin layer over the API. A SpecError is printed and exits 2, never a traceback."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

from .errors import SpecError, first_line


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """--set k=v pairs; values are read as YAML scalars (2 -> int, 0.5 -> float, true -> bool)."""
    out: dict[str, Any] = {}
    for it in items:
        key, sep, value = it.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set expects key=value, found {it!r}", code="cli")
        out[key.strip()] = set_value(it, value) if value.strip() else ""
    return out


def set_value(flag: str, value: str) -> Any:
    """One --set value read as YAML; a value that does not parse is reported with its flag, not a traceback."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(value)
    except (YAMLError, ValueError, TypeError, OverflowError, RecursionError) as e:
        problem = getattr(e, "problem", None) or first_line(e)
        raise SpecError(f"--set {flag}: the value is not valid YAML ({problem}); quote a string, e.g. --set 'k=\"text\"'",
                        code="cli") from None


def parse_input(text: str | None) -> list[int] | None:
    """--input C,H,W -> [C, H, W]."""
    if text is None:
        return None
    try:
        dims = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        raise SpecError(f"--input expects comma-separated integers like 3,224,224, found {text!r}", code="cli") from None
    if not dims or any(d < 1 for d in dims):
        raise SpecError(f"--input expects positive integers like 3,224,224, found {text!r}", code="cli")
    return dims


def cmd_summary(args: argparse.Namespace) -> int:
    from .summary import summary_text

    print(summary_text(args.spec, parse_set(args.set), parse_input(args.input), args.depth, args.variant))
    return 0


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v("archspec")
    except PackageNotFoundError:
        return "unknown"


class VersionAction(argparse.Action):
    """--version, looked up only when asked for (importlib.metadata costs every other command ~20 ms)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"archspec {version()}")  # stdout, as argparse's own version action
        parser.exit()


def cmd_list(args: argparse.Namespace) -> int:
    """Every block type with its fields, from the registry; with --models, every model name."""
    if args.models:
        return list_models()
    from . import blocks  # noqa: F401  (registers the block types)
    from .registry import REGISTRY
    from .types import expected

    for name, cls in sorted(REGISTRY.items()):
        print(f"{name}: {first_paragraph(cls.__doc__ or '')}")
        for field, info in cls.model_fields.items():
            if field == "type":
                continue
            default = "required" if info.is_required() else f"default {yaml_value(info.default)}"
            kind = "blocks" if field in cls.children else expected(info).replace(" (or a ${...} expression)", "")
            print(f"    {field:<18} {kind}; {default}. {info.description}")
    return 0


def first_paragraph(doc: str) -> str:
    """A docstring's first paragraph on one line (a description may wrap over several source lines)."""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def yaml_value(v: Any) -> str:
    """A default as the spec would write it: true, null, [1, 2], zeros (not Python's True, None, 'zeros')."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(yaml_value, v)) + "]"
    return str(v)


def list_models() -> int:
    """Every shipped model name (spec files and their variants) with parameters and MACs, computed
    statically (parameters counted on the meta device)."""
    from . import analyze
    from .catalog import models
    from .table import macs, param_count

    print(f"{'model':<24}{'parameters':>16}{'MACs':>18}  spec")
    for name, (path, variant) in sorted(models().items()):
        a = analyze(path, variant=variant)
        n = m = 0
        for node in a.graph.nodes:
            x = a.shapes[node.inputs[0]] if node.inputs else a.shapes[0]
            n += param_count(node, x)
            m += macs(node, x, a.shapes[node.id])
        print(f"{name:<24}{n:>16,}{m:>18,}  {path.name}" + (f" --variant {variant}" if variant else ""), flush=True)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate specs (parse, graph, shapes; no weights): one line per file, exit 2 if any is broken."""
    from . import analyze
    from .registry import fmt_shape

    broken, params = 0, parse_set(args.set) or None  # a bad flag is one error, not one per file
    for path in args.specs:
        try:
            a = analyze(path, params, variant=args.variant)
        except SpecError as e:
            broken += 1
            line = flag_headline(e, flag_names(args)) or (e.headline() if e.loc or e.message.startswith(path) else f"{path}: {e.message}")
            print(line, file=sys.stderr)
            continue
        outs = ", ".join(f"{n} {fmt_shape(a.shapes[o.node])}" for n, o in a.graph.outputs.items())
        print(f"{path}: ok ({len(a.graph.nodes) - 1} blocks; outputs {outs})")
    return 2 if broken else 0


def writable_folder(out: "Path") -> None:
    """-o into a folder that does not exist is the user's mistake, said as such rather than a traceback."""
    if not out.parent.is_dir():
        raise SpecError(f"cannot write {out}: the folder {out.parent} does not exist", code="cli")


def cmd_graph(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import analyze
    from .render import render

    out = Path(args.output)
    writable_folder(out)
    render(analyze(args.spec, parse_set(args.set) or None, variant=args.variant), out, args.expand)
    print(f"wrote {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .export import export

    fmt = args.format or {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript"}.get(Path(args.output).suffix, "onnx")
    from .export import describe_input

    net = export(args.spec, Path(args.output), fmt, Path(args.checkpoint) if args.checkpoint else None, parse_set(args.set) or None,
                 args.variant, uint8=args.uint8)
    print(f"wrote {args.output} ({fmt}, dynamic batch, eval mode; input: {describe_input(net)})")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from . import analyze
    from .diff import diff_text

    from . import load_spec

    variants = list(args.variant or [])
    if (args.b is None and len(variants) != 2) or len(variants) > 2:
        raise SpecError("diff needs two specs, or one spec and two --variant", code="cli")
    specs = [load_spec(args.a), load_spec(args.b or args.a)]
    if len(variants) == 1:  # two files, one variant: it applies to the file(s) that define variants
        variants = [variants[0] if s.variants else None for s in specs]
    va, vb = (variants + [None, None])[:2]
    params = parse_set(args.set) or None
    print(diff_text(analyze(specs[0], params, variant=va), analyze(specs[1], params, variant=vb)))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .jsonschema import schema_text

    sys.stdout.write(schema_text())
    return 0


def split_sets(items: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """--set k=v (spec parameters) and --set train.k=v (training fields)."""
    values = parse_set(items)
    params = {k: v for k, v in values.items() if not k.startswith("train.")}
    train = {k[len("train."):]: v for k, v in values.items() if k.startswith("train.")}
    return params, train


TRAIN_FLAGS = ("epochs", "lr", "batch_size", "data_dir", "device", "dataset", "seed")


def flag_names(args: argparse.Namespace) -> dict[str, str]:
    """Each override as the command line gave it: num_classes -> '--set num_classes=-3', train.lr -> '--lr -1.0'
    (a flag wins over --set train.lr=..., as in train_overrides)."""
    names = {item.partition("=")[0].strip(): f"--set {item if len(item) <= 80 else item[:77] + '...'}"
             for item in getattr(args, "set", None) or []}
    for name in TRAIN_FLAGS:
        if getattr(args, name, None) is not None:
            names[f"train.{name}"] = f"--{name.replace('_', '-')} {getattr(args, name)}"
    return names


def flag_headline(e: SpecError, flags: dict[str, str]) -> str | None:
    """The error headed by the flags whose values caused it, with the spec's place that used them after;
    None when no flag did (the spec's own mistake keeps its file:line:col headline)."""
    given = [flags[k] for k in e.overrides if k in flags]
    if not given:
        return None
    where = f" (at {e.loc})" if e.loc else ""
    return f"{' '.join(given)}: {SpecError(e.message, None, e.path, e.block_type).headline()}{where}"


def train_overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    params, train = split_sets(args.set)
    for name in TRAIN_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            train[name] = value
    if getattr(args, "compile", False):
        train["compile"] = True
    return params, train


def cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .train.loop import train

    params, overrides = train_overrides(args)
    if args.resume and not args.out:
        raise SpecError("--resume needs --out DIR: the run folder to continue", code="cli")
    train(args.spec, params, overrides, Path(args.out) if args.out else None, args.resume, not args.no_progress, args.variant,
          overwrite=args.overwrite, weights=args.weights)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .train.evaluate import eval_checkpoint, format_report

    params, overrides = train_overrides(args)
    result, classes = eval_checkpoint(args.spec, args.checkpoint, params, overrides, args.variant)
    print(format_report(result, classes))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import json

    from .predict import predict

    if args.top < 1:
        raise SpecError(f"--top expects a positive number, found {args.top}", code="cli")
    preds = predict(args.spec, args.checkpoint, args.inputs, args.top, args.variant)
    if args.json:
        print(json.dumps([p.to_json() for p in preds], indent=2))
    else:
        print("\n".join(p.line() for p in preds))
    return 0


def add_train_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec parameter, or a training field as train.KEY=VALUE (repeatable)")
    s.add_argument("--data-dir", dest="data_dir", help="folder holding the data set")
    s.add_argument("--dataset", help="fashion-mnist, mnist, cifar10, imagefolder or synthetic")
    s.add_argument("--device", help="auto (default), cpu, cuda or mps")


def spec_arg(p: argparse.ArgumentParser, sets: bool = True) -> None:
    p.add_argument("spec", help="path to a spec YAML file")
    p.add_argument("--variant", help="a named parameter set from the spec's variants:")
    if sets:
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec parameter (repeatable)")


def add_spec_tools(sub: Any) -> None:
    s = sub.add_parser("summary", help="the layer table with shapes, parameters and MACs")
    spec_arg(s)
    s.add_argument("--input", help="input shape C,H,W (overrides the spec's input)")
    s.add_argument("--depth", type=int, default=3, help="nesting depth of the table (default 3)")
    s.set_defaults(func=cmd_summary)
    c = sub.add_parser("check", help="validate specs; one located error per broken file; exit code 0/2")
    c.add_argument("specs", nargs="+", help="spec files")
    c.add_argument("--variant", help="a named parameter set from the specs' variants:")
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec parameter")
    c.set_defaults(func=cmd_check)
    g = sub.add_parser("graph", help="picture of the block graph with shapes on the edges (.svg .png .pdf .dot .mmd)")
    spec_arg(g)
    g.add_argument("-o", "--output", required=True, help="output file; its suffix picks the format")
    g.add_argument("--expand", action="store_true", help="open user blocks instead of drawing them as one box")
    g.set_defaults(func=cmd_graph)
    d = sub.add_parser("diff", help="block by block changes in shape, parameters and MACs between two specs or variants")
    d.add_argument("a", help="a spec file")
    d.add_argument("b", nargs="?", help="another spec file (or give two --variant)")
    d.add_argument("--variant", action="append", help="variant(s) to compare; twice with one spec")
    d.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec parameter")
    d.set_defaults(func=cmd_diff)
    sub.add_parser("schema", help="the JSON Schema of the spec format (for editors)").set_defaults(func=cmd_schema)
    li = sub.add_parser("list", help="the block types with their fields; --models: every model name")
    li.add_argument("--models", action="store_true", help="list the shipped model names with parameters and MACs")
    li.set_defaults(func=cmd_list)


def add_model_tools(sub: Any) -> None:
    x = sub.add_parser("export", help="the eval-mode network as ONNX or TorchScript")
    spec_arg(x)
    x.add_argument("-o", "--output", required=True, help="output file (.onnx, .pt)")
    x.add_argument("--format", choices=["onnx", "torchscript"], help="default: from the output suffix")
    x.add_argument("--checkpoint", help="weights to export (checkpoint.pt or model.safetensors)")
    x.add_argument("--uint8", action="store_true", help="the file takes uint8 images in [0, 255] (NCHW) and divides by 255 itself")
    x.set_defaults(func=cmd_export)
    t = sub.add_parser("train", help="train a spec on its train: recipe")
    t.add_argument("spec", nargs="?", help="spec file or model name (optional with --resume: the run's stored spec)")
    t.add_argument("--variant", help="a named parameter set from the spec's variants:")
    add_train_flags(t)
    t.add_argument("--epochs", type=int, help="passes over the training set")
    t.add_argument("--lr", type=float, help="learning rate")
    t.add_argument("--batch-size", dest="batch_size", type=int, help="samples per step")
    t.add_argument("--seed", type=int, help="random seed")
    t.add_argument("--out", help="run folder (default: a new folder under runs/)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out with its stored configuration")
    t.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    t.add_argument("--weights", metavar="FILE", help="start from these weights (torchvision .pth, .safetensors, checkpoint.pt); "
                   "tensors whose name and shape match are loaded")
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (epoch lines only)")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("eval", help="test accuracy (and per class) of a checkpoint")
    spec_arg(e, sets=False)
    e.add_argument("checkpoint", help="checkpoint.pt or model.safetensors")
    add_train_flags(e)
    e.set_defaults(func=cmd_eval)
    pr = sub.add_parser("predict", help="class names and probabilities of images, with the run's preprocessing")
    spec_arg(pr, sets=False)
    pr.add_argument("checkpoint", help="checkpoint.pt or model.safetensors of a run")
    pr.add_argument("inputs", nargs="+", metavar="IMAGE|FOLDER", help="image files, or folders of them")
    pr.add_argument("--top", type=int, default=5, help="classes per image (default 5)")
    pr.add_argument("--json", action="store_true", help="JSON output")
    pr.set_defaults(func=cmd_predict)


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="archspec", description="Describe a network in YAML; validate, summarise, build and train it.")
    p.add_argument("--version", action=VersionAction, help="print the version and exit")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE first: its @register'ed block types become usable in specs (repeatable)")
    sub = p.add_subparsers(dest="command", required=True)
    add_spec_tools(sub)
    add_model_tools(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `archspec` console script."""
    args = make_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        if args.plugin:
            from .plugins import load_plugins
            load_plugins(args.plugin)
        return func(args)
    except SpecError as e:
        flagged = flag_headline(e, flag_names(args))
        if flagged is not None:
            print(f"error: {flagged}" + (f"\n{e.detail}" if e.detail else ""), file=sys.stderr)
        else:
            print(f"error: {e}" if e.loc is None and not e.path else str(e), file=sys.stderr)
        return getattr(e, "exit_code", 2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `archspec list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
