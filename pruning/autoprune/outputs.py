"""The files an AUTO-PRUNE run leaves: the learning curve and the best policy.

``learning_curve.csv`` / ``.png`` hold one row / point per episode (reward, accuracy, compression
rate); ``best_policy.json`` the applied per-layer ratios with their groups and crossbars, the
accuracies and the compression; :func:`load_policy` reads the ratios back.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from pruning.autoprune.env import Episode, PruningEnv
from pruning.autoprune.finalization import AutoPruneResult
from pruning.autoprune.settings import AutoPruneSettings
from pruning.errors import PruningError
from rram_sim.fileio import atomic_write_bytes

POLICY_FILE = "best_policy.json"


def write_learning_curve(history: list[Episode], folder: str | os.PathLike) -> tuple[Path, Path]:
    """``learning_curve.csv`` and ``learning_curve.png`` (reward, accuracy, compression rate)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["episode", "reward", "accuracy", "accuracy_drop", "crossbars", "dense_crossbars",
                "compression_rate", "feasible", "ratios"])
    for e in history:
        w.writerow([e.episode, f"{e.reward:.6f}", f"{e.accuracy:.6f}", f"{e.accuracy_drop:.6f}",
                    e.crossbars, e.dense_crossbars, f"{e.compression_rate:.6f}", int(e.feasible),
                    " ".join(f"{r:.4f}" for r in e.ratios)])
    csv_path = folder / "learning_curve.csv"
    atomic_write_bytes(csv_path, buf.getvalue().encode())

    ep = [e.episode for e in history]
    fig, axes = plt.subplots(3, 1, figsize=(6, 7), sharex=True)
    for ax, vals, label in zip(axes, ([e.reward for e in history],
                                      [e.accuracy for e in history],
                                      [e.compression_rate for e in history]),
                               ("reward", "validation accuracy", "crossbar compression rate")):
        ax.plot(ep, vals, marker="o", ms=3)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title("AUTO-PRUNE search")
    axes[-1].set_xlabel("episode")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    png_path = folder / "learning_curve.png"
    atomic_write_bytes(png_path, png.getvalue())
    return csv_path, png_path


def policy_report(env: PruningEnv, fin: AutoPruneResult, settings: AutoPruneSettings
                  ) -> dict[str, Any]:
    """The contents of ``best_policy.json``."""
    res = fin.search
    return {
        "method": "AUTO-PRUNE", "chip": env.cfg.name, "granularity": settings.granularity,
        "accuracy_loss": settings.accuracy_loss, "reward_metrics": list(settings.reward_metrics),
        "base_accuracy": fin.base_accuracy, "accuracy": fin.accuracy,
        "test_accuracy": fin.test_accuracy, "accuracy_drop": fin.base_accuracy - fin.accuracy,
        "crossbars": fin.crossbars, "dense_crossbars": fin.dense_crossbars,
        "compression_rate": fin.compression_rate,
        "sparsity": fin.masks.sparsity() if len(fin.masks) else 0.0,
        "finetuned": fin.finetuned,
        "policy_scale": fin.scale, "best_episode": res.best.episode if res.best else None,
        "best_reward": res.best.reward if res.best else None, "episodes": len(res.history),
        "layers": [{"name": n, "ratio": fin.ratios[n], "groups": env.groups[n].n_groups,
                    "dense_crossbars": int(env.dense_xb[i]),
                    "crossbars": env.layer_crossbars(i, fin.ratios[n])}
                   for i, n in enumerate(env.names)],
    }


def load_policy(path: str | os.PathLike) -> dict[str, float]:
    """The per-layer ratios of a ``best_policy.json`` (or of the run folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / POLICY_FILE
    if not p.is_file():
        raise PruningError(f"{p}: no such policy file")
    d = json.loads(p.read_text())
    return {lay["name"]: float(lay["ratio"]) for lay in d["layers"]}


__all__ = ["POLICY_FILE", "load_policy", "policy_report", "write_learning_curve"]
