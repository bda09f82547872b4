"""The `train:` section of a spec: validated by the same schema, with the same located errors."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

PosInt = Annotated[StrictInt, Field(ge=1)]
NonNegInt = Annotated[StrictInt, Field(ge=0)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]

DATASETS = ("fashion-mnist", "mnist", "cifar10", "imagefolder", "synthetic")


class TrainConfig(BaseModel):
    """How `archspec train` trains a spec; every field can be overridden on the command line."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: start-up stays fast

    dataset: Literal["fashion-mnist", "mnist", "cifar10", "imagefolder", "synthetic"] = Field(
        "synthetic", description="the data set; synthetic = random tensors of the spec's input shape")
    data_dir: Optional[str] = Field(None, description="where the data is; else ~/.cache/archspec, then /usr/share/datasets")
    download: StrictBool = Field(True, description="try to download a data set that is not found")
    resize: StrictBool = Field(False, description="resize (and repeat channels of) images that do not match the spec's input")
    normalize: StrictBool = Field(True, description="subtract the training set's mean and divide by its std")
    batch_size: PosInt = Field(64, description="samples per optimizer step (per process under torchrun)")
    eval_batch_size: PosInt = Field(1000, description="samples per batch when evaluating")
    epochs: PosInt = Field(5, description="passes over the training set")
    optimizer: Literal["sgd", "adam", "adamw"] = Field("sgd", description="the optimizer")
    lr: Annotated[float, Field(gt=0.0)] = Field(0.01, description="learning rate (peak rate for onecycle)")
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(0.9, description="SGD momentum")
    nesterov: StrictBool = Field(False, description="Nesterov momentum (SGD)")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam/AdamW betas")
    weight_decay: Annotated[float, Field(ge=0.0)] = Field(0.0, description="L2 penalty (decoupled for AdamW)")
    schedule: Literal["none", "step", "cosine", "onecycle"] = Field("none", description="learning-rate schedule")
    step_size: PosInt = Field(30, description="epochs between drops (schedule: step)")
    gamma: Annotated[float, Field(gt=0.0)] = Field(0.1, description="drop factor (schedule: step)")
    label_smoothing: Unit = Field(0.0, description="cross-entropy label smoothing")
    loss_weights: dict[str, Annotated[float, Field(ge=0.0)]] = Field(
        default_factory=dict, description="output name -> loss weight; the main output defaults to 1, others to 0.3")
    random_crop: NonNegInt = Field(0, description="augmentation: pad by this many pixels and crop back at random (0 = off)")
    hflip: StrictBool = Field(False, description="augmentation: flip half the images left-right")
    seed: StrictInt = Field(0, description="seed for weights, shuffling and augmentation")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto = cuda, then mps, then cpu")
    amp: StrictBool = Field(True, description="mixed precision on cuda (bf16 where supported, else fp16)")
    channels_last: StrictBool = Field(True, description="channels-last memory format for 4-d inputs")
    compile: StrictBool = Field(False, description="torch.compile the model")
    workers: NonNegInt = Field(2, description="DataLoader worker processes (imagefolder)")
    limit_train: Optional[PosInt] = Field(None, description="use only the first N training samples")
    limit_test: Optional[PosInt] = Field(None, description="use only the first N test samples")
    synthetic_size: PosInt = Field(512, description="training samples of the synthetic data set")
    early_stop: Optional[PosInt] = Field(None, description="stop when test accuracy has not improved for this many epochs (None = off)")
    freeze: list[str] = Field(default_factory=list, description="blocks whose weights and batch-norm statistics stay fixed (fine-tuning), e.g. [layer1, layer2]")
    num_classes: Optional[PosInt] = Field(None, description="classes of the synthetic data set (default: the output width)")
