"""``random``: the lottery-ticket control.

ReaLPrune's groups and rates, but the groups removed are chosen at random (seeded by the round):
if it does as well, the magnitude ranking is not what matters.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from pruning.groups import GroupSet
from pruning.methods.round_method import RoundMethod, RoundSettings


class RandomControl(RoundMethod):
    name = "random"
    description = ("random choice of ReaLPrune's groups at ReaLPrune's rates, rewinding "
                   "(lottery-ticket control)")
    Settings = RoundSettings

    def scores(self, model: nn.Module, groups: GroupSet, rng: np.random.Generator
               ) -> dict[str, np.ndarray]:
        """Seeded random numbers: the same groups and counts, a random choice."""
        return {n: rng.random(g.n_groups) + 1e-6 for n, g in groups.items()}
