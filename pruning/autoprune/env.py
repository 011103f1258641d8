"""AUTO-PRUNE's environment: one episode prunes and maps every layer once.

1. For layer ``t`` the agent sees a state of features in [0, 1] — layer index, type (conv or
   linear), input and output channels, kernel size, stride, weight count, the crossbars the layer
   occupies when mapped dense, the crossbars saved so far, the dense crossbars still to come, and
   the previous action — and answers a ratio in ``[lower, upper]``.
2. The layer loses that fraction of its groups (:mod:`pruning.groups`, lowest norm per weight
   first; the granularity is any of :mod:`pruning.granularities`, by default ``ou_row``) and is
   mapped with the ``ou`` scheme (:func:`rram_sim.mapping.map_layer`), which gives the crossbars
   it now occupies.
3. After the last layer the masked network is fine-tuned briefly (``episode_finetune_epochs``,
   masks fixed: pruned weights recover part of the loss, so the accuracy judged is the one a
   policy can reach, not the raw damage of cutting), evaluated on the held-out validation split,
   and the episode's reward is computed (:mod:`pruning.autoprune.objective`).

Fine-tunes are reseeded from ``(seed, episode)`` (:func:`episode_seed`), so a resumed or replayed
episode computes exactly what the uninterrupted one did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from torch import nn

from pruning.autoprune.objective import (
    HardwareCost,
    engine_metrics,
    feasible,
    hardware_gains,
    reward,
)
from pruning.autoprune.settings import AutoPruneSettings
from pruning.data import DataSplits
from pruning.errors import PruningError
from pruning.groups import group_scores, make_groups, prune_lowest
from pruning.masks import Masks
from pruning.train import evaluate, masked_copy
from rram_sim.config import Config
from rram_sim.mapping import dense_crossbars, map_layer

STATE_FEATURES = ("layer_index", "is_conv", "in_channels", "out_channels", "kernel", "stride",
                  "weight_count", "dense_crossbars", "crossbars_saved", "crossbars_left",
                  "previous_action")


@dataclass
class Episode:
    """The outcome of one episode (one per-layer policy)."""

    episode: int
    ratios: list[float]
    accuracy: float
    accuracy_drop: float
    crossbars: int
    dense_crossbars: int
    compression_rate: float
    gains: dict[str, float]
    reward: float
    feasible: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def episode_seed(settings: AutoPruneSettings, episode: int) -> int:
    """Seed of an episode's fine-tune (a pure function: resumed and replayed episodes match)."""
    return settings.seed * 1_000_003 + episode


