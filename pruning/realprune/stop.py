"""When a round run stops, and which round is its ticket.

Before pruning round ``r`` the run stops when round ``r - 1`` fell out of the accuracy tolerance
(its validation accuracy more than ``tolerance`` below the dense model's), when it reached the
target sparsity, or when the fraction the method would remove is zero; after pruning, it stops
when a round cut short of the rate (the fraction left to the target) removed no group at all — the
fraction rounds to nothing. A full-rate round that removes nothing (at the floor) does not stop it.
The *ticket* is the sparsest round within tolerance (round 0, the dense model, if none is).
"""

from __future__ import annotations

import math
from typing import Any

from pruning.hardware import weight_masks
from pruning.masks import Masks


def within_tolerance(val_acc: float, dense_val_acc: float, tolerance: float) -> bool:
    return bool(val_acc >= dense_val_acc - tolerance - 1e-12)


def stop_before(previous: dict[str, Any], target_sparsity: float) -> bool:
    """Whether to stop before pruning again, given the previous round's report."""
    if not previous["within_tolerance"]:
        return True
    return previous["sparsity"] >= target_sparsity - 1e-9


def removed_nothing(fraction: float, rate: float, masks: Masks, previous: Masks) -> bool:
    """Whether a round cut short of ``rate`` left every crossbar weight as it was."""
    return fraction < rate and weight_masks(masks) == weight_masks(previous)


def ticket(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The sparsest round report within tolerance (round 0 if none)."""
    ok = [r for r in rounds if r["within_tolerance"]]
    return ok[-1] if ok else rounds[0]


def rounds_needed(rate: float, target: float) -> int:
    """Rounds of ``rate`` per round to reach ``target`` sparsity: ``ceil(log(1-t)/log(1-r))``."""
    return math.ceil(math.log(1.0 - target) / math.log(1.0 - rate) - 1e-9)


__all__ = ["removed_nothing", "rounds_needed", "stop_before", "ticket", "within_tolerance"]
