"""Training: a seeded, resumable, mask-respecting SGD/Adam loop with evaluation.

:func:`train` runs ``epochs`` epochs over ``data.train``, evaluates on ``data.val`` after each and
on ``data.test`` at the end. It is deterministic: each epoch reseeds torch's global generator and
the training loader's shuffle generator from ``(seed, epoch)``, deterministic algorithms are on, and
torch runs on a fixed small number of threads — so the same seed gives the same weights, and a run
resumed from the checkpoint after epoch *k* continues exactly as an uninterrupted run would.

When ``masks`` are given they are applied before training and after every optimizer step, so a
removed weight stays exactly zero (momentum and weight decay cannot revive it).

With a ``checkpoint_dir`` the state (weights, masks, optimizer, epoch, RNG states, history,
settings) is written atomically after every epoch to ``checkpoint_dir/checkpoint.pt``; calling
:func:`train` again with the same settings resumes after the last completed epoch.

Device-resident data (:func:`pruning.data.on_device`): when ``data.train`` is a
:class:`~pruning.data.DeviceLoader` the model is moved to the loader's device for the run (and
back to where it was at the end), the masks are applied from tensors kept on that device, and the
loss and accuracy are summed on the device (one synchronization per epoch). On a CUDA device the
recipe's ``precision="auto"`` trains under bf16 autocast and ``channels_last="auto"`` in the
channels-last memory format; deterministic algorithms stay on, in ``warn_only`` mode (some CUDA
backward kernels, e.g. adaptive average pooling's, have no deterministic version) with
``CUBLAS_WORKSPACE_CONFIG`` set, so a GPU run repeats up to those kernels. With the default
``DataLoader`` s of :func:`pruning.data.get_data` nothing of this applies: the CPU loop, and its
results, are those of before.

Schedules: ``cosine`` (per epoch, the default), ``constant``, and ``onecycle``: per optimizer
step, a linear warm-up from 0 to ``lr`` over the recipe's ``warmup`` fraction of the steps, then
a cosine decay to 0. :func:`use_recipe` sets, for the calls inside a ``with`` block, the schedule
used when a caller names none and the precision and memory format: this is how a benchmark gives
the round runner and AUTO-PRUNE's fine-tunes (which call :func:`train` themselves) the CIFAR
recipe.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from pruning.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from pruning.data import DataSplits
from pruning.errors import CheckpointError, PruningError
from pruning.masks import Masks

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant", "onecycle")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainRecipe:
    """What :func:`train` uses when its caller does not say (see :func:`use_recipe`).

    ``schedule``: the schedule of a call that names none; ``warmup``: the warm-up fraction of the
    steps of ``onecycle``; ``precision``: ``auto`` (bf16 autocast on CUDA, fp32 elsewhere),
    ``fp32`` or ``bf16``; ``channels_last``: ``"auto"`` (on CUDA only), True or False.
    """

    schedule: str = "cosine"
    warmup: float = 0.2
    precision: str = "auto"
    channels_last: bool | str = "auto"

    def validate(self) -> TrainRecipe:
        if self.schedule not in SCHEDULES:
            raise PruningError(f"schedule '{self.schedule}': unknown (known: "
                               f"{', '.join(SCHEDULES)})")
        if not 0.0 <= self.warmup < 1.0:
            raise PruningError(f"warmup={self.warmup}: must be in [0, 1)")
        if self.precision not in PRECISIONS:
            raise PruningError(f"precision '{self.precision}': unknown (known: "
                               f"{', '.join(PRECISIONS)})")
        if self.channels_last not in ("auto", True, False):
            raise PruningError(f"channels_last={self.channels_last!r}: must be 'auto', True or "
                               f"False")
        return self


_RECIPE = [TrainRecipe()]


@contextlib.contextmanager
def use_recipe(recipe: TrainRecipe):
    """Within the block, :func:`train` calls that name no schedule use ``recipe.schedule``, and
    every call uses the recipe's warm-up, precision and memory format."""
    _RECIPE.append(recipe.validate())
    try:
        yield recipe
    finally:
        _RECIPE.pop()


def current_recipe() -> TrainRecipe:
    return _RECIPE[-1]


