"""``uniform``: every layer loses the same fraction of its groups (AUTO-PRUNE's baseline).

The same groups, ranking and fine-tune as AUTO-PRUNE (``ou_row`` groups by their L1 norm per
weight, a cosine SGD fine-tune with the masks held), but one ratio for every layer instead of a
learned policy: the benchmark gives it AUTO-PRUNE's mean ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from pruning.data import DataSplits
from pruning.errors import require
from pruning.granularities.registry import get_granularity
from pruning.groups import NORMS, group_scores, make_groups, prune_lowest
from pruning.methods.base import ModelMethod, PrunedModel
from pruning.train import masked_copy
from rram_sim.config import Config


@dataclass(frozen=True)
class UniformSettings:
    ratio: float = 0.5                   # fraction of each layer's groups removed
    granularity: str = "ou_row"
    norm: str = "l1"
    exclude: tuple[str, ...] = ()        # parameter names never pruned
    finetune_epochs: int = 3
    finetune_lr: float = 0.05
    seed: int = 0                        # seed of the fine-tune

    def validate(self) -> None:
        require(0.0 <= self.ratio <= 1.0, "ratio", self.ratio, "must be in [0, 1]")
        require(self.norm in NORMS, "norm", self.norm, f"must be one of {', '.join(NORMS)}")
        require(self.finetune_epochs >= 0, "finetune_epochs", self.finetune_epochs,
                "must be >= 0")
        require(self.finetune_lr > 0, "finetune_lr", self.finetune_lr, "must be > 0")
        get_granularity(self.granularity)


class Uniform(ModelMethod):
    name = "uniform"
    description = "the same ratio of groups removed from every layer, fine-tuned"
    Settings = UniformSettings

    def prune(self, model: nn.Module, data: DataSplits, cfg: Config, out: Any = None,
              **kwargs: Any) -> PrunedModel:
        """Prune every layer of ``model`` at ``ratio`` and fine-tune a copy (``out`` unused)."""
        s = self.settings
        groups = make_groups(model, s.granularity, cfg, exclude=s.exclude)
        scores = group_scores(model, groups, s.norm, per_weight=True)
        ratios = {n: s.ratio for n in groups}
        masks = prune_lowest(scores, groups, ratios, scope="layer")
        pruned = masked_copy(model, masks, data, s.finetune_epochs, s.finetune_lr, s.seed)
        return PrunedModel(pruned, masks, ratios)
