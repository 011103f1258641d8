"""Crossbar-aligned pruning groups: which weights are removed together.

Every pruning algorithm of the front-end works the same way: each crossbar layer's weights are
partitioned into *groups*, each group is scored (the L1 or L2 norm of its weights), and the lowest-
scoring groups are removed whole. A :class:`LayerGroups` stores, for one weight tensor, an int64
array ``group_id`` of the weight's shape (``-1`` for a weight in no group, which is never removed).

Groups are defined on the unrolled ``[K, N]`` matrix of :mod:`rram_sim.mapping` (row ``r`` = input
index ``(c, ky, kx)``, column ``n`` = filter or output feature) and the chip's crossbar geometry by
a *granularity* (:mod:`pruning.granularities`, one module per granularity, looked up by name in
:mod:`pruning.granularities.registry`): ``ou_row``, ``ou_column``, ``unstructured``, ``kernel``,
``index``, ``channel``, ``filter``, ``row_segment``, ``col_segment``, ``ou``, ``crossbar``, and any
registered later.

Scores are vectorized (``np.bincount`` over ``group_id``). :func:`prune_lowest` removes a fraction
of the groups — per layer (``scope="layer"``, optionally a fraction per layer) or over the whole
network (``scope="global"``) — and returns :class:`~pruning.masks.Masks`. The fraction counts all
groups, including ones already removed (their score is 0, so they go first): pruning is cumulative.

*Coupled groups* (``couple="residual"``, the default for ``filter`` and ``channel`` groups of a
model with residual adds): the channels that meet at a residual add are one channel
(:mod:`pruning.coupling`), so a filter (or input channel) of one layer of such a set is not a group
of its own. :func:`make_groups` then returns a :class:`GroupSet` whose ``coupled`` list holds one
:class:`CoupledGroups` per residual channel set: joint group ``c`` is channel ``c`` of every member
layer, scored as the sum of the members' group scores and removed from all of them together, with
the producers' BatchNorms and the consumers' input slices ``weight[:, c]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from pruning.coupling import ChannelSet, channel_removal_masks, residual_sets
from pruning.errors import ExportError, PruningError
from pruning.granularities.base import PRODUCERS, MatrixGrid
from pruning.granularities.registry import coupling_names, get_granularity
from pruning.masks import Masks
from pruning.tracing import conv_bn_pairs
from rram_sim.config import Config
from rram_sim.layout import LayerSpec
from rram_sim.mapping import unroll_weight

NORMS = ("l1", "l2")
COUPLINGS = ("auto", "residual", "none")


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


def layer_groups(spec: LayerSpec, granularity: str, cfg: Config, name: str | None = None
                 ) -> LayerGroups:
    """Groups of one layer: the granularity's matrix labels carried back to the weight tensor's
    positions and renumbered ``0 .. n_groups - 1``."""
    mat = get_granularity(granularity).matrix_ids(MatrixGrid.of(spec, cfg))
    size = int(np.prod(spec.weight_shape))
    # unroll_weight of the flat positions tells which weight sits at each matrix position
    where = unroll_weight(np.arange(size, dtype=np.int64).reshape(spec.weight_shape), spec)
    gid = np.empty(size, np.int64)
    gid[where.ravel()] = mat.ravel()
    # renumber densely so every id in [0, n_groups) is used (an empty group would score 0)
    used, dense = np.unique(gid, return_inverse=True)
    return LayerGroups(name or spec.name, spec, granularity, dense.reshape(spec.weight_shape),
                       int(len(used)))


@dataclass
class CoupledGroups:
    """Groups of several layers removed together: joint group ``c`` is channel ``c`` of a residual
    channel set, i.e. every member group that touches channel ``c``."""

    channels: ChannelSet
    members: dict[str, np.ndarray]   # member weight -> joint channel of each of its groups
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # every parameter it masks
    skip: frozenset[str] = frozenset()   # excluded weights: never masked

    @property
    def n_groups(self) -> int:
        return self.channels.n_channels

    def joint_scores(self, scores: Mapping[str, np.ndarray]) -> np.ndarray:
        """Score of each joint group: the sum of its member groups' scores."""
        out = np.zeros(self.n_groups)
        for name, chan in self.members.items():
            out += np.bincount(chan, weights=np.asarray(scores[name], np.float64),
                               minlength=self.n_groups)
        return out

    def removal_masks(self, removed: np.ndarray) -> dict[str, np.ndarray]:
        """Keep-masks removing the joint groups ``removed`` (ids) from every parameter."""
        dead = np.zeros(self.n_groups, bool)
        dead[np.asarray(removed, np.int64)] = True
        return channel_removal_masks(self.channels, dead, self.shapes, self.skip)