@dataclass
class TrainResult:
    """What a training run produced."""

    epochs: int                                  # epochs completed in total
    history: list[dict[str, float]]              # per epoch: lr, train_loss, train_acc, val_acc
    val_acc: float
    test_acc: float
    resumed_from: int = 0                        # epochs already done when this call started
    checkpoint: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int, threads: int = 2) -> None:
    """Seed torch, numpy and random; deterministic algorithms; a fixed thread count."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader) -> tuple[float, float]:
    """``(mean cross-entropy loss, accuracy)`` of ``model`` on ``loader`` in eval mode."""
    device = _loader_device(loader)
    if device is not None:   # device-resident batches: sum on the device, synchronize once
        with _on(model, device):   # the memory format is the caller's (training's) choice
            was_training = model.training
            model.eval()
            loss_t = torch.zeros((), dtype=torch.float64, device=device)
            correct_t = torch.zeros((), dtype=torch.int64, device=device)
            n = 0
            for x, y in loader:
                out = model(x).float()
                loss_t += nn.functional.cross_entropy(out, y, reduction="sum").double()
                correct_t += (out.argmax(1) == y).sum()
                n += int(y.numel())
            model.train(was_training)
        return (float(loss_t) / n, int(correct_t) / n) if n else (0.0, 0.0)
    was_training = model.training
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for x, y in loader:
        out = model(x)
        loss_sum += float(nn.functional.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        n += int(y.numel())
    model.train(was_training)
    return (loss_sum / n, correct / n) if n else (0.0, 0.0)


def check_optimizer_settings(optimizer: str, lr: float, momentum: float,
                             weight_decay: float) -> None:
    """Refuse optimizer values torch would take silently or fail on later, naming the setting
    (called before any training starts)."""
    if optimizer not in OPTIMIZERS:
        raise PruningError(f"optimizer '{optimizer}': unknown (known: {', '.join(OPTIMIZERS)})")
    checks = (("lr", lr, lambda v: v > 0, "> 0"),
              ("momentum", momentum, lambda v: 0 <= v < 1, "in [0, 1)"),
              ("weight_decay", weight_decay, lambda v: v >= 0, ">= 0"))
    for name, v, ok, rule in checks:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not ok(v):
            raise PruningError(f"{name}={v!r}: must be a finite number {rule}")


def make_optimizer(model: nn.Module, optimizer: str, lr: float, momentum: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    check_optimizer_settings(optimizer, lr, momentum, weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                               weight_decay=weight_decay)
    if optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    raise PruningError(f"optimizer '{optimizer}': unknown (known: {', '.join(OPTIMIZERS)})")


def _lr_at(settings: dict[str, Any], epoch: int) -> float:
    lr = settings["lr"]
    if settings["schedule"] == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * epoch / settings["epochs"]))
    return lr


def onecycle_lr(lr: float, step: int, total: int, warmup: float) -> float:
    """``onecycle`` at optimizer step ``step`` of ``total``: linear warm-up over the first
    ``warmup`` fraction (from ``lr / total_warmup_steps``, never 0), then cosine decay to 0."""
    w = int(round(warmup * total))
    if step < w:
        return lr * (step + 1) / w
    span = max(total - w, 1)
    return lr * 0.5 * (1.0 + math.cos(math.pi * (step - w) / span))


def _devices(model: nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


@contextlib.contextmanager
def _on(model: nn.Module, device: torch.device | None, channels_last: bool = False):
    """``model`` moved to ``device`` (and the channels-last format) for the block, then back."""
    if device is None:
        yield model
        return
    home = _devices(model)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    try:
        yield model
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
        model.to(home)


def _loader_device(loader: Any) -> torch.device | None:
    dev = getattr(loader, "device", None)
    return torch.device(dev) if dev is not None else None


def _resolve_precision(recipe: TrainRecipe, device: torch.device | None) -> tuple[bool, bool]:
    """``(bf16 autocast, channels_last)`` for a run on ``device`` (None: the CPU loaders)."""
    cuda = device is not None and device.type == "cuda"
    bf16 = recipe.precision == "bf16" or (recipe.precision == "auto" and cuda)
    cl = recipe.channels_last is True or (recipe.channels_last == "auto" and cuda)
    return bf16 and device is not None, cl and device is not None


def deterministic_cuda() -> None:
    """Deterministic algorithms on a CUDA device: cuBLAS's fixed workspace, and warn (not fail)
    for the few backward kernels that have no deterministic CUDA version."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def train(model: nn.Module, data: DataSplits, epochs: int, optimizer: str = "sgd",
          lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 5e-4,
          schedule: str | None = None, masks: Masks | None = None, seed: int = 0,
          checkpoint_dir: str | os.PathLike | None = None, progress: bool = True,
          model_spec: dict[str, Any] | None = None) -> TrainResult:
    """Train ``model`` in place (see the module docstring). ``model_spec`` (the
    :func:`build_model` arguments) is stored in the checkpoint so it can be rebuilt later.
    ``schedule`` None takes the current recipe's (:func:`use_recipe`; by default ``cosine``)."""
    recipe = current_recipe()
    schedule = recipe.schedule if schedule is None else schedule
    if epochs < 0:
        raise PruningError(f"epochs={epochs}: must be >= 0")
    if schedule not in SCHEDULES:
        raise PruningError(f"schedule '{schedule}': unknown (known: {', '.join(SCHEDULES)})")
    if not lr > 0:
        raise PruningError(f"lr={lr}: must be > 0")
    device = _loader_device(data.train)
    bf16, channels_last = _resolve_precision(recipe, device)
    settings = {"epochs": int(epochs), "optimizer": optimizer, "lr": float(lr),
                "momentum": float(momentum), "weight_decay": float(weight_decay),
                "schedule": schedule, "seed": int(seed), "data": data.name}
    # keys that exist only when used, so the settings (and checkpoints) of runs without them
    # stay as they were
    if schedule == "onecycle":
        settings["warmup"] = float(recipe.warmup)
    if getattr(data.train, "augment", None):
        settings["augment"] = data.train.augment
    if bf16:
        settings["precision"] = "bf16"
    if device is not None and device.type == "cuda":
        deterministic_cuda()
    masks = masks.validate(model) if masks is not None else Masks()
    with _on(model, device, channels_last):
        return _train_loop(model, data, epochs, optimizer, lr, momentum, weight_decay, masks,
                           seed, checkpoint_dir, progress, model_spec, settings, device, bf16,
                           recipe)


