"""``filter_l1``: filter pruning by L1 norm (Li et al., 2017), one shot.

The filters are removed straight to the target sparsity in one round (capped by the floor), and
the pruned model is fine-tuned for the whole training budget (``rounds x epochs``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pruning.masks import Masks
from pruning.methods.round_method import FineTuneMethod, RoundSettings, fraction_to_target


@dataclass(frozen=True)
class FilterSettings(RoundSettings):
    granularity: tuple[str, ...] = ("filter",)


class FilterL1(FineTuneMethod):
    name = "filter_l1"
    description = "filter pruning by L1 norm, one shot to the target, fine-tuned"
    Settings = FilterSettings

    def schedule(self, rounds: int, epochs: int) -> tuple[int, int]:
        """One pruning round, trained for the whole budget."""
        return 1, epochs * max(rounds, 1)

    def round_fraction(self, masks: Masks, target_sparsity: float) -> float:
        """Straight to the target, never below the floor."""
        need = fraction_to_target(masks, self.settings.exclude, target_sparsity)
        return float(min(max(need, 0.0), 1.0 - self.settings.floor))
