"""Shipped example bundles: a small pruned CNN mapped under each scheme, with golden vectors.

The network is ``conv1`` (1 -> 8, 3x3, on 8x8 images), ReLU, ``conv2`` (8 -> 16, 3x3), ReLU, a 2x2
max-pool, and ``fc`` (64 -> 10). Weights, biases, masks and images come from one seeded numpy
generator. Each mask is *structured* (a quarter of the filters and a quarter of the input-patch
positions removed whole, so a compacting mapping can drop crossbar rows and columns) and then
*fine-grained* (smallest-magnitude survivors removed) to 70% sparsity. Golden vectors are computed
layer by layer with :func:`rram_sim.bundle.golden_from_numpy`, each layer fed the float output of
the previous one.

The bundles in ``rram_sim/examples/<scheme>/`` are :func:`build_example_bundle` on the default chip;
``python -m rram_sim.examples`` rewrites them (a test checks they equal a fresh build).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rram_sim import config as config_mod
from rram_sim.bundle import Bundle, golden_from_numpy, map_network, save_bundle
from rram_sim.config import Config
from rram_sim.errors import MappingError
from rram_sim.graph import GraphNode
from rram_sim.layout import SCHEMES, LayerSpec

SPARSITY = 0.7
BATCH = 4
EXAMPLES_DIR = Path(__file__).resolve().parent


def example_specs() -> list[LayerSpec]:
    return [LayerSpec("conv1", "conv", (8, 1, 3, 3), (1, 8, 8)),
            LayerSpec("conv2", "conv", (16, 8, 3, 3), (8, 6, 6)),
            LayerSpec("fc", "linear", (10, 64), (64,))]


def example_graph() -> list[GraphNode]:
    return [GraphNode("input", "input"),
            GraphNode("conv1", "conv", ["input"]),
            GraphNode("relu1", "relu", ["conv1"]),
            GraphNode("conv2", "conv", ["relu1"]),
            GraphNode("relu2", "relu", ["conv2"]),
            GraphNode("pool", "maxpool", ["relu2"], {"kernel": 2, "stride": 2}),
            GraphNode("flatten", "flatten", ["pool"]),
            GraphNode("fc", "linear", ["flatten"])]


def _mask(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Structured (whole filters and whole input positions) then fine-grained to SPARSITY."""
    mask = np.ones(w.shape, dtype=bool)
    n = w.shape[0]
    mask[rng.choice(n, size=n // 4, replace=False)] = False
    inner = mask.reshape(n, -1)
    k = inner.shape[1]
    if k >= 4:
        inner[:, rng.choice(k, size=k // 4, replace=False)] = False
    keep = int(round(w.size * (1 - SPARSITY)))
    mag = np.where(mask, np.abs(w), -1.0).ravel()
    order = np.argsort(-mag, kind="stable")
    fine = np.zeros(w.size, dtype=bool)
    fine[order[:keep]] = True
    return (mask.ravel() & fine).reshape(w.shape)


def _maxpool2(x: np.ndarray) -> np.ndarray:
    b, c, h, w = x.shape
    return x.reshape(b, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def build_example_bundle(scheme: str, cfg: Config | None = None, seed: int = 0) -> Bundle:
    """The example network mapped under ``scheme`` on ``cfg`` (default chip), with goldens."""
    if scheme not in SCHEMES:
        raise MappingError(f"example scheme={scheme!r}: must be one of {', '.join(SCHEMES)}")
    cfg = cfg if cfg is not None else config_mod.default()
    rng = np.random.default_rng(seed)
    specs = example_specs()
    weights, biases, masks = [], [], []
    for s in specs:
        fan_in = int(np.prod(s.weight_shape[1:]))
        w = rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=s.weight_shape)
        weights.append(w)
        biases.append(rng.normal(0.0, 0.05, size=s.weight_shape[0]))
        masks.append(_mask(w, rng))
    bundle = map_network(specs, weights, cfg, scheme, masks=masks, biases=biases,
                         graph=example_graph())
    x = rng.random((BATCH, 1, 8, 8))
    for i, s in enumerate(specs):
        g = golden_from_numpy(s, weights[i], biases[i], x, cfg, mask=masks[i])
        bundle.golden[s.name] = g
        y = np.maximum(g.output, 0.0)
        x = _maxpool2(y).reshape(BATCH, -1) if s.name == "conv2" else y
    bundle.meta["example"] = {"seed": seed, "sparsity": SPARSITY, "batch": BATCH}
    return bundle


def example_path(scheme: str) -> Path:
    """Folder of the shipped example bundle of ``scheme``."""
    if scheme not in SCHEMES:
        raise MappingError(f"example scheme={scheme!r}: must be one of {', '.join(SCHEMES)}")
    return EXAMPLES_DIR / scheme


def write_examples(root: Path = EXAMPLES_DIR) -> list[Path]:
    """Build and save every scheme's example bundle under ``root``."""
    paths = []
    for scheme in SCHEMES:
        path = Path(root) / scheme
        save_bundle(build_example_bundle(scheme), path)
        paths.append(path)
    return paths
