"""A whole AUTO-PRUNE run: search, finalize, and write the output folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from pruning.autoprune.env import PruningEnv
from pruning.autoprune.finalization import AutoPruneResult, finalize
from pruning.autoprune.objective import HardwareCost
from pruning.autoprune.outputs import POLICY_FILE, policy_report, write_learning_curve
from pruning.autoprune.search_loop import search
from pruning.autoprune.settings import AutoPruneSettings
from pruning.checkpoint import save_checkpoint
from pruning.data import DataSplits
from pruning.export import export_bundle
from rram_sim.config import Config
from rram_sim.fileio import atomic_write_json


def autoprune(model: nn.Module, data: DataSplits, cfg: Config, settings: AutoPruneSettings,
              out_dir: str | os.PathLike, model_spec: dict[str, Any] | None = None,
              hardware_cost: HardwareCost | None = None, progress: bool = False,
              export: bool = True) -> AutoPruneResult:
    """Search, finalize and write the output folder:

    ``best_policy.json``, ``model/checkpoint.pt`` (pruned, fine-tuned, with masks), ``masks.npz``
    (+ ``.json``), ``bundle/`` (the ``ou`` layout bundle with index tables), ``learning_curve.csv``
    and ``.png``, and ``search/`` (the resumable search state).
    """
    out = Path(out_dir)
    env = PruningEnv(model, data, cfg, settings, hardware_cost)
    res = search(env, out, progress=progress)
    fin = finalize(env, res)
    files = {}
    csv_path, png_path = write_learning_curve(res.history, out)
    files["learning_curve_csv"], files["learning_curve_png"] = str(csv_path), str(png_path)
    files["masks"] = str(fin.masks.save(out / "masks"))
    ck = save_checkpoint(out / "model" / "checkpoint.pt", {
        "model": model_spec, "data": {"name": data.name, "mean": list(data.mean),
                                      "std": list(data.std)},
        "state_dict": fin.model.state_dict(), "masks": fin.masks.to_tensors(), "epoch": 0,
        "history": [], "settings": {"autoprune": json.dumps(settings.to_dict())}})
    files["model"] = str(ck)
    if export:
        x, _ = next(iter(data.val))
        export_bundle(fin.model, fin.masks, cfg, "ou", x[:2], out / "bundle")
        files["bundle"] = str(out / "bundle")
    atomic_write_json(out / POLICY_FILE, policy_report(env, fin, settings))
    files["policy"] = str(out / POLICY_FILE)
    fin.files = files
    return fin


__all__ = ["autoprune"]
