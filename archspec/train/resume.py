"""`--resume`: continue a run with the configuration it was started with.

The stored record (spec text, parameters, variant, train config) is the run's configuration; the
command line may only change what does not change the run's result (epochs, within limits, and
where it runs). Anything else is refused with its name, rather than silently ignored or applied."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..errors import SpecError
from ..schema import Spec, parse_spec
from ..source import parse_yaml
from .record import RunRecord

# fields a resumed run may change: where and how fast it runs, not what it computes
FREE = {"device", "workers", "data_dir", "download", "compile", "eval_batch_size"}
# schedules whose curve depends on the number of epochs: extending them would change the lr so far
EPOCH_SHAPED = {"cosine", "onecycle"}


class ResumeError(SpecError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="resume")


@dataclass
class ResumePlan:
    spec: Spec
    params: dict[str, Any]
    variant: Optional[str]
    config: dict[str, Any]  # the stored train config
    overrides: dict[str, Any]  # the command line's train values, all allowed; kept apart so a bad one is named as its flag


def stored_record(state: dict[str, Any]) -> RunRecord:
    """The record of a checkpoint, also from checkpoints written before records existed."""
    rec = RunRecord.from_dict(state.get("record"))
    if rec is not None:
        return rec
    if "spec" not in state or "config" not in state:
        raise ResumeError("the checkpoint does not say how its run was configured (no spec or config stored); start a new run")
    return RunRecord(state["spec"], "network", state.get("params", {}), None, state["config"], [], [], None, None)


def plan(out: Path, state: dict[str, Any], spec_path: Optional[str], params: dict[str, Any], overrides: dict[str, Any],
         variant: Optional[str]) -> ResumePlan:
    """The stored configuration, after checking that the command line changes nothing it may not."""
    rec = stored_record(state)
    changed = [f"--set {k}={v!r} (the run has {repr(rec.params[k]) if k in rec.params else 'the default'})"
               for k, v in params.items() if rec.params.get(k) != v]
    if variant is not None and variant != rec.variant:
        changed.append(f"--variant {variant} (the run has {rec.variant or 'none'})")
    changed += changed_fields(rec.config, overrides)
    if changed:
        raise ResumeError(f"--resume continues the run in {out} as it was configured; refusing to change: {'; '.join(changed)}. "
                          f"Start a new run (another --out) to train with other settings")
    spec = stored_spec(out, rec, spec_path)
    return ResumePlan(spec, rec.params, rec.variant, rec.config, overrides)


def changed_fields(stored: dict[str, Any], overrides: dict[str, Any]) -> list[str]:
    out = []
    for k, v in overrides.items():
        old = stored.get(k)
        if k in FREE or normal(old) == normal(v):
            continue
        if k == "epochs" and stored.get("schedule") not in EPOCH_SHAPED:
            continue
        why = f" (its {stored.get('schedule')} schedule is laid out over {old} epochs)" if k == "epochs" else ""
        out.append(f"train.{k}={v!r} (the run has {old!r}){why}")
    return out


def normal(v: Any) -> Any:
    """Lists and tuples compare equal (JSON stores tuples as lists)."""
    return list(v) if isinstance(v, (list, tuple)) else v


def stored_spec(out: Path, rec: RunRecord, spec_path: Optional[str]) -> Spec:
    """The run's own spec text; a spec file given on the command line must be that same text."""
    if spec_path is not None and Path(spec_path).is_file():
        text = Path(spec_path).read_text(encoding="utf-8")
        if text != rec.spec:
            raise ResumeError(f"{spec_path} is not the spec the run in {out} was trained with ({first_difference(rec.spec, text)}); "
                              "resume without the spec argument to use the run's own copy, or start a new run")
        return parse_spec(parse_yaml(text, spec_path), Path(spec_path).stem)
    return parse_spec(parse_yaml(rec.spec, f"{out / 'checkpoint.pt'} (stored spec)"), rec.spec_name)


def first_difference(old: str, new: str) -> str:
    a, b = old.splitlines(), new.splitlines()
    for i, (x, y) in enumerate(zip(a, b), 1):
        if x != y:
            return f"line {i} was {x.strip()!r}, is {y.strip()!r}"
    return f"the run's spec has {len(a)} lines, this one {len(b)}"


def check_model_fits(out: Path, stored: dict[str, Any], model_state: dict[str, Any]) -> None:
    """A checkpoint from another network: name the first tensor that differs, not torch's list of all of them."""
    for k, v in model_state.items():
        if k not in stored:
            raise ResumeError(f"{out / 'checkpoint.pt'} was written by another network: it has no tensor '{k}'")
        if tuple(stored[k].shape) != tuple(v.shape):
            raise ResumeError(f"{out / 'checkpoint.pt'} was written by another network: '{k}' is "
                              f"{tuple(stored[k].shape)} there, {tuple(v.shape)} here")
    extra = [k for k in stored if k not in model_state]
    if extra:
        raise ResumeError(f"{out / 'checkpoint.pt'} was written by another network: it has '{extra[0]}', which this one lacks")


def load_states(out: Path, parts: dict[str, tuple[Any, Any]]) -> None:
    """load_state_dict for each part (optimizer, scheduler...); a mismatch names the part instead of a KeyError."""
    for name, (obj, state) in parts.items():
        try:
            obj.load_state_dict(state)
        except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as e:
            raise ResumeError(f"{out / 'checkpoint.pt'} holds a {name} state that does not fit this run's {name} "
                              f"({type(obj).__name__}): {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}") from None
