"""The training loop: any spec, on the hardware that is there, with checkpoints that survive a kill."""
from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F

from .. import Analysis, analyze, load_spec, resolve_name
from ..compile import compile_graph
from ..limits import check_memory
from ..errors import SpecError
from ..schema import Spec, select_variant, train_config
from . import checkpoint as ckpt
from .allocator import keep_freed_memory
from .config import TrainConfig
from .data import DataError, FolderData, TensorData, augment, load_data, prepare
from .metrics import plot_curves, write_events, write_metrics
from .optim import eager
from .record import RunRecord
from .resume import check_model_fits, load_states, plan
from .runs import claim, clear_run


class TrainingStopped(SpecError):
    """A run that stopped on purpose (NaN loss, Ctrl-C); its last good checkpoint is on disk."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message, code="stopped")
        self.exit_code = exit_code


class StopRequest:
    """Ctrl-C or SIGTERM (schedulers send it before killing) asks the loop to stop at the next batch
    boundary, where the state is whole and can be saved; a second Ctrl-C interrupts at once.

    The handler only sets a flag, so a signal never lands halfway through an optimizer step, a
    checkpoint write or a C extension's first import (matplotlib's font module aborts the process)."""

    def __init__(self) -> None:
        self.signal: Optional[int] = None
        self._old: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def __call__(self, signum: int, frame: Any) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for sig in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(sig) is not signal.SIG_IGN:  # `nohup ... &` ignores SIGINT on purpose
                    self._old[sig] = signal.signal(sig, self)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Dist":
        """torchrun sets RANK, WORLD_SIZE and LOCAL_RANK."""
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(choice: str, dist: Dist) -> torch.device:
    """cuda, then mps, then cpu; an explicit choice that is not there is an error."""
    has = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if choice != "auto" and not has[choice]:
        raise SpecError(f"device '{choice}' is not available here (available: {', '.join(k for k, v in has.items() if v)})", code="device")
    name = choice if choice != "auto" else next(k for k in ("cuda", "mps", "cpu") if has[k])
    return torch.device(f"cuda:{dist.local_rank}") if name == "cuda" else torch.device(name)


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module, device: torch.device) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise SpecError("the network has no trainable parameters: nothing to train", code="train")
    fused = {"fused": True} if device.type in ("cuda", "cpu") else {}
    if cfg.optimizer == "sgd":
        return eager(torch.optim.SGD)(params, cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay, **fused)
    cls = eager(torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW)
    return cls(params, cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, **fused)


def make_schedule(cfg: TrainConfig, opt: torch.optim.Optimizer, steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per batch; step and cosine are written per batch so a resumed run follows the same curve."""
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size * steps_per_epoch, gamma=cfg.gamma)
    return torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)


def zero_sums() -> dict[str, float]:
    """An epoch's running totals, as saved in checkpoints."""
    return {"loss": 0.0, "correct": 0.0, "seen": 0.0, "seconds": 0.0}


@dataclass
class Run:
    """Everything a training run holds, so an epoch is a short function of it."""

    spec: Spec
    cfg: TrainConfig
    model: torch.nn.Module
    fwd: torch.nn.Module  # the model as called for training (DDP- or compile-wrapped)
    data: TensorData | FolderData
    opt: torch.optim.Optimizer
    sched: Any
    scaler: Optional[torch.amp.GradScaler]
    device: torch.device
    dist: Dist
    out: Path
    input_shape: tuple[int, ...]
    main_output: str
    weights: dict[str, float]
    amp_dtype: Optional[torch.dtype]
    progress: bool
    params: dict[str, Any] = field(default_factory=dict)
    variant: Optional[str] = None
    frozen: list[str] = field(default_factory=list)  # blocks whose weights and BN statistics stay fixed
    init: Optional[str] = None  # the weights file a fine-tuning run started from
    history: list[dict[str, Any]] = field(default_factory=list)
    epoch: int = 0
    step: int = 0  # batches done in `epoch`
    sums: dict[str, float] = field(default_factory=zero_sums)
    aug_gen: torch.Generator = field(default_factory=torch.Generator)
    stop: StopRequest = field(default_factory=StopRequest)
    first_batch_s: Optional[float] = None  # seconds from the process's start to the end of its first training step
    first_batch_said: bool = False
    curves_at: float = field(default_factory=time.monotonic)  # when curves.png was last drawn (or the run set up)
    curves_epochs: int = -1  # the epochs curves.png shows; -1: not drawn in this process

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"


