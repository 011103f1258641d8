"""AUTO-PRUNE's settings: what the search optimizes and how (defaults: CI-sized)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pruning.ddpg import DdpgConfig
from pruning.errors import PruningError
from pruning.granularities.registry import granularity_names

REWARD_METRICS = ("crossbars", "energy", "latency")
# The CI-size search (digits_cnn on digits, edge chip): EPISODES episodes, the first
# warmup_episodes of them random; the agent then learns for the rest (docs/autoprune.md).
EPISODES = 40
AGENT = DdpgConfig(hidden=64, lr_actor=1e-3, lr_critic=1e-2, batch_size=32, replay_size=1000,
                   warmup_episodes=10, delta_decay=0.95)


@dataclass(frozen=True)
class AutoPruneSettings:
    """What the search optimizes and how (defaults: CI-sized; see docs/autoprune.md)."""

    accuracy_loss: float = 0.01          # allowed validation accuracy drop (0.01 = 1 point)
    episodes: int = EPISODES             # search episodes (each prunes every layer once)
    lower: float = 0.0                   # smallest per-layer pruning ratio
    upper: float = 0.8                   # largest per-layer pruning ratio
    granularity: str = "ou_row"          # a pruning.granularities name ("ou_row", "ou", ...)
    norm: str = "l1"                     # group ranking norm (l1, l2), per weight of the group
    exclude: tuple[str, ...] = ()        # parameter names never pruned
    reward_metrics: tuple[str, ...] = ("crossbars",)   # hardware gains in the reward
    accuracy_weight: float = 1.0         # reward per unit of accuracy change
    penalty: float = 20.0                # reward lost per unit of drop beyond the allowance
    episode_finetune_epochs: int = 2     # fine-tune epochs inside each episode before evaluation
    finetune_epochs: int = 3             # fine-tune epochs of the best policy
    finetune_lr: float = 0.05            # SGD learning rate of both fine-tunes
    seed: int = 0
    ddpg: DdpgConfig = field(default_factory=lambda: AGENT)

    def validate(self) -> None:
        def need(ok: bool, key: str, rule: str) -> None:
            if not ok:
                raise PruningError(f"autoprune {key}={getattr(self, key)!r}: {rule}")

        need(0.0 <= self.accuracy_loss < 1.0, "accuracy_loss", "must be in [0, 1)")
        need(self.episodes >= 1, "episodes", "must be >= 1")
        need(0.0 <= self.lower < self.upper <= 1.0, "lower", f"need 0 <= lower < upper={self.upper}"
             " <= 1")
        need(self.granularity in granularity_names(), "granularity",
             f"must be one of {', '.join(granularity_names())}")
        need(len(self.reward_metrics) >= 1 and all(m in REWARD_METRICS
                                                    for m in self.reward_metrics),
             "reward_metrics", f"must be one or more of {', '.join(REWARD_METRICS)}")
        need(self.penalty >= 0, "penalty", "must be >= 0")
        need(self.episode_finetune_epochs >= 0, "episode_finetune_epochs", "must be >= 0")
        need(self.finetune_epochs >= 0, "finetune_epochs", "must be >= 0")
        need(self.finetune_lr > 0, "finetune_lr", "must be > 0")
        try:
            self.ddpg.validate()
        except ValueError as exc:
            raise PruningError(f"autoprune {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["exclude"], d["reward_metrics"] = list(self.exclude), list(self.reward_metrics)
        return d


__all__ = ["AGENT", "EPISODES", "REWARD_METRICS", "AutoPruneSettings"]