def _train_loop(model: nn.Module, data: DataSplits, epochs: int, optimizer: str, lr: float,
                momentum: float, weight_decay: float, masks: Masks, seed: int,
                checkpoint_dir: str | os.PathLike | None, progress: bool,
                model_spec: dict[str, Any] | None, settings: dict[str, Any],
                device: torch.device | None, bf16: bool, recipe: TrainRecipe) -> TrainResult:
    opt = make_optimizer(model, optimizer, lr, momentum, weight_decay)
    history: list[dict[str, float]] = []
    start = 0
    ck_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if ck_path is not None and ck_path.is_file():
        ck = load_checkpoint(ck_path)
        if ck.get("settings") != settings:
            raise CheckpointError(f"{ck_path}: written with settings {ck.get('settings')}, not "
                                  f"{settings}; use the same settings or another folder")
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        masks = Masks({k: v.numpy() for k, v in ck["masks"].items()}).validate(model)
        history = list(ck["history"])
        start = int(ck["epoch"])
        torch.set_rng_state(ck["rng"]["torch"])
    resumed_from = start
    masks.apply(model)
    params = dict(model.named_parameters())
    if device is not None:   # mask tensors kept on the device: no host copy per step
        mask_t = {n: torch.from_numpy(m).to(device=params[n].device, dtype=params[n].dtype)
                  for n, m in masks.items()}

        @torch.no_grad()
        def apply_masks() -> None:
            for n, t in mask_t.items():
                params[n].mul_(t)
    else:
        def apply_masks() -> None:
            masks.apply(model)

    show = progress and sys.stderr.isatty()
    gen = getattr(data.train, "generator", None) or getattr(data.train.sampler, "generator", None)
    steps = len(data.train)
    for epoch in range(start, epochs):
        # Reseed per epoch, so an interrupted run resumes on the same batches and dropout.
        torch.manual_seed(seed * 1_000_003 + epoch)
        if gen is not None:
            gen.manual_seed(seed * 1_000_003 + epoch)
        lr_now = (onecycle_lr(lr, epoch * steps, epochs * steps, recipe.warmup)
                  if settings["schedule"] == "onecycle" else _lr_at(settings, epoch))
        for g in opt.param_groups:
            g["lr"] = lr_now
        model.train()
        loss_sum, correct, n = 0.0, 0, 0
        if device is not None:
            loss_t = torch.zeros((), dtype=torch.float64, device=device)
            correct_t = torch.zeros((), dtype=torch.int64, device=device)
        batches = data.train
        if show:
            from tqdm import tqdm

            batches = tqdm(data.train, desc=f"epoch {epoch + 1}/{epochs}", leave=False)
        for i, (x, y) in enumerate(batches):
            if settings["schedule"] == "onecycle":
                for g in opt.param_groups:
                    g["lr"] = onecycle_lr(lr, epoch * steps + i, epochs * steps, recipe.warmup)
            opt.zero_grad(set_to_none=True)
            if device is None:
                out = model(x)
                loss = nn.functional.cross_entropy(out, y)
                loss.backward()
                opt.step()
                apply_masks()
                loss_sum += float(loss.detach()) * int(y.numel())
                correct += int((out.argmax(1) == y).sum())
                n += int(y.numel())
                continue
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
                out = model(x)
                loss = nn.functional.cross_entropy(out.float(), y)
            loss.backward()
            opt.step()
            apply_masks()
            loss_t += loss.detach().double() * y.numel()
            correct_t += (out.argmax(1) == y).sum()
            n += int(y.numel())
        if device is not None:
            loss_sum, correct = float(loss_t), int(correct_t)
        _, val_acc = evaluate(model, data.val)
        history.append({"epoch": epoch + 1, "lr": lr_now, "train_loss": loss_sum / max(n, 1),
                        "train_acc": correct / max(n, 1), "val_acc": val_acc})
        if progress:   # one line per epoch, also when stderr is not a terminal (logs, CI)
            print(f"epoch {epoch + 1}/{epochs}: loss {loss_sum / max(n, 1):.4f} "
                  f"train {correct / max(n, 1):.3f} val {val_acc:.3f}", file=sys.stderr)
        if ck_path is not None:
            save_checkpoint(ck_path, _payload(model, masks, opt, epoch + 1, history, settings,
                                              model_spec, data))
    _, val_acc = evaluate(model, data.val)
    _, test_acc = evaluate(model, data.test)
    if ck_path is not None and not ck_path.is_file():  # epochs == 0: still leave a checkpoint
        save_checkpoint(ck_path, _payload(model, masks, opt, start, history, settings,
                                          model_spec, data))
    return TrainResult(epochs, history, val_acc, test_acc, resumed_from, ck_path, settings)