def loss_weights(cfg: TrainConfig, spec: Spec, outputs: dict[str, Any]) -> dict[str, float]:
    for name in cfg.loss_weights:
        if name not in outputs:
            from ..errors import did_you_mean

            raise SpecError(f"loss_weights names output '{name}', which the network does not have{did_you_mean(name, outputs)}",
                            spec.source.loc(("train", "loss_weights", name), key=True), "train", "train", code="unknown_output")
    return {n: cfg.loss_weights.get(n, 1.0 if n == spec.output else 0.3) for n in outputs}


def lowered(spec: Spec, params: dict[str, Any], cfg: TrainConfig) -> Analysis:
    """The spec's graph and shapes with `params`, and the checks of `cfg` against them that need no data
    or weights: what a new run finds wrong here, it finds before it makes its folder."""
    a = analyze(spec, params)
    loss_weights(cfg, spec, a.graph.outputs)
    check_memory(a.graph, a.shapes)
    return a


def setup(spec: Spec, params: dict[str, Any], cfg: TrainConfig, out: Path, progress: bool, variant: Optional[str] = None,
          init: Optional[Path] = None, analysis: Optional[Analysis] = None) -> Run:
    """Data, model, optimizer and schedule for a run (or an evaluation) of `spec` with `cfg`; `analysis`
    is lowered(spec, params, cfg) when the caller has it already."""
    dist = Dist.from_env()
    device = pick_device(cfg.device, dist)
    if device.type == "cpu":
        keep_freed_memory()  # activations live in host memory: reuse it instead of faulting pages in each step
    if dist.world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    torch.manual_seed(cfg.seed)
    a = analysis or lowered(spec, params, cfg)
    weights = loss_weights(cfg, spec, a.graph.outputs)
    model = compile_graph(a.graph, a.shapes)
    n_classes = a.shapes[a.graph.outputs[spec.output].node][0]
    data = load_data(cfg, a.graph.input_shape, n_classes)
    check_classes(data, n_classes, spec)
    if init is not None:
        from .finetune import load_weights

        load_weights(model, init, print if dist.main else None)
    frozen = freeze(model, cfg, spec)
    data = data.to(device)
    four_d = len(a.graph.input_shape) == 3
    model.to(device, memory_format=torch.channels_last if cfg.channels_last and four_d else torch.preserve_format)
    fwd: torch.nn.Module = model
    if dist.world > 1:
        fwd = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        fwd = torch.compile(fwd)  # type: ignore[assignment]
    opt = make_optimizer(cfg, model, device)
    steps = data.steps(cfg.batch_size, dist.rank, dist.world)
    amp_dtype = None
    if device.type == "cuda" and cfg.amp:
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    run = Run(spec, cfg, model, fwd, data, opt, make_schedule(cfg, opt, steps), scaler, device, dist, out,
              tuple(a.graph.input_shape), spec.output, weights, amp_dtype, progress, dict(params))
    run.variant, run.frozen, run.init = variant, frozen, str(init) if init else None
    return run


def check_classes(data: TensorData | FolderData, n_outputs: int, spec: Spec) -> None:
    """The data's labels must index the network's output: checked before the first step, not mid-epoch."""
    n = len(data.classes)
    if n > n_outputs:
        raise DataError(f"the data set has {n} classes but {spec.name}'s output '{spec.output}' has {n_outputs} values; "
                        f"set the spec's class count to {n} (e.g. --set num_classes={n}) or use a data set with at most {n_outputs} classes")


def freeze(model: torch.nn.Module, cfg: TrainConfig, spec: Spec) -> list[str]:
    """train.freeze: these blocks keep their weights and batch-norm statistics (set to eval mode each epoch)."""
    names = dict(model.named_modules())
    for name in cfg.freeze:
        if name not in names or not name:
            from ..errors import did_you_mean

            top = [n for n in names if n and "." not in n]
            msg = f"freeze names block '{name}', which the network does not have{did_you_mean(name, top)}"
            if "freeze" not in ((spec.source.data or {}).get("train") or {}):  # from --set: no place in the spec to point at
                raise SpecError(msg, code="unknown_block")
            raise SpecError(msg, spec.source.loc(("train", "freeze")), "train", "train", code="unknown_block")
        for p in names[name].parameters():
            p.requires_grad_(False)
    return list(cfg.freeze)


