"""The hardware figures of a pruning mask: weights kept and crossbars occupied on a chip.

Every round of the round runner (:mod:`pruning.realprune`) reports these for its mask: per layer
and in total, the weights remaining, the crossbars of the dense tiling of each weight matrix, the
tiles of that tiling that still hold a weight (whole crossbars freed), the crossbars of the
``compact`` mapping of the kept weights (:func:`rram_sim.mapping.map_layer`), and the hardware
reduction ``1 - compact / dense``. Only crossbar weights (2-D linear and 4-D conv masks) count;
the 1-D BatchNorm and bias masks that filter and channel pruning add hold no crossbar cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pruning.masks import Masks
from rram_sim.config import Config
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer


def weight_spec(name: str, shape: tuple[int, ...]) -> LayerSpec:
    """A layer spec for counting crossbars: they depend only on the weight's unrolled shape, so a
    conv gets the smallest input its kernel fits (the exported bundle carries the real one)."""
    if len(shape) == 4:
        n, c, kh, kw = (int(v) for v in shape)
        return LayerSpec(name, "conv", (n, c, kh, kw), (c, kh, kw))
    out, inp = (int(v) for v in shape)
    return LayerSpec(name, "linear", (out, inp), (inp,))


def mask_crossbars(mask: np.ndarray, name: str, cfg: Config) -> dict[str, int]:
    """Crossbars a layer's mask occupies on chip ``cfg``.

    ``dense``: the dense tiling of the whole matrix; ``dense_occupied``: the tiles of that tiling
    that still hold a weight (whole crossbars freed); ``compact``: the compact mapping of the
    kept weights (empty columns and, per column block, empty rows removed).
    """
    spec = weight_spec(name, mask.shape)
    k, n = spec.matrix_shape
    rows, cols = cfg.crossbar.rows, cfg.logical_cols_per_crossbar
    mat = mask.reshape(mask.shape[0], -1).T                              # [K, N]
    pr, pc = -(-k // rows) * rows - k, -(-n // cols) * cols - n
    tiles = np.pad(mat, ((0, pr), (0, pc))).reshape(-(-k // rows), rows, -(-n // cols), cols)
    dense_occupied = int(tiles.any(axis=(1, 3)).sum())
    compact = map_layer(spec, mask.astype(np.float64), cfg, "compact").n_crossbars
    return {"dense": int(tiles.shape[0] * tiles.shape[2]), "dense_occupied": dense_occupied,
            "compact": int(compact)}


def weight_masks(masks: Masks) -> Masks:
    """The masks of crossbar weights (conv and linear: 2-D or 4-D), without the 1-D BatchNorm
    and bias masks that filter and channel pruning add; they hold no crossbar cells."""
    return Masks({n: m for n, m in masks.items() if m.ndim in (2, 4)})


def hardware_report(masks: Masks, cfg: Config) -> dict[str, Any]:
    """Per-layer and total weights and crossbars of ``masks`` (every prunable weight masked;
    BatchNorm and bias masks are not counted)."""
    layers: dict[str, Any] = {}
    tot = {"kept": 0, "total": 0, "dense": 0, "dense_occupied": 0, "compact": 0}
    for name, m in weight_masks(masks).items():
        xb = mask_crossbars(m, name, cfg)
        kept, total = int(m.sum()), int(m.size)
        layers[name] = {"kept": kept, "total": total, "sparsity": 1.0 - kept / total, **xb}
        for key, v in (("kept", kept), ("total", total), *xb.items()):
            tot[key] += v
    return {
        "weights_remaining": tot["kept"], "weights_total": tot["total"],
        "sparsity": 1.0 - tot["kept"] / tot["total"] if tot["total"] else 0.0,
        "crossbars_dense": tot["dense"], "crossbars_dense_occupied": tot["dense_occupied"],
        "crossbars_compact": tot["compact"],
        "hardware_reduction": 1.0 - tot["compact"] / tot["dense"] if tot["dense"] else 0.0,
        "layers": layers,
    }


__all__ = ["hardware_report", "mask_crossbars", "weight_masks", "weight_spec"]
