"""Crossbar-aligned pruning groups: which weights are removed together.

Every pruning algorithm of the front-end works the same way: each crossbar layer's weights are
partitioned into *groups*, each group is scored (the L1 or L2 norm of its weights), and the lowest-
scoring groups are removed whole. A :class:`LayerGroups` stores, for one weight tensor, an int64
array ``group_id`` of the weight's shape (``-1`` for a weight in no group, which is never removed).

Groups are defined on the unrolled ``[K, N]`` matrix of :mod:`rram_sim.mapping` (row ``r`` = input
index ``(c, ky, kx)``, column ``n`` = filter or output feature) and the chip's crossbar geometry:
``R = crossbar.rows``, ``L = crossbar.cols // columns_per_weight`` logical columns per crossbar,
and one OU spanning ``ou.rows`` rows and ``ou_logical_cols = max(1, ou.cols // columns_per_weight)``
logical columns. Granularities:

- ``unstructured``: every weight alone.
- ``kernel``: one ``kh x kw`` kernel ``W[n, c]`` (for a linear layer: one weight).
- ``index``: one wordline of the matrix, i.e. one input index ``(c, ky, kx)`` across all filters
  (``W[:, c, ky, kx]``); removing it removes one input from the index tables.
- ``channel``: one input channel ``W[:, c]`` (linear: one input feature ``W[:, i]``).
- ``filter``: one filter ``W[n]`` (linear: one output feature), i.e. one logical column.
- ``row_segment``: one matrix row within one crossbar column-block: rows ``r``, columns
  ``[b*L, (b+1)*L)`` — one wordline of one crossbar of the dense mapping.
- ``col_segment``: one logical column within one crossbar row-block: column ``n``, rows
  ``[a*R, (a+1)*R)`` — one (multi-cell) bitline of one crossbar.
- ``ou``: one OU block, ``ou.rows`` rows x ``ou_logical_cols`` columns, aligned to the OU grid.
- ``crossbar``: one whole ``R x L`` block — one crossbar of the dense mapping.

Scores are vectorized (``np.bincount`` over ``group_id``). :func:`prune_lowest` removes a fraction
of the groups — per layer (``scope="layer"``, optionally a fraction per layer) or over the whole
network (``scope="global"``) — and returns :class:`~pruning.masks.Masks`. The fraction counts all
groups, including ones already removed (their score is 0, so they go first): pruning is cumulative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from torch import nn

from pruning.errors import PruningError
from pruning.masks import Masks
from rram_sim.config import Config
from rram_sim.layout import LayerSpec
from rram_sim.mapping import ou_logical_cols, unroll_weight

GRANULARITIES = ("unstructured", "kernel", "index", "channel", "filter", "row_segment",
                 "col_segment", "ou", "crossbar")
NORMS = ("l1", "l2")


@dataclass
class LayerGroups:
    """The groups of one weight tensor."""

    name: str                 # parameter name, e.g. "features.0.weight"
    spec: LayerSpec           # the layer's kind and weight shape
    granularity: str
    group_id: np.ndarray      # int64, the weight's shape; -1 = in no group
    n_groups: int

    def sizes(self) -> np.ndarray:
        """Weights per group (int64 [n_groups])."""
        g = self.group_id.ravel()
        return np.bincount(g[g >= 0], minlength=self.n_groups)


def spec_for(name: str, module: nn.Module) -> LayerSpec:
    """A :class:`LayerSpec` carrying the weight shape of a Conv2d / Linear (input size nominal)."""
    w = tuple(int(s) for s in module.weight.shape)
    if isinstance(module, nn.Conv2d):
        return LayerSpec(name, "conv", w, (w[1], w[2], w[3]), tuple(module.stride),
                         tuple(module.padding) if not isinstance(module.padding, str) else (0, 0))
    return LayerSpec(name, "linear", w, (w[1],))


def matrix_group_ids(spec: LayerSpec, granularity: str, cfg: Config) -> tuple[np.ndarray, int]:
    """Group id of every position of the ``[K, N]`` unrolled matrix, and the number of groups."""
    k, n = spec.matrix_shape
    r = np.arange(k, dtype=np.int64)[:, None]
    c = np.arange(n, dtype=np.int64)[None, :]
    per_in = (spec.weight_shape[2] * spec.weight_shape[3]) if spec.kind == "conv" else 1

    def grid(a: np.ndarray, na: int, b: np.ndarray, nb: int) -> tuple[np.ndarray, int]:
        return np.broadcast_to(a * nb + b, (k, n)), na * nb

    big_r, big_l = cfg.crossbar.rows, cfg.logical_cols_per_crossbar
    if granularity == "unstructured":
        return grid(r, k, c, n)
    if granularity == "kernel":
        return grid(r // per_in, k // per_in, c, n)
    if granularity == "index":
        return grid(r, k, 0 * c, 1)
    if granularity == "channel":
        return grid(r // per_in, k // per_in, 0 * c, 1)
    if granularity == "filter":
        return grid(0 * r, 1, c, n)
    if granularity == "row_segment":
        return grid(r, k, c // big_l, -(-n // big_l))
    if granularity == "col_segment":
        return grid(r // big_r, -(-k // big_r), c, n)
    if granularity == "ou":
        oc = ou_logical_cols(cfg)
        return grid(r // cfg.ou.rows, -(-k // cfg.ou.rows), c // oc, -(-n // oc))
    if granularity == "crossbar":
        return grid(r // big_r, -(-k // big_r), c // big_l, -(-n // big_l))
    raise PruningError(f"granularity '{granularity}': unknown (known: {', '.join(GRANULARITIES)})")


def layer_groups(spec: LayerSpec, granularity: str, cfg: Config, name: str | None = None
                 ) -> LayerGroups:
    """Groups of one layer: matrix group ids carried back to the weight tensor's positions."""
    mat, n_groups = matrix_group_ids(spec, granularity, cfg)
    size = int(np.prod(spec.weight_shape))
    # unroll_weight of the flat positions tells which weight sits at each matrix position
    where = unroll_weight(np.arange(size, dtype=np.int64).reshape(spec.weight_shape), spec)
    gid = np.empty(size, np.int64)
    gid[where.ravel()] = mat.ravel()
    # renumber densely so every id in [0, n_groups) is used (an empty group would score 0)
    used, dense = np.unique(gid, return_inverse=True)
    del n_groups
    return LayerGroups(name or spec.name, spec, granularity, dense.reshape(spec.weight_shape),
                       int(len(used)))


