"""``autoprune``: AUTO-PRUNE (Yang et al., ICS 2021) as a registry entry.

A DDPG agent picks each layer's pruning ratio for an already-trained model under an accuracy-loss
constraint, rewarded by hardware gains; the best policy is fine-tuned and exported as an ``ou``
bundle. The settings are :class:`~pruning.autoprune.settings.AutoPruneSettings`; the environment,
reward, search, finalization and output files live in :mod:`pruning.autoprune`.
"""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from pruning.autoprune.finalization import AutoPruneResult
from pruning.autoprune.objective import HardwareCost, engine_metrics
from pruning.autoprune.pipeline import autoprune
from pruning.autoprune.settings import AutoPruneSettings
from pruning.autoprune.simulation import engine_cost
from pruning.data import DataSplits
from pruning.errors import PruningError
from pruning.methods.base import ModelMethod
from rram_sim.config import Config


class AutoPrune(ModelMethod):
    name = "autoprune"
    description = ("AUTO-PRUNE: per-layer ratios learned by a DDPG agent under an accuracy-loss "
                   "constraint, hardware reward")
    Settings = AutoPruneSettings

    def prune(self, model: nn.Module, data: DataSplits, cfg: Config,
              out: str | os.PathLike | None = None, *, model_spec: dict[str, Any] | None = None,
              hardware_cost: HardwareCost | None = None, progress: bool = False,
              export: bool = True) -> AutoPruneResult:
        """Search, finalize and write the run folder ``out`` (resumable: see
        :func:`pruning.autoprune.autoprune`). When the reward needs the engine (``energy`` /
        ``latency``) and no ``hardware_cost`` is given, the engine is run on the first validation
        image."""
        if out is None:
            raise PruningError("autoprune: needs an output folder (its search is resumable)")
        if hardware_cost is None and engine_metrics(self.settings.reward_metrics):
            x, _ = next(iter(data.val))
            hardware_cost = engine_cost(model, cfg, x[:1])
        return autoprune(model, data, cfg, self.settings, out, model_spec=model_spec,
                         hardware_cost=hardware_cost, progress=progress, export=export)
