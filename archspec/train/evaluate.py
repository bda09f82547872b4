"""`archspec eval SPEC CHECKPOINT`: test accuracy and per-class accuracy of saved weights."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .loop import evaluate, setup


def eval_checkpoint(spec: str | Path, checkpoint: str | Path, params: dict[str, Any], overrides: dict[str, Any],
                    variant: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Load weights (weights_only / safetensors) into the compiled spec and evaluate on the test split."""
    state = ckpt.load(checkpoint)
    run = setup(spec, {**state.get("params", {}), **params}, overrides, Path(checkpoint).parent, False, False, variant)
    try:
        run.model.load_state_dict(state["model"], strict=True)
    except RuntimeError as e:
        raise ckpt.CheckpointError(f"{checkpoint} does not fit {run.spec.name}: {str(e).splitlines()[0]}") from None
    result = evaluate(run.model, run, len(run.data.classes))
    assert result is not None  # only a training run's stop request cuts evaluation short
    return result, run.data.classes


def format_report(result: dict[str, Any], classes: list[str]) -> str:
    lines = [f"test accuracy {100 * result['test_acc']:.2f}%  (loss {result['test_loss']:.4f})", "", "per class:"]
    width = max(len(c) for c in classes)
    lines += [f"  {c:<{width}}  {100 * a:6.2f}%" for c, a in zip(classes, result["per_class"])]
    return "\n".join(lines)