class PruningEnv:
    """Prunes and maps one layer per step; evaluates the network at the end of an episode."""

    def __init__(self, model: nn.Module, data: DataSplits, cfg: Config,
                 settings: AutoPruneSettings, hardware_cost: HardwareCost | None = None) -> None:
        settings.validate()
        needs_engine = engine_metrics(settings.reward_metrics)
        if needs_engine and hardware_cost is None:
            raise PruningError(f"autoprune reward_metrics {needs_engine}: need a hardware cost "
                               "function (the rram_sim engine)")
        self.model, self.data, self.cfg, self.settings = model, data, cfg, settings
        self.hardware_cost = hardware_cost
        self.groups = make_groups(model, settings.granularity, cfg, exclude=settings.exclude)
        if not self.groups:
            raise PruningError("autoprune: the model has no conv or linear layer left to prune")
        self.names = list(self.groups)
        # Per weight: a group cut short by the matrix edge (fewer rows or columns) is not
        # ranked as weak merely for being small.
        self.scores = group_scores(model, self.groups, settings.norm, per_weight=True)
        params = dict(model.named_parameters())
        self.weights = {n: params[n].detach().cpu().numpy().astype(np.float64)
                        for n in self.names}
        self.specs = [self.groups[n].spec for n in self.names]
        self.dense_xb = np.array([dense_crossbars(s, cfg) for s in self.specs], np.int64)
        self.total_dense = int(self.dense_xb.sum())
        self.static = self._static_features()
        self.base_accuracy = evaluate(model, data.val)[1]
        self.base_costs = hardware_cost(Masks()) if needs_engine else {}
        self._xb_cache: dict[tuple[int, int], int] = {}
        self.reset()

    @property
    def n_layers(self) -> int:
        return len(self.names)

    def _static_features(self) -> np.ndarray:
        rows = []
        for i, s in enumerate(self.specs):
            conv = s.kind == "conv"
            rows.append([i, float(conv), s.weight_shape[1], s.weight_shape[0],
                         s.weight_shape[2] if conv else 1, s.stride[0] if conv else 1,
                         int(np.prod(s.weight_shape)), self.dense_xb[i]])
        f = np.array(rows, np.float64)
        lo, span = f.min(axis=0), np.ptp(f, axis=0)
        # min-max per feature over the layers (AMC); a constant feature becomes 0
        return np.where(span > 0, (f - lo) / np.where(span > 0, span, 1.0), 0.0)

    def state(self) -> np.ndarray:
        t = min(self.t, self.n_layers - 1)
        left = int(self.dense_xb[t + 1:].sum()) if self.t < self.n_layers else 0
        dyn = [min(max(self.saved / self.total_dense, 0.0), 1.0), left / self.total_dense,
               self.prev_action]
        return np.concatenate([self.static[t], dyn]).astype(np.float32)

    def reset(self) -> np.ndarray:
        self.t, self.saved, self.prev_action = 0, 0, 0.0
        self.ratios: list[float] = []
        self.crossbars: list[int] = []
        return self.state()

    def layer_masks(self, ratios: dict[str, float]) -> Masks:
        """Masks removing ``ratios[name]`` of each named layer's groups (others whole)."""
        return prune_lowest(self.scores, self.groups, ratios, scope="layer")

    def layer_crossbars(self, i: int, ratio: float) -> int:
        """Crossbars layer ``i`` occupies under the ``ou`` mapping after pruning ``ratio``."""
        name = self.names[i]
        count = int(round(ratio * self.groups[name].n_groups))
        key = (i, count)
        if key not in self._xb_cache:
            mask = self.layer_masks({name: ratio})[name]
            lay = map_layer(self.specs[i], self.weights[name], self.cfg, "ou", mask=mask)
            self._xb_cache[key] = int(lay.n_crossbars)
        return self._xb_cache[key]

    def step(self, action: float) -> tuple[np.ndarray, bool]:
        ratio = float(action)
        xb = self.layer_crossbars(self.t, ratio)
        self.ratios.append(ratio)
        self.crossbars.append(xb)
        self.saved += int(self.dense_xb[self.t]) - xb
        self.prev_action = ratio
        self.t += 1
        return self.state(), self.t == self.n_layers

    def masks_for(self, ratios: list[float]) -> Masks:
        return self.layer_masks(dict(zip(self.names, ratios)))

    def masked_model(self, masks: Masks, finetune_epochs: int, seed: int) -> nn.Module:
        """A copy of the model with ``masks`` applied, fine-tuned ``finetune_epochs`` epochs."""
        return masked_copy(self.model, masks, self.data, finetune_epochs,
                           self.settings.finetune_lr, seed)

    def finish(self, episode: int) -> Episode:
        """Evaluate the episode's policy and compute its reward."""
        s = self.settings
        masks = self.masks_for(self.ratios)
        m = self.masked_model(masks, s.episode_finetune_epochs, episode_seed(s, episode))
        acc = evaluate(m, self.data.val)[1]
        xb = int(sum(self.crossbars))
        costs = self.hardware_cost(masks) if engine_metrics(s.reward_metrics) else {}
        gains = hardware_gains(s.reward_metrics, xb, self.total_dense, costs, self.base_costs)
        drop = self.base_accuracy - acc
        return Episode(episode, list(self.ratios), acc, drop, xb, self.total_dense,
                       self.total_dense / max(xb, 1), gains,
                       reward(acc, self.base_accuracy, gains, s),
                       feasible(acc, self.base_accuracy, s))


__all__ = ["STATE_FEATURES", "Episode", "PruningEnv", "episode_seed"]
