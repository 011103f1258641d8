"""The outcome of a round run, and finished rounds read back from its folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from pruning.checkpoint import model_from_checkpoint
from pruning.errors import PruningError
from pruning.masks import Masks
from pruning.realprune.settings import PruneSettings
from pruning.realprune.stop import ticket
from pruning.rounds import RunFolder


@dataclass
class PruneRun:
    """The outcome of a run: one report per finished round and the chosen ticket."""

    path: Path
    settings: PruneSettings
    rounds: list[dict[str, Any]] = field(default_factory=list)
    computed: list[int] = field(default_factory=list)   # rounds computed by this call

    @property
    def dense(self) -> dict[str, Any]:
        return self.rounds[0]

    @property
    def ticket(self) -> dict[str, Any]:
        """The sparsest round whose accuracy stayed within tolerance (round 0 if none)."""
        return ticket(self.rounds)


def load_round_model(path: str | os.PathLike, index: int | None = None
                     ) -> tuple[nn.Module, Masks, dict[str, Any]]:
    """The trained, masked model of a finished round (default: the run's ticket)."""
    folder_path = Path(path)
    reports = RunFolder(folder_path, {}).reports()
    if not reports:
        raise PruningError(f"{folder_path}: no finished pruning round")
    if index is None:
        index = ticket(reports)["round"]
    if not 0 <= index < len(reports):
        raise PruningError(f"{folder_path}: round {index} is not finished "
                           f"(rounds 0..{len(reports) - 1} are)")
    rec = RunFolder(folder_path, {}).load(index)
    model, _, _ = model_from_checkpoint(rec.checkpoint_dir)
    rec.masks.validate(model).apply(model)
    return model, rec.masks, rec.report


__all__ = ["PruneRun", "load_round_model"]
