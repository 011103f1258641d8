"""ReaLPrune: crossbar-aware lottery-ticket pruning for on-chip training, and the round runner.

ReaLPrune (Joardar et al., arXiv 2111.09272) looks for a *winning ticket* — a sparse sub-network
that trains from its initial weights to the dense model's accuracy — whose surviving weights occupy
as few ReRAM crossbars as possible in the layout used for **training**. On a training chip the
forward pass and the error back-propagation read the same cells (the transposed read drives the
columns and senses the rows), so a crossbar row or column only frees hardware if it is empty in
both directions. ReaLPrune therefore prunes whole *crossbar row segments* (the weights of one
wordline inside one crossbar block) and whole *crossbar column segments* (one bitline group inside
one block): an empty row segment is an input never driven forward and an output never converted
backward, an empty column segment the reverse, and the survivors of a block compact into a smaller
dense rectangle; a block whose row or column segments are all gone is a whole crossbar freed.

Iterative magnitude pruning with rewinding, one round at a time (:mod:`pruning.rounds`):

1. Round 0 trains the dense model from its initial weights (or from the *rewind point*, the weights
   after ``rewind_epochs`` epochs of training, "late rewinding").
2. Round ``r`` scores every group of the previous round's trained weights by its L1 or L2 norm,
   removes the lowest ``rate`` fraction of the groups still present (per layer or globally;
   layers may be excluded, by default the first conv and the classifier; a floor keeps a minimum
   fraction of each layer), rewinds the survivors to the rewind point and retrains them.
3. It stops at the target sparsity, after ``rounds`` rounds, when the fraction left to the
   target is so small that it rounds to no group (the round would remove nothing), or when the
   validation accuracy drops more than ``tolerance`` below the dense model's; the ticket is the
   last round within tolerance.

Each round reports the weights remaining, the crossbars occupied under the dense and the compact
mapping of its mask (:mod:`rram_sim.mapping` on the training chip), the hardware reduction
``1 - compact crossbars / dense crossbars`` and the accuracy. The same runner executes every
method of the registry (:data:`METHODS`; the baselines live in :mod:`pruning.baselines`): a method
is a granularity, a norm, a scope, and whether survivors are rewound or fine-tuned.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from pruning.data import DataSplits, get_data
from pruning.errors import PruningError
from pruning.masks import Masks, prunable_names
from pruning.models import build_model
from pruning.rounds import INIT_FILE, REWIND_FILE, RunFolder, load_state, save_state
from pruning.train import evaluate, seed_everything, train
from rram_sim import config as rconfig
from rram_sim.config import Config
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer

SCOPES = ("layer", "global")
NORMS = ("l1", "l2")


# ---------------------------------------------------------------------------------------------
# The method registry
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Method:
    """A pruning method the round runner can execute.

    ``granularity`` names the group kinds of :func:`pruning.groups.make_groups` (several are
    combined: every group of every kind competes for removal). ``rewind`` True is the lottery
    ticket (survivors go back to the rewind point each round); False fine-tunes the previous
    round's weights. ``one_shot`` prunes straight to the target in one round and spends the whole
    training budget (``rounds x epochs``) fine-tuning it. ``random_scores`` replaces norms with
    seeded random numbers (the lottery-ticket control). ``exclude_first_last`` leaves the first
    conv and the classifier unpruned unless the run names its own exclusions. ``scope`` and
    ``rate`` are the defaults used when the run does not set them.
    """

    name: str
    description: str
    granularity: tuple[str, ...]
    scope: str = "layer"
    rate: float = 0.2
    rewind: bool = True
    one_shot: bool = False
    random_scores: bool = False
    exclude_first_last: bool = True


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Add a method to the registry (a new method is this one call)."""
    if method.name in METHODS:
        raise PruningError(f"method '{method.name}': already registered")
    if method.scope not in SCOPES:
        raise PruningError(f"method '{method.name}': scope={method.scope!r} must be one of "
                           f"{', '.join(SCOPES)}")
    METHODS[method.name] = method
    return method


def _load_registry() -> None:
    import pruning.baselines  # noqa: F401  (registers the baselines)


