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
"""

from __future__ import annotations

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
SCHEDULES = ("cosine", "constant")


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


def make_optimizer(model: nn.Module, optimizer: str, lr: float, momentum: float,
                   weight_decay: float) -> torch.optim.Optimizer:
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


def train(model: nn.Module, data: DataSplits, epochs: int, optimizer: str = "sgd",
          lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 5e-4,
          schedule: str = "cosine", masks: Masks | None = None, seed: int = 0,
          checkpoint_dir: str | os.PathLike | None = None, progress: bool = True,
          model_spec: dict[str, Any] | None = None) -> TrainResult:
    """Train ``model`` in place (see the module docstring). ``model_spec`` (the
    :func:`build_model` arguments) is stored in the checkpoint so it can be rebuilt later."""
    if epochs < 0:
        raise PruningError(f"epochs={epochs}: must be >= 0")
    if schedule not in SCHEDULES:
        raise PruningError(f"schedule '{schedule}': unknown (known: {', '.join(SCHEDULES)})")
    if not lr > 0:
        raise PruningError(f"lr={lr}: must be > 0")
    settings = {"epochs": int(epochs), "optimizer": optimizer, "lr": float(lr),
                "momentum": float(momentum), "weight_decay": float(weight_decay),
                "schedule": schedule, "seed": int(seed), "data": data.name}
    masks = masks.validate(model) if masks is not None else Masks()
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

    show = progress and sys.stderr.isatty()
    gen = getattr(data.train.sampler, "generator", None)
    for epoch in range(start, epochs):
        # Reseed per epoch, so an interrupted run resumes on the same batches and dropout.
        torch.manual_seed(seed * 1_000_003 + epoch)
        if gen is not None:
            gen.manual_seed(seed * 1_000_003 + epoch)
        lr_now = _lr_at(settings, epoch)
        for g in opt.param_groups:
            g["lr"] = lr_now
        model.train()
        loss_sum, correct, n = 0.0, 0, 0
        batches = data.train
        if show:
            from tqdm import tqdm

            batches = tqdm(data.train, desc=f"epoch {epoch + 1}/{epochs}", leave=False)
        for x, y in batches:
            opt.zero_grad(set_to_none=True)
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
            loss.backward()
            opt.step()
            masks.apply(model)
            loss_sum += float(loss.detach()) * int(y.numel())
            correct += int((out.argmax(1) == y).sum())
            n += int(y.numel())
        _, val_acc = evaluate(model, data.val)
        history.append({"epoch": epoch + 1, "lr": lr_now, "train_loss": loss_sum / max(n, 1),
                        "train_acc": correct / max(n, 1), "val_acc": val_acc})
        if show:
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
    cosine schedule, masks held, no checkpoint) when ``epochs > 0``: the fine-tune of the
    methods that prune a trained model once (AUTO-PRUNE's episodes and result, uniform ratios)."""
    m = copy.deepcopy(model)
    masks.apply(m)
    if epochs > 0:
        train(m, data, epochs, lr=lr, masks=masks, seed=seed, progress=False, schedule="cosine")
    return m


def _payload(model: nn.Module, masks: Masks, opt: torch.optim.Optimizer, epoch: int,
             history: list[dict[str, float]], settings: dict[str, Any],
             model_spec: dict[str, Any] | None, data: DataSplits) -> dict[str, Any]:
    return {"model": model_spec, "data": {"name": data.name, "mean": list(data.mean),
                                          "std": list(data.std)},
            "state_dict": model.state_dict(), "masks": masks.to_tensors(),
            "optimizer": opt.state_dict(), "epoch": epoch, "history": history,
            "settings": settings, "rng": {"torch": torch.get_rng_state()}}