class GroupSet(dict):
    """``{parameter name: LayerGroups}`` plus the ``coupled`` groups that span several layers.

    A layer named in a :class:`CoupledGroups` is pruned only through it (its own groups are its
    share of the joint groups)."""

    def __init__(self, groups: Mapping[str, LayerGroups] | None = None,
                 coupled: list[CoupledGroups] | None = None) -> None:
        super().__init__(groups or {})
        self.coupled: list[CoupledGroups] = list(coupled or [])

    def joint_members(self) -> set[str]:
        return {n for c in self.coupled for n in c.members}


def _member_channels(g: LayerGroups, dim: int, per: int) -> np.ndarray | None:
    """Channel of each group of ``g`` along weight dimension ``dim`` (``per`` indices per
    channel), or None when a group spans several channels."""
    shape = g.group_id.shape
    idx = np.arange(shape[dim]).reshape([-1 if d == dim else 1 for d in range(len(shape))]) // per
    chan = np.broadcast_to(idx, shape).ravel()
    out = np.zeros(g.n_groups, np.int64)
    out[g.group_id.ravel()] = chan
    return out if np.array_equal(out[g.group_id.ravel()], chan) else None


def coupled_groups(model: nn.Module, groups: Mapping[str, LayerGroups], granularity: str,
                   exclude: tuple[str, ...] = ()) -> list[CoupledGroups]:
    """One :class:`CoupledGroups` per residual channel set of ``model`` for groups that are whole
    channels (:attr:`~pruning.granularities.base.Granularity.couples`): ``filter`` groups (members:
    the set's producers) or ``channel`` groups (members: its consumers). A set with an excluded
    producer is not coupled (the excluded layer keeps writing the channel); excluded consumers
    are never masked."""
    side = get_granularity(granularity).couples
    if side is None:
        raise PruningError(f"couple='residual' with granularity '{granularity}': residual "
                           f"coupling needs {' or '.join(coupling_names())} groups")
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    out = []
    for cs in residual_sets(model):
        if any(p in exclude for p in cs.producers):
            continue
        members: dict[str, np.ndarray] = {}
        pairs = ([(p, 0, 1) for p in cs.producers] if side == PRODUCERS
                 else [(c, 1, per) for c, per in cs.consumers])
        for name, dim, per in pairs:
            if name in groups:
                chan = _member_channels(groups[name], dim, per)
                if chan is None:
                    raise PruningError(f"coupling '{name}': a {granularity} group spans several "
                                       "channels of its residual set")
                members[name] = chan
        if members:
            used = set(cs.producers) | set(cs.channelwise) | {c for c, _ in cs.consumers}
            out.append(CoupledGroups(cs, members, {n: shapes[n] for n in used},
                                     frozenset(exclude)))
    return out