def masked_copy(model: nn.Module, masks: Masks, data: DataSplits, epochs: int, lr: float,
                seed: int) -> nn.Module:
    """A copy of ``model`` with ``masks`` applied, fine-tuned ``epochs`` epochs (SGD at ``lr``,
    the current recipe's schedule, by default cosine; masks held, no checkpoint) when
    ``epochs > 0``: the fine-tune of the methods that prune a trained model once (AUTO-PRUNE's
    episodes and result, uniform ratios)."""
    m = copy.deepcopy(model)
    masks.apply(m)
    if epochs > 0:
        train(m, data, epochs, lr=lr, masks=masks, seed=seed, progress=False)
    return m


def _to_cpu(obj: Any) -> Any:
    """``obj`` with every tensor on the CPU in the contiguous format (a checkpoint written on a
    GPU loads on a machine without one); CPU tensors come back as they were."""
    if isinstance(obj, torch.Tensor):
        if obj.device.type == "cpu" and obj.is_contiguous():
            return obj
        return obj.detach().to("cpu").contiguous()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _payload(model: nn.Module, masks: Masks, opt: torch.optim.Optimizer, epoch: int,
             history: list[dict[str, float]], settings: dict[str, Any],
             model_spec: dict[str, Any] | None, data: DataSplits) -> dict[str, Any]:
    return {"model": model_spec, "data": {"name": data.name, "mean": list(data.mean),
                                          "std": list(data.std)},
            "state_dict": _to_cpu(model.state_dict()), "masks": masks.to_tensors(),
            "optimizer": _to_cpu(opt.state_dict()), "epoch": epoch, "history": history,
            "settings": settings, "rng": {"torch": torch.get_rng_state()}}
