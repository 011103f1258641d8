"""AUTO-PRUNE: reinforcement-learned per-layer pruning ratios with a hardware reward.

AUTO-PRUNE (Yang et al., ICS 2021) lets a DDPG agent (:mod:`pruning.ddpg`, AMC-style) choose one
pruning ratio per crossbar layer, walking the layers in order, under an accuracy-loss constraint.
The default groups are ``ou_row`` (:mod:`pruning.granularities.ou_row`): one matrix row of one OU
column block — the ``ou`` mapping keeps, per block of ``ou_logical_cols`` columns, only the rows
some column needs and packs them into OU-high units, so every ``ou.rows`` rows removed from a block
free one unit, and the survivors are no longer contiguous, so the indexed datapath is needed;
``ou`` removes whole aligned OU blocks (units freed the same way, but each unit keeps a contiguous
run of rows, which a base address alone can feed); ``ou_column`` removes OU-aligned column
vectors. The result is exported as an ``ou`` bundle with index tables for the indexed datapath
(:mod:`rram_sim.datapath`). One concern per module:

- :mod:`~pruning.autoprune.settings`: :class:`AutoPruneSettings` and the CI-size defaults;
- :mod:`~pruning.autoprune.env`: the environment, one episode pruning and mapping every layer;
- :mod:`~pruning.autoprune.objective`: the reward (hardware gains, the accuracy constraint);
- :mod:`~pruning.autoprune.search_loop` and :mod:`~pruning.autoprune.search_state`: the episodes
  and their resumable state (``RUN/search``; a killed run restarts after the last completed
  episode and ends exactly as an uninterrupted one);
- :mod:`~pruning.autoprune.finalization`: the best policy applied, fine-tuned, backed off until
  the constraint holds;
- :mod:`~pruning.autoprune.simulation`: engine figures for the ``energy`` / ``latency`` reward;
- :mod:`~pruning.autoprune.outputs` and :mod:`~pruning.autoprune.pipeline`: the run's files and
  the whole run (:func:`autoprune`).

The method registry's entry is :class:`pruning.methods.autoprune.AutoPrune`. This ``__init__``
only re-exports the names below; the modules of this package never import it.
"""

from __future__ import annotations

from pruning.autoprune.env import STATE_FEATURES, Episode, PruningEnv, episode_seed
from pruning.autoprune.finalization import AutoPruneResult, finalize
from pruning.autoprune.objective import HardwareCost, hardware_gains, reward
from pruning.autoprune.outputs import load_policy, policy_report, write_learning_curve
from pruning.autoprune.pipeline import autoprune
from pruning.autoprune.search_loop import SearchResult, best_episode, search
from pruning.autoprune.settings import AGENT, EPISODES, REWARD_METRICS, AutoPruneSettings
from pruning.autoprune.simulation import engine_cost, simulate_ou

__all__ = ["AGENT", "EPISODES", "REWARD_METRICS", "STATE_FEATURES", "AutoPruneResult",
           "AutoPruneSettings", "Episode", "HardwareCost", "PruningEnv", "SearchResult",
           "autoprune", "best_episode", "engine_cost", "episode_seed", "finalize",
           "hardware_gains", "load_policy", "policy_report", "reward", "search", "simulate_ou",
           "write_learning_curve"]
