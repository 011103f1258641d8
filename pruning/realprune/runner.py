"""The round runner: iterative pruning, one resumable round at a time.

1. Round 0 trains the dense model from its initial weights (or from the *rewind point*, the
   weights after ``rewind_epochs`` epochs of training, "late rewinding").
2. Round ``r`` asks the method for the fraction to remove (its rate, cut at the target sparsity),
   lets it prune the previous round's trained weights (:meth:`RoundMethod.prune_step`: score the
   groups, remove the lowest, keep a floor per layer), lets it choose where the survivors restart
   (the rewind point for a lottery ticket, the trained weights for a fine-tuning method) and
   trains them.
3. The stop rule (:mod:`pruning.realprune.stop`) ends the run at the target sparsity, after the
   method's number of rounds, when the fraction left rounds to no group, or when the validation
   accuracy drops more than ``tolerance`` below the dense model's; the ticket is the last round
   within tolerance.

Each round reports the weights remaining, the crossbars occupied under the dense and the compact
mapping of its mask (:mod:`pruning.hardware`, on the training chip), the hardware reduction and
the accuracy, and is saved in its own folder (:mod:`pruning.rounds`): a finished round is read,
never recomputed, and a killed round resumes from its last finished epoch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from pruning.data import DataSplits, get_data
from pruning.errors import PruningError
from pruning.hardware import hardware_report
from pruning.masks import Masks, prunable_names
from pruning.models import build_model
from pruning.realprune.results import PruneRun
from pruning.realprune.settings import PruneSettings
from pruning.realprune.stop import removed_nothing, stop_before, within_tolerance
from pruning.rounds import INIT_FILE, REWIND_FILE, RunFolder, load_state, save_state
from pruning.train import evaluate, seed_everything, train
from rram_sim import config as rconfig
from rram_sim.config import Config

RUN_FORMAT = 1


def _log(settings: PruneSettings, msg: str) -> None:
    if settings.progress:
        print(msg, file=sys.stderr)


def run(settings: PruneSettings, out: str | os.PathLike,
        data: DataSplits | None = None,
        on_round: Callable[[dict[str, Any]], None] | None = None) -> PruneRun:
    """Run (or resume) a pruning run in folder ``out``; finished rounds are read, not recomputed."""
    s = settings.resolved()
    method = s.make_method()
    cfg = rconfig.load(s.chip)
    if data is None:
        data = get_data(s.data, s.data_root, batch_size=s.batch_size, seed=s.seed)
    spec = {"name": s.model, "num_classes": data.num_classes, "in_channels": data.in_channels,
            "width": s.width, "image_size": data.image_size}

    seed_everything(s.seed, threads=s.threads)
    model = build_model(**spec)
    if s.exclude is None:
        s.exclude = method.default_exclude(model)
        method = s.make_method()
    unknown = [n for n in s.exclude if n not in dict(model.named_parameters())]
    if unknown:
        raise PruningError(f"exclude: '{unknown[0]}' is not a parameter of model '{s.model}' "
                           f"(prunable: {', '.join(prunable_names(model))})")
    folder = RunFolder(out, {"format": RUN_FORMAT, **s.identity()}).open()
    result = PruneRun(Path(out), s)
    n_rounds, epochs = method.schedule(s.rounds, s.epochs)

    # Round 0: the dense model, trained from the rewind point; saves the points rounds rewind to.
    r0 = folder.round_path(0)
    if not folder.is_complete(0):
        _log(s, f"round 0: dense {s.model} on {s.data}")
        r0.mkdir(parents=True, exist_ok=True)
        if not (r0 / REWIND_FILE).is_file():
            save_state(r0 / INIT_FILE, model.state_dict())
            if s.rewind_epochs:
                train(model, data, s.rewind_epochs, optimizer=s.optimizer, lr=s.lr,
                      schedule="constant", seed=s.seed, checkpoint_dir=r0 / "rewind",
                      progress=s.progress, model_spec=spec)
            save_state(r0 / REWIND_FILE, model.state_dict())
        model.load_state_dict(load_state(r0 / REWIND_FILE))
        masks = Masks.ones_like(model)
        _finish_round(folder, 0, model, masks, data, s, cfg, spec, s.epochs, None, result)
    result.rounds.append(folder.load(0).report)
    if on_round:
        on_round(result.rounds[-1])

    dense_val = result.dense["val_acc"]
    for r in range(1, n_rounds + 1):
        prev = folder.load(r - 1)
        if not folder.is_complete(r):
            if stop_before(prev.report, s.target_sparsity):
                break
            fraction = method.round_fraction(prev.masks, s.target_sparsity)
            if fraction <= 0:
                break
            _log(s, f"round {r}: prune {fraction:.1%} of the remaining groups ({s.method})")
            model.load_state_dict(prev.weights())
            prev.masks.apply(model)
            masks = method.prune_step(model, prev.masks, cfg, fraction, seed=s.seed * 7919 + r)
            if removed_nothing(fraction, method.settings.rate, masks, prev.masks):
                break  # the fraction left to the target rounds to no group: nothing to prune
            method.restart(model, lambda: load_state(r0 / REWIND_FILE))
            _finish_round(folder, r, model, masks, data, s, cfg, spec, epochs, dense_val, result)
        result.rounds.append(folder.load(r).report)
        if on_round:
            on_round(result.rounds[-1])
    return result


def _finish_round(folder: RunFolder, r: int, model: nn.Module, masks: Masks, data: DataSplits,
                  s: PruneSettings, cfg: Config, spec: dict[str, Any], epochs: int,
                  dense_val: float | None, result: PruneRun) -> None:
    """Train round ``r`` (resuming its checkpoint if any), measure it and mark it complete."""
    tr = train(model, data, epochs, optimizer=s.optimizer, lr=s.lr, masks=masks,
               seed=s.seed + 1000 * r, checkpoint_dir=folder.checkpoint_dir(r),
               progress=s.progress, model_spec=spec)
    _, test_acc = evaluate(model, data.test)
    hw = hardware_report(masks, cfg)
    base = tr.val_acc if dense_val is None else dense_val
    report = {
        "round": r, "method": s.method, "model": s.model, "data": s.data, "chip": cfg.name,
        "granularity": list(s.granularity or ()), "epochs": epochs,
        "val_acc": tr.val_acc, "test_acc": test_acc, "dense_val_acc": base,
        "accuracy_change": tr.val_acc - base,
        "within_tolerance": within_tolerance(tr.val_acc, base, s.tolerance),
        **hw,
    }
    folder.save(r, masks, report)
    result.computed.append(r)
    _log(s, f"round {r}: sparsity {hw['sparsity']:.1%}, crossbars {hw['crossbars_compact']}/"
            f"{hw['crossbars_dense']}, val acc {tr.val_acc:.3f}")


__all__ = ["RUN_FORMAT", "run"]