def record(run: Run) -> RunRecord:
    """Everything needed to use the model without this run's command line."""
    norm = run.cfg.normalize
    return RunRecord(run.spec.source.text, run.spec.name, run.params, run.variant, run.cfg.model_dump(mode="json"),
                     list(run.data.classes), list(run.input_shape), run.data.mean.tolist() if norm else None,
                     run.data.std.tolist() if norm else None, run.init)


def restore(run: Run, state: dict[str, Any]) -> None:
    """The model, optimizer, schedule and RNG states of a checkpoint, each checked to fit."""
    check_model_fits(run.out, state["model"], run.model.state_dict())
    run.model.load_state_dict(state["model"])
    parts = {"optimizer": (run.opt, state.get("optimizer")), "scheduler": (run.sched, state.get("scheduler"))}
    if run.scaler is not None and state.get("scaler"):
        parts["grad scaler"] = (run.scaler, state["scaler"])
    load_states(run.out, parts)
    ckpt.set_rng_state(state["rng"])
    run.aug_gen.set_state(state["aug_rng"])
    run.epoch, run.step = state["epoch"], state["step"]
    run.sums, run.history = state["sums"], state["history"]


def save(run: Run) -> None:
    if not run.dist.main:
        return
    rec = record(run)
    ckpt.save(run.checkpoint_path, {
        "model": run.model.state_dict(), "optimizer": run.opt.state_dict(), "scheduler": run.sched.state_dict(),
        "scaler": run.scaler.state_dict() if run.scaler else None, "rng": ckpt.rng_state(),
        "aug_rng": run.aug_gen.get_state(), "epoch": run.epoch, "step": run.step, "sums": dict(run.sums),
        "history": run.history, "spec": rec.spec, "config": rec.config, "params": run.params, "record": rec.to_dict(),
    })


def autocast(run: Run) -> Any:
    return torch.autocast(run.device.type, dtype=run.amp_dtype) if run.amp_dtype else nullcontext()


def batch_input(run: Run, x: torch.Tensor) -> torch.Tensor:
    x = prepare(x, run.data, run.cfg, run.input_shape)
    return x.contiguous(memory_format=torch.channels_last) if run.cfg.channels_last and x.dim() == 4 else x