def make_groups(model: nn.Module, granularity: str, cfg: Config,
                exclude: tuple[str, ...] = (), couple: str | None = "auto") -> GroupSet:
    """Groups of every Conv2d / Linear weight of ``model``, keyed by parameter name.

    ``exclude`` lists parameter names (e.g. the first conv or the classifier) left unpruned.
    ``couple``: ``"residual"`` forms joint groups over each residual channel set (``filter`` or
    ``channel`` granularity; the model must be traceable by ``torch.fx``); ``"none"`` (or None)
    keeps every layer's groups independent; ``"auto"`` (default) is ``"residual"`` for ``filter``
    and ``channel`` groups of a traceable model with a residual add, else ``"none"``.
    """
    gran = get_granularity(granularity)   # an unknown name fails here, naming the known ones
    couple = "none" if couple is None else couple
    if couple not in COUPLINGS:
        raise PruningError(f"couple '{couple}': unknown (known: {', '.join(COUPLINGS)})")
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
    coupled: list[CoupledGroups] = []
    if couple == "residual":
        coupled = coupled_groups(model, out, granularity, tuple(exclude))
    elif couple == "auto" and gran.couples is not None:
        try:
            coupled = coupled_groups(model, out, granularity, tuple(exclude))
        except ExportError:  # not traceable: no residual adds can be found
            coupled = []
    return GroupSet(out, coupled)


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

    Coupled groups (``groups.coupled`` of a :class:`GroupSet`) count as one group each: with
    ``scope="layer"`` a coupled set removes ``round(f * n_channels)`` joint groups, ``f`` the
    largest fraction of its member layers; with ``scope="global"`` each joint group is one entry
    of the ranking, scored by :meth:`CoupledGroups.joint_scores`. The masks then also cover the
    joint groups' BatchNorm parameters, biases and consumer slices.
    """
    fr = fraction if isinstance(fraction, Mapping) else {n: fraction for n in groups}
    for n, f in fr.items():
        if n not in groups:
            raise PruningError(f"fraction for '{n}': no such grouped parameter")
        if not 0.0 <= float(f) <= 1.0:
            raise PruningError(f"fraction for '{n}'={f}: must be in [0, 1]")
    coupled: list[CoupledGroups] = list(getattr(groups, "coupled", []))
    joint = {n for c in coupled for n in c.members}
    single = [n for n in groups if n not in joint]
    # one ranking unit per independent layer and per coupled set
    unit_scores = [np.asarray(scores[n]) for n in single] + [c.joint_scores(scores)
                                                            for c in coupled]
    picked: list[np.ndarray] = []
    if scope == "layer":
        for n, sc in zip(single, unit_scores[:len(single)], strict=True):
            picked.append(_lowest(sc, int(round(float(fr.get(n, 0.0)) * len(sc)))))
        for c, sc in zip(coupled, unit_scores[len(single):], strict=True):
            f = max(float(fr.get(n, 0.0)) for n in c.members)
            picked.append(_lowest(sc, int(round(f * len(sc)))))
    elif scope == "global":
        if isinstance(fraction, Mapping):
            raise PruningError("scope='global' takes one fraction, not one per layer")
        sizes = [len(sc) for sc in unit_scores]
        flat = np.concatenate(unit_scores) if unit_scores else np.zeros(0)
        owner = np.repeat(np.arange(len(sizes)), sizes)
        offset = np.cumsum([0] + sizes)
        pick = _lowest(flat, int(round(float(fraction) * len(flat))))
        picked = [pick[owner[pick] == i] - offset[i] for i in range(len(sizes))]
    else:
        raise PruningError(f"scope '{scope}': must be 'layer' or 'global'")
    removed = dict(zip(single, picked[:len(single)], strict=True))
    extra: dict[str, np.ndarray] = {}
    for c, ids in zip(coupled, picked[len(single):], strict=True):
        for n, chan in c.members.items():
            removed[n] = np.flatnonzero(np.isin(chan, ids))
        for n, keep in c.removal_masks(ids).items():
            extra[n] = extra[n] & keep if n in extra else keep
    out = masks_from_removed(groups, removed) & Masks(extra)
    return out & masks if masks is not None else out


def couple_batchnorm(model: nn.Module, masks: Masks) -> Masks:
    """Masks with every BatchNorm that follows a conv masked with its filters.

    A filter whose weights are all removed still outputs ``beta - mean * gamma / std`` through its
    BatchNorm; masking that channel's ``gamma`` and ``beta`` too makes the channel exactly zero
    (and the folded conv bias zero), so the filter is really gone. Other masks are kept as given.
    """
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