def method_names() -> list[str]:
    _load_registry()
    return list(METHODS)


def get_method(name: str) -> Method:
    _load_registry()
    if name not in METHODS:
        raise PruningError(f"method '{name}': unknown (known: {', '.join(METHODS)})")
    return METHODS[name]


REALPRUNE = register_method(Method(
    name="realprune",
    description="ReaLPrune: crossbar row and column segments by norm, lottery-ticket rewinding",
    granularity=("row_segment", "col_segment"),
))


# ---------------------------------------------------------------------------------------------
# Settings and results
# ---------------------------------------------------------------------------------------------

# Settings that only decide when to stop; they may change when a run is resumed or extended.
STOP_SETTINGS = ("rounds", "target_sparsity", "tolerance", "data_root", "progress")


@dataclass
class PruneSettings:
    """Everything that defines a pruning run (defaults: the CI-size ReaLPrune run on digits).

    ``rate`` is the fraction of the remaining groups removed per round (``None``: the method's);
    ``floor`` the minimum fraction of each layer's groups that is always kept; ``exclude`` the
    parameter names never pruned (``None``: the first conv and the classifier, when the method's
    ``exclude_first_last`` says so); ``rewind_epochs`` 0 rewinds to the initial weights, ``k``
    to the weights after ``k`` epochs; ``tolerance`` the largest validation-accuracy drop
    (fraction) from the dense model; ``threads`` the torch CPU threads (1 by default: on a
    shared 2-core machine more threads spin against other processes and a small CNN trains
    several times slower; the thread count can change float summation order, so it is part of a
    run's identity).
    """

    model: str = "digits_cnn"
    data: str = "digits"
    data_root: str | None = None
    chip: str = "edge"
    width: float = 1.0
    method: str = "realprune"
    granularity: tuple[str, ...] | None = None
    norm: str = "l1"
    scope: str | None = None
    rate: float | None = None
    floor: float = 0.02
    exclude: tuple[str, ...] | None = None
    rewind_epochs: int = 0
    target_sparsity: float = 0.9
    rounds: int = 10
    tolerance: float = 0.02
    epochs: int = 4
    optimizer: str = "sgd"
    lr: float = 0.05
    batch_size: int = 64
    seed: int = 0
    threads: int = 1
    progress: bool = False

    def resolved(self) -> PruneSettings:
        """A copy with the method's defaults filled in and every value checked."""
        m = get_method(self.method)
        s = PruneSettings(**asdict(self))
        s.granularity = tuple(self.granularity) if self.granularity else m.granularity
        s.scope = self.scope or m.scope
        s.rate = m.rate if self.rate is None else float(self.rate)
        _check(s.scope in SCOPES, "scope", s.scope, f"must be one of {', '.join(SCOPES)}")
        _check(s.norm in NORMS, "norm", s.norm, f"must be one of {', '.join(NORMS)}")
        _check(0 < s.rate < 1, "rate", s.rate, "must be in (0, 1)")
        _check(0 <= s.floor < 1, "floor", s.floor, "must be in [0, 1)")
        _check(0 < s.target_sparsity < 1, "target_sparsity", s.target_sparsity,
               "must be in (0, 1)")
        _check(s.rounds >= 0, "rounds", s.rounds, "must be >= 0")
        _check(s.epochs >= 1, "epochs", s.epochs, "must be >= 1")
        _check(s.rewind_epochs >= 0, "rewind_epochs", s.rewind_epochs, "must be >= 0")
        _check(s.tolerance >= 0, "tolerance", s.tolerance, "must be >= 0")
        _check(s.width > 0, "width", s.width, "must be > 0")
        _check(s.threads >= 1, "threads", s.threads, "must be >= 1")
        return s

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the folder it resumes."""
        d = asdict(self)
        for k in STOP_SETTINGS:
            d.pop(k)
        return d


def _check(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise PruningError(f"{key}={value!r}: {rule}")


@dataclass
class PruneRun:
    """The outcome of a run: one report per finished round and the chosen ticket."""

    path: Path
    settings: PruneSettings
    rounds: list[dict[str, Any]] = field(default_factory=list)
    computed: list[int] = field(default_factory=list)   # rounds computed by this call

    @property
    def dense(self) -> dict[str, Any]:
        return self.rounds[0]

    @property
    def ticket(self) -> dict[str, Any]:
        """The sparsest round whose accuracy stayed within tolerance (round 0 if none)."""
        ok = [r for r in self.rounds if r["within_tolerance"]]
        return ok[-1] if ok else self.rounds[0]


# ---------------------------------------------------------------------------------------------
# Hardware figures of a mask
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# One pruning step
# ---------------------------------------------------------------------------------------------

def default_exclude(model: nn.Module) -> tuple[str, ...]:
    """The first conv (few weights, sees raw pixels) and the classifier (its output columns are
    the classes: a filter-like group there deletes a class)."""
    names = prunable_names(model)
    params = dict(model.named_parameters())
    convs = [n for n in names if params[n].dim() == 4]
    linears = [n for n in names if params[n].dim() == 2]
    return tuple(dict.fromkeys(convs[:1] + linears[-1:]))


def _dead_groups(g: Any, mask: np.ndarray) -> np.ndarray:
    """bool [n_groups]: groups none of whose weights the mask keeps (already removed)."""
    gid = g.group_id.ravel()
    sel = gid >= 0
    alive = np.bincount(gid[sel], weights=mask.ravel()[sel].astype(np.float64),
                        minlength=g.n_groups)
    return alive == 0


def prune_step(model: nn.Module, masks: Masks, settings: PruneSettings, cfg: Config,
               fraction: float, seed: int) -> Masks:
    """Remove the lowest-scoring ``fraction`` of the groups still present; return the new masks.

    The model's weights must already be masked. With several granularities (ReaLPrune's row and
    column segments) the kinds take turns, each removing ``1 - (1 - fraction) ** (1 / kinds)`` of
    its remaining groups, scored on the weights the previous kind left, so about ``fraction`` of
    the weights go in all. A layer always keeps ``floor`` of its groups. Groups are ranked by
    their norm divided by their size (groups at a matrix edge are smaller), per layer or, with
    ``scope="global"``, all layers together.

    The result keeps every name of ``masks`` (in order) and adds the masks pruning creates on
    other parameters: the BatchNorm and consumer-slice masks of coupled filter / channel groups
    (:class:`pruning.groups.GroupSet`), and the BatchNorm of every conv whose filters are all gone
    (:func:`pruning.groups.couple_batchnorm`: a removed filter's channel is then exactly zero
    instead of its BatchNorm's constant shift).
    """
    from pruning.groups import couple_batchnorm, group_scores, make_groups, prune_lowest

    method = get_method(settings.method)
    order = masks.names()
    kinds = tuple(settings.granularity or ())
    per_kind = 1.0 - (1.0 - fraction) ** (1.0 / max(len(kinds), 1))
    params = dict(model.named_parameters())
    rng = np.random.default_rng(seed)
    for kind in kinds:
        groups = make_groups(model, kind, cfg, exclude=tuple(settings.exclude or ()))
        # per weight: partial blocks at a matrix edge make smaller groups, whose plain norm would
        # send them first whatever their weights
        scores = group_scores(model, groups, settings.norm, per_weight=True)
        dead = {n: _dead_groups(g, masks[n]) for n, g in groups.items()}
        if method.random_scores:  # the control: same groups and counts, random choice
            scores = {n: rng.random(g.n_groups) + 1e-6 for n, g in groups.items()}
        # removed groups sort first, whatever their score (random scores, exact zeros)
        scores = {n: np.where(dead[n], -1.0, scores[n]) for n in groups}
        n_dead = {n: int(d.sum()) for n, d in dead.items()}
        if settings.scope == "global":
            names = list(groups)
            flat = np.concatenate([scores[n] for n in names])
            owner = np.concatenate([np.full(groups[n].n_groups, i) for i, n in enumerate(names)])
            live = int(len(flat) - sum(n_dead.values()))
            pick = np.argsort(flat, kind="stable")[:sum(n_dead.values())
                                                    + int(round(per_kind * live))]
            counts = np.bincount(owner[pick], minlength=len(names))
            want = {n: int(counts[i]) for i, n in enumerate(names)}
        else:
            want = {n: n_dead[n] + int(round(per_kind * (g.n_groups - n_dead[n])))
                    for n, g in groups.items()}
        fractions = {}
        for n, g in groups.items():
            cap = max(n_dead[n], int(math.floor((1.0 - settings.floor) * g.n_groups)))
            fractions[n] = min(want[n], cap) / g.n_groups
        masks = prune_lowest(scores, groups, fractions, scope="layer", masks=masks)
        with_mask = masks.to_tensors()
        for n, t in with_mask.items():  # the next kind scores what this one left
            params[n].data.mul_(t.to(params[n].dtype))
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        masks = couple_batchnorm(model, masks)
        masks.apply(model)
    extra = [n for n in masks.names() if n not in order]
    return Masks({n: masks[n] for n in order + extra})


def round_fraction(masks: Masks, settings: PruneSettings, one_shot: bool) -> float:
    """Fraction of the remaining prunable weights to remove this round: the rate, cut so that the
    run stops at the target sparsity (a one-shot method goes to the target at once)."""
    excluded = set(settings.exclude or ())
    masks = weight_masks(masks)
    kept = sum(int(m.sum()) for _, m in masks.items())
    total = sum(int(m.size) for _, m in masks.items())
    kept_prunable = sum(int(m.sum()) for n, m in masks.items() if n not in excluded)
    need = (kept - (1.0 - settings.target_sparsity) * total) / max(kept_prunable, 1)
    if one_shot:
        return float(min(max(need, 0.0), 1.0 - settings.floor))
    return float(min(settings.rate, max(need, 0.0)))


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------

def _log(settings: PruneSettings, msg: str) -> None:
    if settings.progress:
        print(msg, file=sys.stderr)


def run(settings: PruneSettings, out: str | os.PathLike,
        data: DataSplits | None = None,
        on_round: Callable[[dict[str, Any]], None] | None = None) -> PruneRun:
    """Run (or resume) a pruning run in folder ``out``; finished rounds are read, not recomputed."""
    s = settings.resolved()
    method = get_method(s.method)
    cfg = rconfig.load(s.chip)
    if data is None:
        data = get_data(s.data, s.data_root, batch_size=s.batch_size, seed=s.seed)
    spec = {"name": s.model, "num_classes": data.num_classes, "in_channels": data.in_channels,
            "width": s.width, "image_size": data.image_size}

    seed_everything(s.seed, threads=s.threads)
    model = build_model(**spec)
    if s.exclude is None:
        s.exclude = default_exclude(model) if method.exclude_first_last else ()
    unknown = [n for n in s.exclude if n not in dict(model.named_parameters())]
    if unknown:
        raise PruningError(f"exclude: '{unknown[0]}' is not a parameter of model '{s.model}' "
                           f"(prunable: {', '.join(prunable_names(model))})")
    folder = RunFolder(out, {"format": 1, **s.identity()}).open()
    result = PruneRun(Path(out), s)
    n_rounds = 1 if method.one_shot else s.rounds
    epochs = s.epochs * max(s.rounds, 1) if method.one_shot else s.epochs

    # Round 0: the dense model, trained from the rewind point; saves the points rounds rewind to.
    r0 = folder.round_path(0)
    if not folder.is_complete(0):
        _log(s, f"round 0: dense {s.model} on {s.data}")
        r0.mkdir(parents=True, exist_ok=True)
        if not (r0 / REWIND_FILE).is_file():
            save_state(r0 / INIT_FILE, model.state_dict())
            if s.rewind_epochs:
                train(model, data, s.rewind_epochs, optimizer=s.optimizer, lr=s.lr,
                      schedule="constant", seed=s.seed, checkpoint_dir=r0 / "rewind",
                      progress=s.progress, model_spec=spec)
            save_state(r0 / REWIND_FILE, model.state_dict())
        model.load_state_dict(load_state(r0 / REWIND_FILE))
        masks = Masks.ones_like(model)
        _finish_round(folder, 0, model, masks, data, s, cfg, spec, s.epochs, None, result)
    result.rounds.append(folder.load(0).report)
    if on_round:
        on_round(result.rounds[-1])

    dense_val = result.dense["val_acc"]
    for r in range(1, n_rounds + 1):
        prev = folder.load(r - 1)
        if not folder.is_complete(r):
            if not prev.report["within_tolerance"]:
                break
            if prev.report["sparsity"] >= s.target_sparsity - 1e-9:
                break
            fraction = round_fraction(prev.masks, s, method.one_shot)
            if fraction <= 0:
                break
            _log(s, f"round {r}: prune {fraction:.1%} of the remaining groups ({s.method})")
            model.load_state_dict(prev.weights())
            prev.masks.apply(model)
            masks = prune_step(model, prev.masks, s, cfg, fraction, seed=s.seed * 7919 + r)
            if fraction < s.rate and weight_masks(masks) == weight_masks(prev.masks):
                break  # the fraction left to the target rounds to no group: nothing to prune
            if method.rewind:
                model.load_state_dict(load_state(r0 / REWIND_FILE))
            _finish_round(folder, r, model, masks, data, s, cfg, spec, epochs, dense_val, result)
        result.rounds.append(folder.load(r).report)
        if on_round:
            on_round(result.rounds[-1])
    return result


def _finish_round(folder: RunFolder, r: int, model: nn.Module, masks: Masks, data: DataSplits,
                  s: PruneSettings, cfg: Config, spec: dict[str, Any], epochs: int,
                  dense_val: float | None, result: PruneRun) -> None:
    """Train round ``r`` (resuming its checkpoint if any), measure it and mark it complete."""
    tr = train(model, data, epochs, optimizer=s.optimizer, lr=s.lr, masks=masks,
               seed=s.seed + 1000 * r, checkpoint_dir=folder.checkpoint_dir(r),
               progress=s.progress, model_spec=spec)
    _, test_acc = evaluate(model, data.test)
    hw = hardware_report(masks, cfg)
    base = tr.val_acc if dense_val is None else dense_val
    report = {
        "round": r, "method": s.method, "model": s.model, "data": s.data, "chip": cfg.name,
        "granularity": list(s.granularity or ()), "epochs": epochs,
        "val_acc": tr.val_acc, "test_acc": test_acc, "dense_val_acc": base,
        "accuracy_change": tr.val_acc - base,
        "within_tolerance": bool(tr.val_acc >= base - s.tolerance - 1e-12),
        **hw,
    }
    folder.save(r, masks, report)
    result.computed.append(r)
    _log(s, f"round {r}: sparsity {hw['sparsity']:.1%}, crossbars {hw['crossbars_compact']}/"
            f"{hw['crossbars_dense']}, val acc {tr.val_acc:.3f}")


def rounds_needed(rate: float, target: float) -> int:
    """Rounds of ``rate`` per round to reach ``target`` sparsity: ``ceil(log(1-t)/log(1-r))``."""
    return math.ceil(math.log(1.0 - target) / math.log(1.0 - rate) - 1e-9)


def load_round_model(path: str | os.PathLike, index: int | None = None
                     ) -> tuple[nn.Module, Masks, dict[str, Any]]:
    """The trained, masked model of a finished round (default: the run's ticket)."""
    from pruning.checkpoint import model_from_checkpoint

    folder_path = Path(path)
    reports = RunFolder(folder_path, {}).reports()
    if not reports:
        raise PruningError(f"{folder_path}: no finished pruning round")
    if index is None:
        ok = [r for r in reports if r["within_tolerance"]]
        index = (ok[-1] if ok else reports[0])["round"]
    if not 0 <= index < len(reports):
        raise PruningError(f"{folder_path}: round {index} is not finished "
                           f"(rounds 0..{len(reports) - 1} are)")
    rec = RunFolder(folder_path, {}).load(index)
    model, _, _ = model_from_checkpoint(rec.checkpoint_dir)
    rec.masks.validate(model).apply(model)
    return model, rec.masks, rec.report


__all__ = ["Method", "METHODS", "PruneRun", "PruneSettings", "REALPRUNE", "get_method",
           "hardware_report", "load_round_model", "mask_crossbars", "method_names", "prune_step",
           "register_method", "round_fraction", "rounds_needed", "run", "weight_masks"]