def make_groups(model: nn.Module, granularity: str, cfg: Config,
                exclude: tuple[str, ...] = ()) -> dict[str, LayerGroups]:
    """Groups of every Conv2d / Linear weight of ``model``, keyed by parameter name.

    ``exclude`` lists parameter names (e.g. the first conv or the classifier) left unpruned.
    """
    if granularity not in GRANULARITIES:
        raise PruningError(f"granularity '{granularity}': unknown "
                           f"(known: {', '.join(GRANULARITIES)})")
    out: dict[str, LayerGroups] = {}
    for mname, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            pname = f"{mname}.weight"
            if pname in exclude:
                continue
            out[pname] = layer_groups(spec_for(mname, mod), granularity, cfg, pname)
    unknown = sorted(set(exclude) - set(out) - {f"{m}.weight" for m, _ in model.named_modules()})
    if unknown:
        raise PruningError(f"exclude: no conv or linear weight named {', '.join(unknown)}")
    return out


def group_scores(model: nn.Module, groups: Mapping[str, LayerGroups], norm: str = "l1",
                 per_weight: bool = False) -> dict[str, np.ndarray]:
    """Score of every group: L1 (sum of |w|) or L2 (sqrt of sum of w^2) norm of its weights.

    ``per_weight=True`` divides by the group's size (fairer when group sizes differ, e.g. for a
    global ranking across layers).
    """
    if norm not in NORMS:
        raise PruningError(f"norm '{norm}': unknown (known: {', '.join(NORMS)})")
    params = dict(model.named_parameters())
    out = {}
    for name, g in groups.items():
        w = params[name].detach().cpu().numpy().astype(np.float64).ravel()
        gid = g.group_id.ravel()
        keep = gid >= 0
        vals = np.abs(w[keep]) if norm == "l1" else w[keep] ** 2
        s = np.bincount(gid[keep], weights=vals, minlength=g.n_groups)
        if norm == "l2":
            s = np.sqrt(s)
        if per_weight:
            s = s / np.maximum(g.sizes(), 1)
        out[name] = s
    return out


