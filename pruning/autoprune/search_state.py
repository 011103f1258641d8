"""The resumable state of an AUTO-PRUNE search.

After every episode the agent (networks, optimizers, baseline, RNG state), the history and the
settings key are written to ``RUN/search/checkpoint.pt`` and the replay buffer to
``RUN/search/replay-EPISODE.npz`` (the checkpoint names it; older replay files are removed only
once it does). A search with other settings, model or chip refuses the folder.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from pruning.autoprune.env import Episode, PruningEnv
from pruning.ddpg import DdpgAgent
from pruning.errors import CheckpointError
from rram_sim.fileio import atomic_save_npz, atomic_write_bytes

SEARCH_DIR = "search"
CHECKPOINT = "checkpoint.pt"
FORMAT_VERSION = 1


def settings_key(env: PruningEnv) -> str:
    """What a resumed search must share with the one that wrote the folder."""
    return json.dumps({"settings": env.settings.to_dict(), "layers": env.names,
                       "base_accuracy": env.base_accuracy, "chip": env.cfg.config_hash()},
                      sort_keys=True)


def has_search(folder: Path) -> bool:
    return (folder / CHECKPOINT).is_file()


def save_search(folder: Path, key: str, episode: int, agent: DdpgAgent,
               history: list[Episode]) -> None:
    """Write the state after ``episode`` episodes (the replay buffer first, the checkpoint last)."""
    replay = folder / f"replay-{episode}.npz"
    atomic_save_npz(replay, agent.memory.arrays())
    buf = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, "settings": key, "episode": episode,
                "agent": agent.state_dict(), "replay": replay.name,
                "history": json.dumps([e.to_dict() for e in history])}, buf)
    atomic_write_bytes(folder / CHECKPOINT, buf.getvalue())
    for old in folder.glob("replay-*.npz"):   # only after the checkpoint points at the new one
        if old.name != replay.name:
            old.unlink()


def load_search(folder: Path, key: str, agent: DdpgAgent) -> tuple[int, list[Episode]]:
    """Restore ``agent`` from the folder; returns (episodes done, their history)."""
    path = folder / CHECKPOINT
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable AUTO-PRUNE checkpoint "
                              f"({exc.__class__.__name__})") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not an AUTO-PRUNE checkpoint of format {FORMAT_VERSION}")
    if ck["settings"] != key:
        raise CheckpointError(f"{path}: written by a search with other settings, model or chip; "
                              "use the same ones or another output folder")
    agent.load_state_dict(ck["agent"])
    with np.load(folder / ck["replay"], allow_pickle=False) as z:
        agent.memory.load_arrays({k: z[k] for k in z.files})
    history = [Episode(**d) for d in json.loads(ck["history"])]
    return int(ck["episode"]), history


__all__ = ["CHECKPOINT", "FORMAT_VERSION", "SEARCH_DIR", "has_search", "load_search",
           "save_search", "settings_key"]
