"""Round methods: what the round runner (:mod:`pruning.realprune`) asks of a method.

The runner trains the dense model (round 0), then, round after round, asks the method how much to
prune (:meth:`RoundMethod.round_fraction`), lets it prune (:meth:`RoundMethod.prune_step`), lets it
decide where the survivors restart training (:meth:`RoundMethod.restart`), and trains them. A
method is its :class:`RoundSettings` defaults plus the hooks it overrides:

- :meth:`~RoundMethod.scores`: how groups are ranked (default: the norm of their weights per
  weight; the ``random`` control draws seeded random numbers);
- :meth:`~RoundMethod.restart`: where survivors start a round (default: the rewind point, the
  lottery ticket; :class:`FineTuneMethod` keeps the trained weights);
- :meth:`~RoundMethod.schedule` and :meth:`~RoundMethod.round_fraction`: how many rounds of how
  many epochs, and the fraction removed per round (default: ``rate`` per round, cut at the
  target; the one-shot ``filter_l1`` goes to the target at once and trains for the whole budget);
- :meth:`~RoundMethod.default_exclude`: the parameters never pruned unless the run names its own
  (default: the first conv and the classifier).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from pruning.errors import require
from pruning.granularities.registry import get_granularity
from pruning.groups import (
    NORMS,
    GroupSet,
    couple_batchnorm,
    group_scores,
    make_groups,
    prune_lowest,
)
from pruning.hardware import weight_masks
from pruning.masks import Masks, prunable_names
from pruning.methods.base import PruningMethod
from rram_sim.config import Config

SCOPES = ("layer", "global")


@dataclass(frozen=True)
class RoundSettings:
    """What a round method is told (the defaults are ReaLPrune's).

    ``granularity`` names the group kinds (:mod:`pruning.granularities`; several are combined:
    they take turns within a round); ``norm`` ranks groups; ``scope`` ranks them per layer or
    over the network; ``rate`` is the fraction of the remaining groups removed per round;
    ``floor`` the minimum fraction of each layer's groups always kept; ``exclude`` the parameter
    names never pruned (None: :meth:`RoundMethod.default_exclude`).
    """

    granularity: tuple[str, ...] = ("row_segment", "col_segment")
    norm: str = "l1"
    scope: str = "layer"
    rate: float = 0.2
    floor: float = 0.02
    exclude: tuple[str, ...] | None = None

    def validate(self) -> None:
        require(self.scope in SCOPES, "scope", self.scope, f"must be one of {', '.join(SCOPES)}")
        require(self.norm in NORMS, "norm", self.norm, f"must be one of {', '.join(NORMS)}")
        require(0 < self.rate < 1, "rate", self.rate, "must be in (0, 1)")
        require(0 <= self.floor < 1, "floor", self.floor, "must be in [0, 1)")
        require(len(self.granularity) >= 1, "granularity", self.granularity,
                "must name at least one group kind")
        for kind in self.granularity:
            get_granularity(kind)   # an unknown kind fails here, naming the known ones


def first_conv_and_classifier(model: nn.Module) -> tuple[str, ...]:
    """The first conv (few weights, sees raw pixels) and the classifier (its output columns are
    the classes: a filter-like group there deletes a class)."""
    names = prunable_names(model)
    params = dict(model.named_parameters())
    convs = [n for n in names if params[n].dim() == 4]
    linears = [n for n in names if params[n].dim() == 2]
    return tuple(dict.fromkeys(convs[:1] + linears[-1:]))


def fraction_to_target(masks: Masks, exclude: tuple[str, ...] | None,
                       target_sparsity: float) -> float:
    """Fraction of the remaining prunable weights that must go to reach ``target_sparsity``
    (negative past it); BatchNorm and bias masks do not count."""
    excluded = set(exclude or ())
    masks = weight_masks(masks)
    kept = sum(int(m.sum()) for _, m in masks.items())
    total = sum(int(m.size) for _, m in masks.items())
    kept_prunable = sum(int(m.sum()) for n, m in masks.items() if n not in excluded)
    return (kept - (1.0 - target_sparsity) * total) / max(kept_prunable, 1)


def _dead_groups(g: Any, mask: np.ndarray) -> np.ndarray:
    """bool [n_groups]: groups none of whose weights the mask keeps (already removed)."""
    gid = g.group_id.ravel()
    sel = gid >= 0
    alive = np.bincount(gid[sel], weights=mask.ravel()[sel].astype(np.float64),
                        minlength=g.n_groups)
    return alive == 0


class RoundMethod(PruningMethod):
    """A method executed round by round by :func:`pruning.realprune.run` (lottery ticket by
    default: survivors rewind)."""

    family: ClassVar[str] = "round"
    Settings: ClassVar[type] = RoundSettings

    # -- hooks ----------------------------------------------------------------------------------

    def default_exclude(self, model: nn.Module) -> tuple[str, ...]:
        """Parameters never pruned unless the run names its own."""
        return first_conv_and_classifier(model)

    def schedule(self, rounds: int, epochs: int) -> tuple[int, int]:
        """``(pruning rounds, training epochs per pruning round)`` for a run of ``rounds`` rounds
        of ``epochs`` epochs."""
        return rounds, epochs

    def round_fraction(self, masks: Masks, target_sparsity: float) -> float:
        """Fraction of the remaining prunable weights to remove this round: the rate, cut so that
        the run stops at the target sparsity."""
        need = fraction_to_target(masks, self.settings.exclude, target_sparsity)
        return float(min(self.settings.rate, max(need, 0.0)))

    def scores(self, model: nn.Module, groups: GroupSet, rng: np.random.Generator
               ) -> dict[str, np.ndarray]:
        """Score of every group (the lowest go first): the norm per weight, so that the smaller
        groups at a matrix edge are not removed first for being small."""
        return group_scores(model, groups, self.settings.norm, per_weight=True)

    def restart(self, model: nn.Module, rewind_point: Callable[[], dict[str, torch.Tensor]]
                ) -> None:
        """Set the weights the survivors of a round train from: the rewind point (the lottery
        ticket). ``model`` holds the previous round's trained weights, masked."""
        model.load_state_dict(rewind_point())

    # -- the pruning step -----------------------------------------------------------------------

    def prune_step(self, model: nn.Module, masks: Masks, cfg: Config, fraction: float,
                   seed: int) -> Masks:
        """Remove the lowest-scoring ``fraction`` of the groups still present; return the masks.

        The model's weights must already be masked. With several granularities (ReaLPrune's row
        and column segments) the kinds take turns, each removing ``1 - (1 - fraction) ** (1 /
        kinds)`` of its remaining groups, scored on the weights the previous kind left, so about
        ``fraction`` of the weights go in all. A layer always keeps ``floor`` of its groups.
        Groups are ranked per layer or, with ``scope="global"``, all layers together.

        The result keeps every name of ``masks`` (in order) and adds the masks pruning creates on
        other parameters: the BatchNorm and consumer-slice masks of coupled filter / channel
        groups (:class:`pruning.groups.GroupSet`), and the BatchNorm of every conv whose filters
        are all gone (:func:`pruning.groups.couple_batchnorm`: a removed filter's channel is then
        exactly zero instead of its BatchNorm's constant shift).
        """
        s = self.settings
        order = masks.names()
        kinds = tuple(s.granularity or ())
        per_kind = 1.0 - (1.0 - fraction) ** (1.0 / max(len(kinds), 1))
        params = dict(model.named_parameters())
        rng = np.random.default_rng(seed)
        for kind in kinds:
            groups = make_groups(model, kind, cfg, exclude=tuple(s.exclude or ()))
            scores = self.scores(model, groups, rng)
            dead = {n: _dead_groups(g, masks[n]) for n, g in groups.items()}
            # removed groups sort first, whatever their score (random scores, exact zeros)
            scores = {n: np.where(dead[n], -1.0, scores[n]) for n in groups}
            n_dead = {n: int(d.sum()) for n, d in dead.items()}
            if s.scope == "global":
                names = list(groups)
                flat = np.concatenate([scores[n] for n in names])
                owner = np.concatenate([np.full(groups[n].n_groups, i)
                                        for i, n in enumerate(names)])
                live = int(len(flat) - sum(n_dead.values()))
                pick = np.argsort(flat, kind="stable")[:sum(n_dead.values())
                                                        + int(round(per_kind * live))]
                counts = np.bincount(owner[pick], minlength=len(names))
                want = {n: int(counts[i]) for i, n in enumerate(names)}
            else:
                want = {n: n_dead[n] + int(round(per_kind * (g.n_groups - n_dead[n])))
                        for n, g in groups.items()}
            fractions = {}
            for n, g in groups.items():
                cap = max(n_dead[n], int(math.floor((1.0 - s.floor) * g.n_groups)))
                fractions[n] = min(want[n], cap) / g.n_groups
            masks = prune_lowest(scores, groups, fractions, scope="layer", masks=masks)
            with_mask = masks.to_tensors()
            for n, t in with_mask.items():  # the next kind scores what this one left
                params[n].data.mul_(t.to(params[n].dtype))
        if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
            masks = couple_batchnorm(model, masks)
            masks.apply(model)
        extra = [n for n in masks.names() if n not in order]
        return Masks({n: masks[n] for n in order + extra})


class FineTuneMethod(RoundMethod):
    """A round method whose survivors continue from the previous round's trained weights
    (fine-tuned) instead of rewinding."""

    def restart(self, model: nn.Module, rewind_point: Callable[[], dict[str, torch.Tensor]]
                ) -> None:
        """Keep the trained weights (``model`` already holds them, masked)."""


__all__ = ["SCOPES", "FineTuneMethod", "RoundMethod", "RoundSettings", "first_conv_and_classifier",
           "fraction_to_target"]
