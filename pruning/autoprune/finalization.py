"""AUTO-PRUNE's result: the best policy applied, fine-tuned, and backed off until it holds.

The best policy is applied and the model fine-tuned with the masks fixed; of that model, the one
the search evaluated for the policy (same fine-tune, same seed) and the un-fine-tuned one, the
most accurate within the allowance on the validation split is returned; if none is, the policy is
scaled by 1/2, 1/4, then 0 — so the returned model always meets the constraint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from pruning.autoprune.env import PruningEnv, episode_seed
from pruning.autoprune.objective import feasible
from pruning.autoprune.search_loop import SearchResult
from pruning.masks import Masks
from pruning.train import evaluate

BACK_OFF = (1.0, 0.5, 0.25, 0.0)     # the factors the best policy is scaled by, in turn
FINETUNE_SEED = 999_983              # the result's fine-tune seed offset (no episode uses it)


@dataclass
class AutoPruneResult:
    """What :func:`pruning.autoprune.autoprune` produced."""

    search: SearchResult
    ratios: dict[str, float]         # the applied policy (after any back-off)
    masks: Masks
    model: nn.Module                 # pruned (and fine-tuned unless that broke the constraint)
    base_accuracy: float             # validation accuracy before pruning
    accuracy: float                  # validation accuracy of ``model``
    test_accuracy: float
    crossbars: int
    dense_crossbars: int
    compression_rate: float
    finetuned: bool
    scale: float                     # the factor the best policy was scaled by (1.0 = as found)
    files: dict[str, str] = field(default_factory=dict)


def finalize(env: PruningEnv, result: SearchResult) -> AutoPruneResult:
    """Apply the best policy, fine-tune, and back off until the accuracy constraint holds.

    Candidates for a policy: the model fine-tuned ``finetune_epochs`` (reseeded), the very model
    the search evaluated (its episode's fine-tune and seed: within the constraint by construction,
    so a noisy re-fine-tune cannot throw a found policy away), and the un-fine-tuned one; the
    most accurate candidate within the constraint is returned. If none is, the policy is scaled
    by 1/2, 1/4, then 0.
    """
    s = env.settings
    best = result.best
    policy = best.ratios if best is not None else [0.0] * env.n_layers
    for scale in BACK_OFF:
        ratios = [r * scale for r in policy]
        masks = env.masks_for(ratios)
        options = [(env.masked_model(masks, s.finetune_epochs,
                                     s.seed * 1_000_003 + FINETUNE_SEED), s.finetune_epochs > 0)]
        if scale == 1.0 and best is not None and s.episode_finetune_epochs > 0:
            options.append((env.masked_model(masks, s.episode_finetune_epochs,
                                             episode_seed(s, best.episode)), True))
        options.append((env.masked_model(masks, 0, 0), False))
        scored = [(evaluate(m, env.data.val)[1], -k, m, ft) for k, (m, ft) in enumerate(options)]
        ok = [c for c in scored if feasible(c[0], env.base_accuracy, s)]
        if ok:
            acc, _, m, ft = max(ok, key=lambda c: (c[0], c[1]))   # ties: the earlier candidate
            xb = sum(env.layer_crossbars(i, r) for i, r in enumerate(ratios))
            return AutoPruneResult(
                result, dict(zip(env.names, ratios)), masks, m, env.base_accuracy, acc,
                evaluate(m, env.data.test)[1], int(xb), env.total_dense,
                env.total_dense / max(xb, 1), ft, scale)
    raise AssertionError("unreachable: the unpruned model always meets the constraint")


__all__ = ["AutoPruneResult", "finalize"]
