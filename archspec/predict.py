"""`archspec predict SPEC CHECKPOINT IMAGE|FOLDER...`: class names and probabilities per image, with
the run's own preprocessing (channels, resize to the spec's input, the training set's mean and std)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from . import analyze
from .compile import compile_graph
from .errors import SpecError, first_line
from .limits import check_memory

SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


@dataclass
class Prediction:
    file: str
    top: list[tuple[str, float]]  # (class name, probability), most probable first

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "top": [{"class": c, "probability": p} for c, p in self.top]}

    def line(self) -> str:
        return f"{self.file}: " + ", ".join(f"{c} {100 * p:.1f}%" for c, p in self.top)


def image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given; folders walked (sorted) for image files."""
    out: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            out += sorted(p for p in item.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        elif item.is_file():
            out.append(item)
        else:
            raise SpecError(f"no such image or folder: {item}", code="predict")
    if not out:
        raise SpecError(f"no image files in {', '.join(map(str, inputs))}", code="predict")
    return out


def load_image(path: Path, shape: Sequence[int]) -> torch.Tensor:
    """(C, H, W) float in [0, 1]: converted to the spec's channels and resized to its input, as training's folder loader does."""
    import torchvision.transforms.v2.functional as TF
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert({1: "L", 3: "RGB"}.get(shape[0], "RGB"))
            x = TF.pil_to_tensor(im)
    except Exception as e:  # PIL's errors for a broken file are of several types
        raise SpecError(f"{path} is not a readable image ({first_line(e, 120)})", code="predict") from None
    if tuple(x.shape[1:]) != tuple(shape[1:]):
        x = TF.resize(x, list(shape[1:]), antialias=True)
    return x.float().div_(255)


def load_model(spec: str | Path, checkpoint: Path, variant: Optional[str] = None) -> tuple[torch.nn.Module, dict[str, Any], list[int]]:
    """The eval-mode model with the checkpoint's weights, the run's record and the input shape."""
    from .train.checkpoint import CheckpointError, load

    state = load(checkpoint)
    rec = state.get("record") or {}
    a = analyze(spec, rec.get("params") or None, variant=variant or rec.get("variant"))
    check_memory(a.graph, a.shapes)
    model = compile_graph(a.graph, a.shapes).eval()
    try:
        model.load_state_dict(state["model"], strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{checkpoint} does not fit {a.spec.name}: {first_line(e)}") from None
    return model, rec, list(a.graph.input_shape)


@torch.inference_mode()
def predict(spec: str | Path, checkpoint: str | Path, inputs: Sequence[str | Path], top: int = 5,
            variant: Optional[str] = None, batch: int = 64) -> list[Prediction]:
    """The `top` most probable classes of each image."""
    model, rec, shape = load_model(spec, Path(checkpoint), variant)
    files = image_files(inputs)
    mean = torch.tensor(rec["mean"]).view(1, -1, 1, 1) if rec.get("mean") is not None else None
    std = torch.tensor(rec["std"]).view(1, -1, 1, 1) if rec.get("std") is not None else None
    out: list[Prediction] = []
    for i in range(0, len(files), batch):
        chunk = files[i: i + batch]
        x = torch.stack([load_image(f, shape) for f in chunk])
        if mean is not None:
            x = (x - mean) / std
        logits = model(x)
        probs = (logits if isinstance(logits, torch.Tensor) else logits[rec.get("output", "out")]).float().softmax(1)
        classes = rec.get("classes") or [str(k) for k in range(probs.shape[1])]
        p, idx = probs.topk(min(top, probs.shape[1]), dim=1)
        out += [Prediction(str(f), [(classes[j], float(q)) for q, j in zip(pr.tolist(), ix.tolist())]) for f, pr, ix in zip(chunk, p, idx)]
    return out