def _lowest(scores: np.ndarray, count: int) -> np.ndarray:
    # stable sort: ties go to the lower group id, so the result is deterministic
    return np.argsort(scores, kind="stable")[:count]


def masks_from_removed(groups: Mapping[str, LayerGroups], removed: Mapping[str, np.ndarray]
                       ) -> Masks:
    """Masks keeping every weight except those of the removed group ids."""
    out = {}
    for name, g in groups.items():
        dead = np.zeros(g.n_groups + 1, bool)  # last slot: id -1 (never removed)
        dead[np.asarray(removed.get(name, []), np.int64)] = True
        out[name] = ~dead[g.group_id]
    return Masks(out)


def prune_lowest(scores: Mapping[str, np.ndarray], groups: Mapping[str, LayerGroups],
                 fraction: float | Mapping[str, float], scope: str = "layer",
                 masks: Masks | None = None) -> Masks:
    """Remove the lowest-scoring ``fraction`` of groups; return the new masks (ANDed with
    ``masks`` when given).

    ``scope="layer"``: ``round(fraction * n_groups)`` groups of each layer (``fraction`` may be a
    dict by parameter name; missing names are not pruned). ``scope="global"``: one ranking of all
    groups of all layers, ``round(fraction * total groups)`` removed.
    """
    fr = fraction if isinstance(fraction, Mapping) else {n: fraction for n in groups}
    for n, f in fr.items():
        if n not in groups:
            raise PruningError(f"fraction for '{n}': no such grouped parameter")
        if not 0.0 <= float(f) <= 1.0:
            raise PruningError(f"fraction for '{n}'={f}: must be in [0, 1]")
    removed: dict[str, np.ndarray] = {}
    if scope == "layer":
        for name, g in groups.items():
            count = int(round(float(fr.get(name, 0.0)) * g.n_groups))
            removed[name] = _lowest(scores[name], count)
    elif scope == "global":
        if isinstance(fraction, Mapping):
            raise PruningError("scope='global' takes one fraction, not one per layer")
        names = list(groups)
        flat = np.concatenate([scores[n] for n in names]) if names else np.zeros(0)
        owner = np.concatenate([np.full(groups[n].n_groups, i) for i, n in enumerate(names)]
                               ) if names else np.zeros(0, np.int64)
        offset = np.cumsum([0] + [groups[n].n_groups for n in names])
        pick = _lowest(flat, int(round(float(fraction) * len(flat))))
        for i, n in enumerate(names):
            removed[n] = pick[owner[pick] == i] - offset[i]
    else:
        raise PruningError(f"scope '{scope}': must be 'layer' or 'global'")
    out = masks_from_removed(groups, removed)
    return out & masks if masks is not None else out


def couple_batchnorm(model: nn.Module, masks: Masks) -> Masks:
    """Masks with every BatchNorm that follows a conv masked with its filters.

    A filter whose weights are all removed still outputs ``beta - mean * gamma / std`` through its
    BatchNorm; masking that channel's ``gamma`` and ``beta`` too makes the channel exactly zero
    (and the folded conv bias zero), so the filter is really gone. Other masks are kept as given.
    """
    from pruning.xbar_layers import conv_bn_pairs

    params = dict(model.named_parameters())
    out = {k: v.copy() for k, v in masks.items()}
    for conv, bn in conv_bn_pairs(model).items():
        m = masks.get(f"{conv}.weight")
        if m is None:
            continue
        alive = m.reshape(m.shape[0], -1).any(axis=1)
        for p in ("weight", "bias"):
            key = f"{bn}.{p}"
            if key in params:
                out[key] = out[key] & alive if key in out else alive.copy()
    return Masks(out).validate(model)
