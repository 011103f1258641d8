"""AUTO-PRUNE's reward: hardware gains and the accuracy constraint.

With ``acc0`` the unpruned validation accuracy, ``acc`` the pruned one, ``eps`` the allowed loss
and ``G_m`` the gain of hardware metric ``m`` (dense cost / pruned cost: the compression rate of
occupied crossbars for ``crossbars``; the energy per inference or the latency of the mapped model
from the :mod:`rram_sim` engine for ``energy`` / ``latency``)::

    R = sum_m log2(G_m) + accuracy_weight * (acc - acc0) - penalty * max(0, acc0 - acc - eps)

Doubling the compression rate is worth one unit of reward; with the default ``penalty = 20``
each 5 points of accuracy lost beyond the allowance cost one unit (10 points over cost as much as
a 4x compression gains). That is mild enough that the agent keeps probing the constraint's
boundary, where the compressing policies are, instead of retreating to light
pruning (with ``penalty = 100`` and whole-``ou`` groups the CI-size search settled on lighter
policies; docs/autoprune.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from pruning.autoprune.settings import AutoPruneSettings
from pruning.masks import Masks

# A hardware cost function: (masks) -> {"energy": pJ per inference, "latency": ns per inference}.
HardwareCost = Callable[[Masks], dict[str, float]]


def engine_metrics(metrics: Sequence[str]) -> list[str]:
    """The reward metrics the rram_sim engine must measure (all but ``crossbars``)."""
    return [m for m in metrics if m != "crossbars"]


def hardware_gains(metrics: Sequence[str], crossbars: int, dense_crossbars: int,
                   costs: dict[str, float], base_costs: dict[str, float]) -> dict[str, float]:
    """Gain of each reward metric, ``crossbars`` first: dense crossbars / occupied ones, and
    unpruned / pruned engine cost for the others."""
    gains = {}
    if "crossbars" in metrics:
        gains["crossbars"] = dense_crossbars / max(crossbars, 1)
    for k in engine_metrics(metrics):
        gains[k] = base_costs[k] / max(costs[k], 1e-30)
    return gains


def reward(accuracy: float, base_accuracy: float, gains: dict[str, float],
           settings: AutoPruneSettings) -> float:
    """The episode reward (formula in the module docstring); ``gains`` by metric name, each > 0."""
    hw = sum(math.log2(g) for g in gains.values())
    excess = max(0.0, base_accuracy - accuracy - settings.accuracy_loss)
    return hw + settings.accuracy_weight * (accuracy - base_accuracy) - settings.penalty * excess


def feasible(accuracy: float, base_accuracy: float, settings: AutoPruneSettings) -> bool:
    """Whether an accuracy meets the constraint (a drop of at most ``accuracy_loss``)."""
    return base_accuracy - accuracy <= settings.accuracy_loss + 1e-12


__all__ = ["HardwareCost", "engine_metrics", "feasible", "hardware_gains", "reward"]
