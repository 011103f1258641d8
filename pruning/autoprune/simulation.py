"""AUTO-PRUNE's engine figures: a masked model mapped ``ou`` and simulated by rram_sim.

The ``energy`` and ``latency`` reward metrics need the inference cost of every policy the agent
tries: :func:`engine_cost` wraps :func:`simulate_ou` (one export without golden vectors and one
simulated inference) as a :data:`~pruning.autoprune.objective.HardwareCost`. The benchmark
(``benchmarks/bench_autoprune.py``) reads its area and throughput figures from here too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pruning.autoprune.objective import HardwareCost
from pruning.export import export_bundle
from pruning.masks import Masks
from rram_sim.config import Config


def simulate_ou(model: nn.Module, masks: Masks, cfg: Config, sample_input: torch.Tensor,
                bundle: Any = None) -> dict[str, float]:
    """Inference figures of the masked model mapped ``ou`` on ``cfg``, from the rram_sim engine:
    ``energy`` (pJ per inference), ``latency`` (ns), ``throughput`` (inferences/s), ``area_mm2``
    (tiles used x tile area, index datapath included as the engine counts it)."""
    from rram_sim.simulate import simulate

    if bundle is None:
        bundle = export_bundle(model, masks, cfg, "ou", sample_input[:1], golden=False)
    rep = simulate(bundle, cfg, "inference", batch=1)
    run = rep.runs["inference"]
    return {"energy": float(run["energy_per_item_pj"]), "latency": float(run["latency_ns"]),
            "throughput": float(run["throughput_per_s"]),
            "area_mm2": float(run["tiles_used"] * rep.area["tile_area_mm2"])}


def engine_cost(model: nn.Module, cfg: Config, sample_input: torch.Tensor) -> HardwareCost:
    """A :data:`HardwareCost` for the ``energy`` / ``latency`` reward metrics."""
    return lambda masks: simulate_ou(model, masks, cfg, sample_input)


__all__ = ["engine_cost", "simulate_ou"]
