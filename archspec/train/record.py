"""What a run records about its model: everything needed to use the weights without the run's command line.

The record (spec text, parameters, variant, the full train config, class names, input shape and the
normalisation) is stored in checkpoint.pt under "record" and in model.safetensors' metadata (strings
only: one JSON value per key), so eval, export and predict reproduce the run's preprocessing."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional


@dataclass
class RunRecord:
    """A trained model's facts; mean/std are per channel in [0, 1] units (None when not normalised)."""

    spec: str
    spec_name: str
    params: dict[str, Any]
    variant: Optional[str]
    config: dict[str, Any]
    classes: list[str]
    input_shape: list[int]
    mean: Optional[list[float]]
    std: Optional[list[float]]
    weights: Optional[str] = None  # the file fine-tuning started from
    format: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, str]:
        """safetensors metadata: str -> str."""
        return {"archspec." + k: json.dumps(v) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> Optional["RunRecord"]:
        values = {k[len("archspec."):]: json.loads(v) for k, v in (meta or {}).items() if k.startswith("archspec.")}
        return cls.from_dict(values) if "spec" in values else None

    @classmethod
    def from_dict(cls, d: Optional[dict[str, Any]]) -> Optional["RunRecord"]:
        if not d or "spec" not in d:
            return None
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_record(path: Path | str) -> Optional[RunRecord]:
    """The record stored with a checkpoint.pt or model.safetensors file; None for weights from elsewhere."""
    from . import checkpoint as ckpt

    path = Path(path)
    if path.suffix == ".safetensors":
        return RunRecord.from_metadata(ckpt.safetensors_metadata(path))
    return RunRecord.from_dict(ckpt.load(path).get("record"))
