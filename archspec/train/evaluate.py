"""`archspec eval SPEC CHECKPOINT`: test accuracy and per-class accuracy of saved weights, with the run's own settings."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import first_line
from ..schema import train_config
from . import checkpoint as ckpt
from .loop import evaluate, setup, spec_for
from .record import RunRecord


def eval_checkpoint(spec: str | Path, checkpoint: str | Path, params: dict[str, Any], overrides: dict[str, Any],
                    variant: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Load weights (weights_only / safetensors) into the compiled spec and evaluate on the test split.

    The run's stored record supplies the parameters, variant, train config (seed, data limits, data set)
    and normalisation; the command line's values override them."""
    state = ckpt.load(checkpoint)
    rec = RunRecord.from_dict(state.get("record"))
    stored_cfg = rec.config if rec else state.get("config", {})
    s, variant = spec_for(spec, variant or (rec.variant if rec else None))
    stored_params = rec.params if rec else state.get("params", {})
    cfg = train_config(s.source, {**stored_cfg, "freeze": []} if stored_cfg else (s.source.data or {}).get("train") or {},
                       overrides)  # apart, so that a bad flag is named as the flag
    run = setup(s, {**stored_params, **params}, cfg, Path(checkpoint).parent, False, variant)
    if rec is not None and rec.mean is not None and cfg.normalize:  # the training set's statistics, as trained
        run.data.mean = torch.tensor(rec.mean, device=run.device)
        run.data.std = torch.tensor(rec.std, device=run.device)
    try:
        run.model.load_state_dict(state["model"], strict=True)
    except RuntimeError as e:
        raise ckpt.CheckpointError(f"{checkpoint} does not fit {run.spec.name}: {first_line(e)}") from None
    result = evaluate(run.model, run, len(run.data.classes))
    assert result is not None  # only a training run's stop request cuts evaluation short
    return result, run.data.classes


def format_report(result: dict[str, Any], classes: list[str]) -> str:
    lines = [f"test accuracy {100 * result['test_acc']:.2f}%  (loss {result['test_loss']:.4f})", "", "per class:"]
    width = max(len(c) for c in classes)
    lines += [f"  {c:<{width}}  {100 * a:6.2f}%" for c, a in zip(classes, result["per_class"])]
    return "\n".join(lines)