def train_step(run: Run, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step; returns the batch's summed loss and number of correct predictions."""
    with autocast(run):
        out = run.fwd(batch_input(run, augment(x, run.cfg, run.aug_gen)))
        outs = out if isinstance(out, dict) else {run.main_output: out}
        losses = {n: F.cross_entropy(v.float(), y, label_smoothing=run.cfg.label_smoothing) for n, v in outs.items()}
        loss = sum(run.weights[n] * value for n, value in losses.items())
    run.opt.zero_grad(set_to_none=True)
    if run.scaler:
        run.scaler.scale(loss).backward()
        run.scaler.step(run.opt)
        run.scaler.update()
    else:
        loss.backward()
        run.opt.step()
    run.sched.step()
    main = outs[run.main_output]
    return losses[run.main_output].detach() * len(y), (main.argmax(1) == y).sum()


def train_epoch(run: Run) -> None:
    """Run the rest of the current epoch (all of it, unless resuming mid-epoch)."""
    from tqdm import tqdm

    n_steps = run.data.steps(run.cfg.batch_size, run.dist.rank, run.dist.world)
    batches = run.data.train_batches(run.cfg.seed, run.epoch, run.step, run.cfg.batch_size, run.dist.rank, run.dist.world)
    if run.step == 0:
        run.aug_gen.manual_seed(run.cfg.seed * 7919 + run.epoch)
        run.sums = zero_sums()
    check_every = 1 if run.device.type == "cpu" else 25
    bar = tqdm(total=n_steps, initial=run.step, desc=f"epoch {run.epoch + 1}/{run.cfg.epochs}", unit="batch",
               disable=not (run.progress and run.dist.main), leave=False, dynamic_ncols=True, file=sys.stderr, bar_format=BAR)
    run.model.train()
    for name in run.frozen:  # frozen blocks keep their batch-norm statistics: eval mode
        run.model.get_submodule(name).eval()
    t0, loss_acc, correct_acc, seen = time.perf_counter(), torch.zeros((), device=run.device), torch.zeros((), device=run.device), 0
    with bar:
        for x, y in batches:
            loss, correct = train_step(run, x, y)
            loss_acc += loss
            correct_acc += correct
            seen += len(y)
            run.step += 1
            if run.first_batch_s is None:
                run.first_batch_s = process_seconds()
            bar.update(1)
            # under torchrun every rank must reach stop_agreed at the same steps: no early flush there
            if run.step % check_every == 0 or run.step == n_steps or (run.stop.requested and run.dist.world == 1):
                flush_sums(run, loss_acc, correct_acc, seen, t0)
                t0, seen = time.perf_counter(), 0
                loss_acc.zero_(), correct_acc.zero_()
                s = run.sums
                bar.set_postfix_str(postfix(s, run.dist.world), refresh=False)
                if stop_agreed(run):
                    return


# the numbers last: the bar shrinks to fit the terminal, so loss, accuracy and img/s fit in 80 columns
BAR = "{desc} {percentage:3.0f}%|{bar}|{n_fmt}/{total_fmt} {elapsed}<{remaining}{postfix}"


def postfix(s: dict[str, float], world: int) -> str:
    return (f"loss {s['loss'] / s['seen']:.4f} acc {100 * s['correct'] / s['seen']:.2f}% "
            f"{s['seen'] * world / max(s['seconds'], 1e-9):,.0f} img/s")


def stop_agreed(run: Run) -> bool:
    """Whether to stop now; under torchrun every rank asks at the same step, so all stop together."""
    if run.dist.world == 1:
        return run.stop.requested
    flag = torch.tensor([float(run.stop.requested)], device=run.device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return bool(flag.item())


def stopped(run: Run) -> TrainingStopped:
    """Save the whole state at the boundary reached and say how to go on."""
    save(run)
    where = f"at epoch {run.epoch + 1}, batch {run.step}" if run.step else f"at the start of epoch {run.epoch + 1}"
    return TrainingStopped(f"interrupted {where}; checkpoint saved to {run.checkpoint_path}; "
                           f"continue with --resume --out {run.out}", 130)


def last_checkpoint(run: Run) -> str:
    """What is on disk when a run stops without saving (NaN loss, a second Ctrl-C)."""
    if not run.epoch:
        return "no checkpoint was written yet"
    return f"the last good checkpoint (epoch {run.epoch}) is kept at {run.checkpoint_path}"


def flush_sums(run: Run, loss_acc: torch.Tensor, correct_acc: torch.Tensor, seen: int, t0: float) -> None:
    if run.device.type == "cuda":
        torch.cuda.synchronize(run.device)
    loss = loss_acc.item()
    if not math.isfinite(loss):
        raise TrainingStopped(f"loss became {loss} at epoch {run.epoch + 1}, batch {run.step}; stopped. "
                              f"{last_checkpoint(run)}; try a lower --lr", 3)
    run.sums["loss"] += loss
    run.sums["correct"] += correct_acc.item()
    run.sums["seen"] += seen
    run.sums["seconds"] += time.perf_counter() - t0


@torch.inference_mode()
def evaluate(model: torch.nn.Module, run: Run, n_classes: int) -> Optional[dict[str, Any]]:
    """Test loss, accuracy and per-class accuracy of the main output; None if a stop was requested."""
    model.eval()
    loss, correct = 0.0, torch.zeros(n_classes, device=run.device)
    total = torch.zeros(n_classes, device=run.device)
    for x, y in run.data.test_batches(run.cfg.eval_batch_size):
        if run.stop.requested:
            return None
        with autocast(run):
            out = model(batch_input(run, x))
        out = (out[run.main_output] if isinstance(out, dict) else out).float()
        loss += F.cross_entropy(out, y, reduction="sum").item()
        total += torch.bincount(y, minlength=n_classes)[:n_classes].float()
        correct += torch.bincount(y[out.argmax(1) == y], minlength=n_classes)[:n_classes].float()
    n = max(total.sum().item(), 1)
    return {"test_loss": loss / n, "test_acc": correct.sum().item() / n,
            "per_class": (correct / total.clamp_min(1)).tolist()}


def finish_epoch(run: Run) -> Optional[dict[str, Any]]:
    """Evaluate, record the epoch and write its files; None (nothing recorded) if a stop cut evaluation short."""
    ev = evaluate(run.model, run, len(run.data.classes)) if run.dist.main else {"test_loss": math.nan, "test_acc": math.nan}
    if ev is None:
        return None
    s = run.sums
    row = {"epoch": run.epoch + 1, "train_loss": s["loss"] / max(s["seen"], 1), "train_acc": s["correct"] / max(s["seen"], 1),
           "test_loss": ev["test_loss"], "test_acc": ev["test_acc"], "lr": run.opt.param_groups[0]["lr"],
           "seconds": s["seconds"], "images_per_s": s["seen"] * run.dist.world / max(s["seconds"], 1e-9)}
    run.history.append(row)
    run.epoch, run.step = run.epoch + 1, 0
    if run.dist.main:
        save(run)
        meta = record(run).to_metadata()
        ckpt.save_safetensors(run.out / "model.safetensors", run.model, meta)
        if row["test_acc"] >= max(r["test_acc"] for r in run.history):  # the best so far, ties to the later epoch
            ckpt.save_safetensors(run.out / "best.safetensors", run.model, {**meta, "archspec.best_epoch": str(row["epoch"])})
        write_metrics(run.out, run.history)
        if time.monotonic() - run.curves_at >= CURVES_EVERY_S:
            draw_curves(run)
        write_events(run.out, row)
    return row


# curves.png is redrawn at most this often during a run, and at its end: drawing it takes 0.2 s (0.8 s
# with matplotlib's import), a twentieth of a small network's epoch on a CPU; metrics.csv is written every epoch
CURVES_EVERY_S = 20.0


def draw_curves(run: Run) -> None:
    """curves.png from the whole history, unless it already shows every epoch."""
    if run.dist.main and run.history and run.curves_epochs != len(run.history):
        plot_curves(run.out / "curves.png", run.history)
        run.curves_at, run.curves_epochs = time.monotonic(), len(run.history)


def stale_epochs(history: list[dict[str, Any]]) -> int:
    """Epochs since test accuracy last improved."""
    best = max(range(len(history)), key=lambda i: (history[i]["test_acc"], -i))
    return len(history) - 1 - best


def process_seconds() -> Optional[float]:
    """Wall-clock seconds since this process started (Linux's /proc), or None where that is not known."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, after the command name
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def first_batch_note(run: Run) -> str:
    """How long the process took to its first training step (start-up, data, model), said once."""
    if run.first_batch_said or run.first_batch_s is None:
        return ""
    run.first_batch_said = True
    return f" (first batch {run.first_batch_s:.2f} s after start)"


def summary_line(row: dict[str, Any], epochs: int) -> str:
    return (f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f} acc {100 * row['train_acc']:.2f}% | "
            f"test loss {row['test_loss']:.4f} acc {100 * row['test_acc']:.2f}% | "
            f"{row['images_per_s']:,.0f} img/s, {row['seconds']:.1f} s")


def train(spec_path: Optional[str | Path], params: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None,
          out: Optional[str | Path] = None, resume: bool = False, progress: bool = True, variant: Optional[str] = None,
          overwrite: bool = False, weights: Optional[str | Path] = None) -> Run:
    """Train a spec on its `train:` recipe (with overrides); returns the finished run.

    A new run checks its spec, params and train config before it makes its run folder; with `resume`, the
    folder is locked first and the run's stored configuration is used (`params`/`overrides` may only change
    what `resume.FREE` allows). Every error after the folder is taken releases it."""
    params, overrides = dict(params or {}), dict(overrides or {})
    folder = Path(out) if out else None
    if resume:
        if weights is not None:
            raise SpecError("--weights starts a new run from other weights; a resumed run continues from its own checkpoint", code="cli")
        return resume_run(spec_path, params, overrides, folder, progress, variant)
    if spec_path is None:
        raise SpecError("train needs a spec (a file or a model name), unless it resumes a run (--resume --out DIR)", code="cli")
    spec, variant = spec_for(spec_path, variant)
    cfg = train_config(spec.source, (spec.source.data or {}).get("train") or {}, overrides)
    analysis = lowered(spec, params, cfg)
    taken = claim(folder, spec.name, False, overwrite, Dist.from_env().main)
    try:
        run = setup(spec, params, cfg, taken.out, progress, variant, Path(weights) if weights else None, analysis)
    except BaseException:  # nothing is written yet: take the folder back, as if the run had not been started
        taken.abandon()
        raise
    with taken:
        if overwrite and run.dist.main:
            clear_run(taken.out)  # only now: a run that could not start leaves the old one as it was
        return run_epochs(run)


def resume_run(spec_path: Optional[str | Path], params: dict[str, Any], overrides: dict[str, Any], out: Optional[Path],
               progress: bool, variant: Optional[str]) -> Run:
    """Continue the run in `out`; the lock is taken first and released on every way out (a damaged
    checkpoint, a refused flag, a bad value) so the next --resume is not refused."""
    with claim(out, "", True, False, Dist.from_env().main) as taken:
        state = ckpt.load(taken.out / "checkpoint.pt")
        p = plan(taken.out, state, str(spec_path) if spec_path else None, params, overrides, variant)
        spec = select_variant(p.spec, p.variant) if p.variant else p.spec
        cfg = train_config(spec.source, p.config, p.overrides)  # apart, so that a bad flag is named as the flag
        run = setup(spec, p.params, cfg, taken.out, progress, p.variant)
        restore(run, state)
        return run_epochs(run)


def spec_for(spec_path: str | Path, variant: Optional[str]) -> tuple[Spec, Optional[str]]:
    """A spec file or a model name (`resnet18`), with its variant selected."""
    path, variant = resolve_name(str(spec_path), variant)
    spec = load_spec(path)
    return (select_variant(spec, variant) if variant else spec), variant


def run_epochs(run: Run) -> Run:
    """The epochs left; a resumed run that had finished only completes the files a kill left missing."""
    log = print if run.dist.main else (lambda *a, **k: None)
    log(f"training {run.spec.name} on {run.cfg.dataset} ({run.data.n_train:,} train / {run.data.n_test:,} test) "
        f"on {run.device}{f' x{run.dist.world}' if run.dist.world > 1 else ''}; output in {run.out}", flush=True)
    if run.dist.main and run.epoch >= run.cfg.epochs and run.step == 0:
        complete_files(run)
    with run.stop:
        try:
            while run.epoch < run.cfg.epochs:
                train_epoch(run)
                row = None if stop_agreed(run) else finish_epoch(run)
                if stop_agreed(run) or row is None:  # every rank takes part in stop_agreed, so it comes first
                    raise stopped(run)
                log(summary_line(row, run.cfg.epochs) + first_batch_note(run), flush=True)
                if run.cfg.early_stop and stale_epochs(run.history) >= run.cfg.early_stop:
                    log(f"early stop: test accuracy has not improved for {run.cfg.early_stop} epoch(s); "
                        f"the best model is {run.out / 'best.safetensors'}", flush=True)
                    break
            draw_curves(run)
        except KeyboardInterrupt:  # a second Ctrl-C: no waiting for a boundary, so no new checkpoint
            raise TrainingStopped(f"interrupted at once; {last_checkpoint(run)}", 130) from None
        except TrainingStopped:  # a stop or a NaN loss: the curves show every epoch recorded before it
            draw_curves(run)
            raise
    if run.dist.world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return run


def complete_files(run: Run) -> None:
    """A kill between the checkpoint and the other files of the last epoch: write them again."""
    if not (run.out / "model.safetensors").exists():
        ckpt.save_safetensors(run.out / "model.safetensors", run.model, record(run).to_metadata())
    if run.history:  # curves.png may exist and still lack the last epochs (it is redrawn every CURVES_EVERY_S)
        write_metrics(run.out, run.history)
        draw_curves(run)
