"""AUTO-PRUNE's search: the DDPG agent plays episodes of the environment.

Each episode walks the layers (:class:`~pruning.autoprune.env.PruningEnv`), the agent choosing
each layer's ratio (random during its warm-up, then its policy plus decaying noise); every step of
the episode shares the final reward (AMC) and the agent learns after the warm-up. The best policy
is the highest-reward episode whose accuracy drop is within the allowance: an episode over the
constraint is never chosen, whatever its reward. With a run folder the search state is saved
after every episode (:mod:`pruning.autoprune.search_state`) and a killed search resumes after the
last finished one, ending exactly as an uninterrupted one.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pruning.autoprune.env import Episode, PruningEnv
from pruning.autoprune.search_state import (
    SEARCH_DIR,
    has_search,
    load_search,
    save_search,
    settings_key,
)
from pruning.ddpg import DdpgAgent


@dataclass
class SearchResult:
    history: list[Episode]
    best: Episode | None          # highest-reward feasible episode (None if none was feasible)
    base_accuracy: float
    layer_names: list[str]
    resumed_from: int = 0


def best_episode(history: list[Episode]) -> Episode | None:
    feasible = [e for e in history if e.feasible]
    # ties: the earlier episode
    return max(feasible, key=lambda e: (e.reward, -e.episode)) if feasible else None


def search(env: PruningEnv, run_dir: str | os.PathLike | None = None, progress: bool = False,
           stop_after: int | None = None) -> SearchResult:
    """Run the episodes (resuming from ``run_dir/search`` when a checkpoint is there).

    ``stop_after`` ends the call after that many total episodes (to test resuming).
    """
    s = env.settings
    n_states = env.state().shape[0]
    agent = DdpgAgent(n_states, s.lower, s.upper, s.ddpg, seed=s.seed)
    folder = Path(run_dir) / SEARCH_DIR if run_dir is not None else None
    key = settings_key(env)
    start, history = 0, []
    if folder is not None and has_search(folder):
        start, history = load_search(folder, key, agent)
    end = s.episodes if stop_after is None else min(stop_after, s.episodes)
    for ep in range(start, end):
        state = env.reset()
        steps = []
        done = False
        while not done:
            action = agent.select_action(state, ep)
            nxt, done = env.step(action)
            steps.append((state, action, nxt, done))
            state = nxt
        result = env.finish(ep)
        # every step of the episode shares the final reward (AMC)
        for st, a, nx, d in steps:
            agent.observe(st, a, result.reward, nx, d)
            if ep >= s.ddpg.warmup_episodes:
                agent.update()
        history.append(result)
        if folder is not None:
            save_search(folder, key, ep + 1, agent, history)
        if progress:
            print(f"episode {ep + 1}/{s.episodes}: reward {result.reward:+.3f} accuracy "
                  f"{result.accuracy:.4f} compression {result.compression_rate:.2f}x "
                  f"{'ok' if result.feasible else 'over the loss'}", file=sys.stderr)
    return SearchResult(history, best_episode(history), env.base_accuracy, env.names, start)


__all__ = ["SearchResult", "best_episode", "search"]
