"""Rounds: one folder per pruning round, so that a killed run resumes at the round it was in.

Iterative pruning (ReaLPrune, the lottery-ticket baselines) is a chain of rounds; round ``r`` needs
only what round ``r - 1`` left behind (its mask and trained weights) plus the run's rewind point.
A run folder therefore holds::

    RUN/run.json            the settings that define the run (checked on resume)
    RUN/round_00/           the dense round: init.pt (initial weights), rewind.pt (rewind point)
    RUN/round_RR/mask.npz   the round's mask (and mask.json, its sparsity report)
    RUN/round_RR/train/checkpoint.pt  the round's training checkpoint: trained weights, mask,
                            optimizer and model description (``rram-prune evaluate/export`` read it)
    RUN/round_RR/report.json  the round's report; written last, so it marks the round complete

Every file is written atomically. A round whose ``report.json`` exists is never recomputed; a round
without it (killed mid-way) continues from its training checkpoint after the last finished epoch.
The settings that change what a round computes (model, data, method, rate, seed, ...) must equal
those in ``run.json``; the stop criteria (number of rounds, target sparsity, tolerance) may
change, so a 2-round run can be extended to 3 rounds in the same folder and only round 3 is
computed.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pruning.checkpoint import CHECKPOINT_NAME, load_checkpoint
from pruning.errors import CheckpointError
from pruning.masks import Masks
from rram_sim.fileio import atomic_write_bytes, atomic_write_json

RUN_FILE = "run.json"
REPORT_FILE = "report.json"
MASK_FILE = "mask.npz"
TRAIN_DIR = "train"
INIT_FILE = "init.pt"
REWIND_FILE = "rewind.pt"


def save_state(path: str | os.PathLike, state: dict[str, torch.Tensor]) -> None:
    """Write a tensor dict (a ``state_dict``) atomically."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in state.items()}, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a tensor dict written by :func:`save_state` (``weights_only=True``: no pickle)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such weights file")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise CheckpointError(f"{p}: not a readable weights file ({exc.__class__.__name__})") \
            from None


@dataclass
class RoundRecord:
    """A finished round as read back from its folder."""

    index: int
    path: Path
    masks: Masks
    report: dict[str, Any]

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / TRAIN_DIR

    def weights(self) -> dict[str, torch.Tensor]:
        """The round's trained weights (the ``state_dict`` of its training checkpoint)."""
        return load_checkpoint(self.checkpoint_dir)["state_dict"]


class RunFolder:
    """The folder of one pruning run: its settings and one sub-folder per round."""

    def __init__(self, root: str | os.PathLike, settings: dict[str, Any]) -> None:
        self.root = Path(root)
        # JSON round trip so that tuples and lists compare equal to what was stored.
        self.settings = json.loads(json.dumps(settings))

    def open(self) -> RunFolder:
        """Create the folder, or check that an existing one was made with the same settings."""
        path = self.root / RUN_FILE
        if path.is_file():
            try:
                stored = json.loads(path.read_text())
            except json.JSONDecodeError:
                raise CheckpointError(f"{path}: corrupt run settings (not JSON)") from None
            for key in sorted(set(stored) | set(self.settings)):
                if stored.get(key) != self.settings.get(key):
                    raise CheckpointError(
                        f"{self.root}: run folder was made with {key}={stored.get(key)!r}, not "
                        f"{self.settings.get(key)!r}; use a new output folder to change it")
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, self.settings)
        return self

    def round_path(self, index: int) -> Path:
        return self.root / f"round_{index:02d}"

    def is_complete(self, index: int) -> bool:
        return (self.round_path(index) / REPORT_FILE).is_file()

    def completed(self) -> list[int]:
        """Indices of the finished rounds, 0, 1, ... up to the first missing one."""
        out = []
        while self.is_complete(len(out)):
            out.append(len(out))
        return out

    def load(self, index: int) -> RoundRecord:
        path = self.round_path(index)
        if not self.is_complete(index):
            raise CheckpointError(f"{path}: round {index} is not complete")
        try:
            report = json.loads((path / REPORT_FILE).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise CheckpointError(f"{path / REPORT_FILE}: corrupt round report") from None
        if not isinstance(report, dict):
            raise CheckpointError(f"{path / REPORT_FILE}: round report must be a JSON object, "
                                  f"got {type(report).__name__}")
        return RoundRecord(index, path, Masks.load(path / MASK_FILE), report)

    def checkpoint_dir(self, index: int) -> Path:
        """Where round ``index`` trains (its training checkpoint survives a kill)."""
        return self.round_path(index) / TRAIN_DIR

    def save(self, index: int, masks: Masks, report: dict[str, Any]) -> RoundRecord:
        """Write the mask, then the report (last: its presence marks the round complete). The
        round's weights are already in its training checkpoint."""
        path = self.round_path(index)
        if not (path / TRAIN_DIR / CHECKPOINT_NAME).is_file():
            raise CheckpointError(f"{path}: round {index} has no training checkpoint to finish")
        masks.save(path / MASK_FILE)
        atomic_write_json(path / REPORT_FILE, report)
        return RoundRecord(index, path, masks, report)

    def reports(self) -> list[dict[str, Any]]:
        return [self.load(i).report for i in self.completed()]
