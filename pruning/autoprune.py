"""AUTO-PRUNE: reinforcement-learned per-layer pruning ratios with a hardware reward.

AUTO-PRUNE (Yang et al., ICS 2021) lets a DDPG agent (:mod:`pruning.ddpg`, AMC-style) choose one
pruning ratio per crossbar layer, walking the layers in order, under an accuracy-loss constraint.
One *episode* prunes every layer once:

1. for layer ``t`` the agent sees a state of features in [0, 1] — layer index, type (conv or
   linear), input and output channels, kernel size, stride, weight count, the crossbars the layer
   occupies when mapped dense, the crossbars saved so far, the dense crossbars still to come, and
   the previous action — and answers a ratio in ``[lower, upper]``;
2. the layer loses that fraction of its groups (:mod:`pruning.groups`, lowest L1 norm per weight
   first; the default granularity ``ou_row`` removes one matrix row of one OU column block — the
   ``ou`` mapping keeps, per block of ``ou_logical_cols`` columns, only the rows some column needs
   and packs them into OU-high units, so every ``ou.rows`` rows removed from a block free one unit,
   and the survivors are no longer contiguous, so the indexed datapath is needed; ``ou`` removes
   whole aligned OU blocks (units freed the same way, but each unit keeps a contiguous run of rows,
   which a base address alone can feed); ``ou_column`` removes OU-aligned column vectors,
   ``ou.rows`` rows of one logical column) and is mapped with the ``ou`` scheme
   (:func:`rram_sim.mapping.map_layer`), which gives the crossbars it now occupies;
3. after the last layer the masked network is fine-tuned briefly (``episode_finetune_epochs``,
   masks fixed: pruned weights recover part of the loss, so the accuracy judged is the one a
   policy can reach, not the raw damage of cutting) and evaluated on the held-out validation
   split, and the episode's reward is computed (:func:`reward`).

**Reward.** With ``acc0`` the unpruned validation accuracy, ``acc`` the pruned one, ``eps`` the
allowed loss and ``G_m`` the gain of hardware metric ``m`` (dense cost / pruned cost: the
compression rate of occupied crossbars for ``crossbars``; the energy per inference or the latency
of the mapped model from the :mod:`rram_sim` engine for ``energy`` / ``latency``)::

    R = sum_m log2(G_m) + accuracy_weight * (acc - acc0) - penalty * max(0, acc0 - acc - eps)

Doubling the compression rate is worth one unit of reward; with the default ``penalty = 20``
each 5 points of accuracy lost beyond the allowance cost one unit (10 points over cost as much as
a 4x compression gains). That is mild enough that the agent keeps probing the constraint's
boundary, where the compressing policies are, instead of retreating to light
pruning (with ``penalty = 100`` and whole-``ou`` groups the CI-size search settled on lighter
policies; docs/autoprune.md). The best policy is the highest-reward episode whose accuracy drop
is within ``eps``: an episode over the constraint is never chosen, whatever its reward.

**Result.** The best policy is applied and the model fine-tuned with the masks fixed; of that
model, the one the search evaluated for the policy (same fine-tune, same seed) and the
un-fine-tuned one, the most accurate within ``eps`` on the validation split is returned; if none
is, the policy is scaled by 1/2, 1/4, then 0 — so the returned model always meets the
constraint. It is exported as an ``ou`` bundle with index
tables for the indexed datapath (:mod:`rram_sim.datapath`).

**Resuming.** After every episode the agent (networks, optimizers, baseline, RNG state), the
history and the best policy are written to ``RUN/search/checkpoint.pt`` and the replay buffer to
``RUN/search/replay-EPISODE.npz``; a killed run restarts after the last completed episode and ends
exactly as an uninterrupted one. Fine-tunes are reseeded from ``(seed, episode)``.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pruning.checkpoint import save_checkpoint
from pruning.data import DataSplits
from pruning.ddpg import DdpgAgent, DdpgConfig
from pruning.errors import CheckpointError, PruningError
from pruning.groups import (
    GRANULARITIES,
    LayerGroups,
    group_scores,
    make_groups,
    prune_lowest,
)
from pruning.masks import Masks
from pruning.train import evaluate, train
from rram_sim.config import Config
from rram_sim.fileio import atomic_save_npz, atomic_write_bytes, atomic_write_json
from rram_sim.layout import LayerSpec
from rram_sim.mapping import dense_crossbars, map_layer, ou_logical_cols, unroll_weight

REWARD_METRICS = ("crossbars", "energy", "latency")
EXTRA_GRANULARITIES = ("ou_row", "ou_column")
GRANULARITY_CHOICES = EXTRA_GRANULARITIES + GRANULARITIES
SEARCH_DIR = "search"
CHECKPOINT = "checkpoint.pt"
FORMAT_VERSION = 1
STATE_FEATURES = ("layer_index", "is_conv", "in_channels", "out_channels", "kernel", "stride",
                  "weight_count", "dense_crossbars", "crossbars_saved", "crossbars_left",
                  "previous_action")
# The CI-size search (digits_cnn on digits, edge chip): EPISODES episodes, the first
# warmup_episodes of them random; the agent then learns for the rest (docs/autoprune.md).
EPISODES = 40
AGENT = DdpgConfig(hidden=64, lr_actor=1e-3, lr_critic=1e-2, batch_size=32, replay_size=1000,
                   warmup_episodes=10, delta_decay=0.95)


@dataclass(frozen=True)
class AutoPruneSettings:
    """What the search optimizes and how (defaults: CI-sized; see docs/autoprune.md)."""

    accuracy_loss: float = 0.01          # allowed validation accuracy drop (0.01 = 1 point)
    episodes: int = EPISODES             # search episodes (each prunes every layer once)
    lower: float = 0.0                   # smallest per-layer pruning ratio
    upper: float = 0.8                   # largest per-layer pruning ratio
    granularity: str = "ou_row"          # "ou_row", "ou_column" or a pruning.groups granularity
    norm: str = "l1"                     # group ranking norm (l1, l2), per weight of the group
    exclude: tuple[str, ...] = ()        # parameter names never pruned
    reward_metrics: tuple[str, ...] = ("crossbars",)   # hardware gains in the reward
    accuracy_weight: float = 1.0         # reward per unit of accuracy change
    penalty: float = 20.0                # reward lost per unit of drop beyond the allowance
    episode_finetune_epochs: int = 2     # fine-tune epochs inside each episode before evaluation
    finetune_epochs: int = 3             # fine-tune epochs of the best policy
    finetune_lr: float = 0.05            # SGD learning rate of both fine-tunes
    seed: int = 0
    ddpg: DdpgConfig = field(default_factory=lambda: AGENT)

    def validate(self) -> None:
        def need(ok: bool, key: str, rule: str) -> None:
            if not ok:
                raise PruningError(f"autoprune {key}={getattr(self, key)!r}: {rule}")

        need(0.0 <= self.accuracy_loss < 1.0, "accuracy_loss", "must be in [0, 1)")
        need(self.episodes >= 1, "episodes", "must be >= 1")
        need(0.0 <= self.lower < self.upper <= 1.0, "lower", f"need 0 <= lower < upper={self.upper}"
             " <= 1")
        need(self.granularity in GRANULARITIES + EXTRA_GRANULARITIES, "granularity",
             f"must be one of {', '.join(GRANULARITIES + EXTRA_GRANULARITIES)}")
        need(len(self.reward_metrics) >= 1 and all(m in REWARD_METRICS
                                                    for m in self.reward_metrics),
             "reward_metrics", f"must be one or more of {', '.join(REWARD_METRICS)}")
        need(self.penalty >= 0, "penalty", "must be >= 0")
        need(self.episode_finetune_epochs >= 0, "episode_finetune_epochs", "must be >= 0")
        need(self.finetune_epochs >= 0, "finetune_epochs", "must be >= 0")
        need(self.finetune_lr > 0, "finetune_lr", "must be > 0")
        try:
            self.ddpg.validate()
        except ValueError as exc:
            raise PruningError(f"autoprune {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["exclude"], d["reward_metrics"] = list(self.exclude), list(self.reward_metrics)
        return d


def reward(accuracy: float, base_accuracy: float, gains: dict[str, float],
           settings: AutoPruneSettings) -> float:
    """The episode reward (formula in the module docstring); ``gains`` by metric name, each > 0."""
    hw = sum(math.log2(g) for g in gains.values())
    excess = max(0.0, base_accuracy - accuracy - settings.accuracy_loss)
    return hw + settings.accuracy_weight * (accuracy - base_accuracy) - settings.penalty * excess


def _groups_from_matrix(spec: LayerSpec, mat: np.ndarray, name: str, granularity: str
                        ) -> LayerGroups:
    """LayerGroups from group ids on the unrolled ``[K, N]`` matrix, renumbered densely."""
    size = int(np.prod(spec.weight_shape))
    where = unroll_weight(np.arange(size, dtype=np.int64).reshape(spec.weight_shape), spec)
    gid = np.empty(size, np.int64)
    gid[where.ravel()] = mat.ravel()
    used, dense = np.unique(gid, return_inverse=True)
    return LayerGroups(name, spec, granularity, dense.reshape(spec.weight_shape), int(len(used)))


def ou_column_groups(spec: LayerSpec, cfg: Config, name: str) -> LayerGroups:
    """Groups of ``ou.rows`` consecutive rows of one logical column (OU-aligned column vectors)."""
    k, n = spec.matrix_shape
    r = np.arange(k, dtype=np.int64)[:, None] // cfg.ou.rows
    mat = np.broadcast_to(r * n + np.arange(n, dtype=np.int64)[None, :], (k, n))
    return _groups_from_matrix(spec, mat, name, "ou_column")


def ou_row_groups(spec: LayerSpec, cfg: Config, name: str) -> LayerGroups:
    """Groups of one matrix row across one OU column block (``ou_logical_cols`` logical columns):
    the rows the ``ou`` mapping packs, block by block, into OU-high units."""
    k, n = spec.matrix_shape
    oc = ou_logical_cols(cfg)
    blocks = -(-n // oc)
    mat = np.broadcast_to(np.arange(k, dtype=np.int64)[:, None] * blocks
                          + np.arange(n, dtype=np.int64)[None, :] // oc, (k, n))
    return _groups_from_matrix(spec, mat, name, "ou_row")


EXTRA_GROUPS = {"ou_row": ou_row_groups, "ou_column": ou_column_groups}


def build_groups(model: nn.Module, settings: AutoPruneSettings, cfg: Config
                 ) -> dict[str, LayerGroups]:
    if settings.granularity not in EXTRA_GROUPS:
        return make_groups(model, settings.granularity, cfg, exclude=settings.exclude)
    base = make_groups(model, "filter", cfg, exclude=settings.exclude)
    make = EXTRA_GROUPS[settings.granularity]
    return {n: make(g.spec, cfg, n) for n, g in base.items()}


# ---------------------------------------------------------------------------------------------
# The environment
# ---------------------------------------------------------------------------------------------

@dataclass
class Episode:
    """The outcome of one episode (one per-layer policy)."""

    episode: int
    ratios: list[float]
    accuracy: float
    accuracy_drop: float
    crossbars: int
    dense_crossbars: int
    compression_rate: float
    gains: dict[str, float]
    reward: float
    feasible: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _episode_seed(settings: AutoPruneSettings, episode: int) -> int:
    """Seed of an episode's fine-tune (a pure function: resumed and replayed episodes match)."""
    return settings.seed * 1_000_003 + episode


# A hardware cost function: (masks) -> {"energy": pJ per inference, "latency": ns per inference}.
HardwareCost = Callable[[Masks], dict[str, float]]


class PruningEnv:
    """Prunes and maps one layer per step; evaluates the network at the end of an episode."""

    def __init__(self, model: nn.Module, data: DataSplits, cfg: Config,
                 settings: AutoPruneSettings, hardware_cost: HardwareCost | None = None) -> None:
        settings.validate()
        needs_engine = [m for m in settings.reward_metrics if m != "crossbars"]
        if needs_engine and hardware_cost is None:
            raise PruningError(f"autoprune reward_metrics {needs_engine}: need a hardware cost "
                               "function (the rram_sim engine)")
        self.model, self.data, self.cfg, self.settings = model, data, cfg, settings
        self.hardware_cost = hardware_cost
        self.groups = build_groups(model, settings, cfg)
        if not self.groups:
            raise PruningError("autoprune: the model has no conv or linear layer left to prune")
        self.names = list(self.groups)
        # Per weight: a group cut short by the matrix edge (fewer rows or columns) is not
        # ranked as weak merely for being small.
        self.scores = group_scores(model, self.groups, settings.norm, per_weight=True)
        params = dict(model.named_parameters())
        self.weights = {n: params[n].detach().cpu().numpy().astype(np.float64)
                        for n in self.names}
        self.specs = [self.groups[n].spec for n in self.names]
        self.dense_xb = np.array([dense_crossbars(s, cfg) for s in self.specs], np.int64)
        self.total_dense = int(self.dense_xb.sum())
        self.static = self._static_features()
        self.base_accuracy = evaluate(model, data.val)[1]
        self.base_costs = hardware_cost(Masks()) if needs_engine else {}
        self._xb_cache: dict[tuple[int, int], int] = {}
        self.reset()

    @property
    def n_layers(self) -> int:
        return len(self.names)

    def _static_features(self) -> np.ndarray:
        rows = []
        for i, s in enumerate(self.specs):
            conv = s.kind == "conv"
            rows.append([i, float(conv), s.weight_shape[1], s.weight_shape[0],
                         s.weight_shape[2] if conv else 1, s.stride[0] if conv else 1,
                         int(np.prod(s.weight_shape)), self.dense_xb[i]])
        f = np.array(rows, np.float64)
        lo, span = f.min(axis=0), np.ptp(f, axis=0)
        # min-max per feature over the layers (AMC); a constant feature becomes 0
        return np.where(span > 0, (f - lo) / np.where(span > 0, span, 1.0), 0.0)

    def state(self) -> np.ndarray:
        t = min(self.t, self.n_layers - 1)
        left = int(self.dense_xb[t + 1:].sum()) if self.t < self.n_layers else 0
        dyn = [min(max(self.saved / self.total_dense, 0.0), 1.0), left / self.total_dense,
               self.prev_action]
        return np.concatenate([self.static[t], dyn]).astype(np.float32)

    def reset(self) -> np.ndarray:
        self.t, self.saved, self.prev_action = 0, 0, 0.0
        self.ratios: list[float] = []
        self.crossbars: list[int] = []
        return self.state()

    def layer_masks(self, ratios: dict[str, float]) -> Masks:
        """Masks removing ``ratios[name]`` of each named layer's groups (others whole)."""
        return prune_lowest(self.scores, self.groups, ratios, scope="layer")

    def layer_crossbars(self, i: int, ratio: float) -> int:
        """Crossbars layer ``i`` occupies under the ``ou`` mapping after pruning ``ratio``."""
        name = self.names[i]
        count = int(round(ratio * self.groups[name].n_groups))
        key = (i, count)
        if key not in self._xb_cache:
            mask = self.layer_masks({name: ratio})[name]
            lay = map_layer(self.specs[i], self.weights[name], self.cfg, "ou", mask=mask)
            self._xb_cache[key] = int(lay.n_crossbars)
        return self._xb_cache[key]

    def step(self, action: float) -> tuple[np.ndarray, bool]:
        ratio = float(action)
        xb = self.layer_crossbars(self.t, ratio)
        self.ratios.append(ratio)
        self.crossbars.append(xb)
        self.saved += int(self.dense_xb[self.t]) - xb
        self.prev_action = ratio
        self.t += 1
        return self.state(), self.t == self.n_layers

    def masks_for(self, ratios: list[float]) -> Masks:
        return self.layer_masks(dict(zip(self.names, ratios)))

    def masked_model(self, masks: Masks, finetune_epochs: int, seed: int) -> nn.Module:
        """A copy of the model with ``masks`` applied, fine-tuned ``finetune_epochs`` epochs."""
        m = copy.deepcopy(self.model)
        masks.apply(m)
        if finetune_epochs > 0:
            train(m, self.data, finetune_epochs, lr=self.settings.finetune_lr, masks=masks,
                  seed=seed, progress=False, schedule="cosine")
        return m

    def finish(self, episode: int) -> Episode:
        """Evaluate the episode's policy and compute its reward."""
        s = self.settings
        masks = self.masks_for(self.ratios)
        m = self.masked_model(masks, s.episode_finetune_epochs, _episode_seed(s, episode))
        acc = evaluate(m, self.data.val)[1]
        xb = int(sum(self.crossbars))
        gains = {}
        if "crossbars" in s.reward_metrics:
            gains["crossbars"] = self.total_dense / max(xb, 1)
        others = [k for k in s.reward_metrics if k != "crossbars"]
        if others:
            costs = self.hardware_cost(masks)
            for k in others:
                gains[k] = self.base_costs[k] / max(costs[k], 1e-30)
        drop = self.base_accuracy - acc
        return Episode(episode, list(self.ratios), acc, drop, xb, self.total_dense,
                       self.total_dense / max(xb, 1), gains,
                       reward(acc, self.base_accuracy, gains, s), drop <= s.accuracy_loss + 1e-12)


# ---------------------------------------------------------------------------------------------
# The search
# ---------------------------------------------------------------------------------------------

@dataclass
class SearchResult:
    history: list[Episode]
    best: Episode | None          # highest-reward feasible episode (None if none was feasible)
    base_accuracy: float
    layer_names: list[str]
    resumed_from: int = 0


def _settings_key(env: PruningEnv) -> str:
    return json.dumps({"settings": env.settings.to_dict(), "layers": env.names,
                       "base_accuracy": env.base_accuracy, "chip": env.cfg.config_hash()},
                      sort_keys=True)


def _save_search(folder: Path, key: str, episode: int, agent: DdpgAgent,
                 history: list[Episode]) -> None:
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


def _load_search(folder: Path, key: str, agent: DdpgAgent) -> tuple[int, list[Episode]]:
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
    key = _settings_key(env)
    start, history = 0, []
    if folder is not None and (folder / CHECKPOINT).is_file():
        start, history = _load_search(folder, key, agent)
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
            _save_search(folder, key, ep + 1, agent, history)
        if progress:
            print(f"episode {ep + 1}/{s.episodes}: reward {result.reward:+.3f} accuracy "
                  f"{result.accuracy:.4f} compression {result.compression_rate:.2f}x "
                  f"{'ok' if result.feasible else 'over the loss'}", file=sys.stderr)
    return SearchResult(history, best_episode(history), env.base_accuracy, env.names, start)


# ---------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------

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


@dataclass
class AutoPruneResult:
    """What :func:`autoprune` produced."""

    search: SearchResult
    ratios: dict[str, float]         # the applied policy (after any back-off)
    masks: Masks
    model: nn.Module                 # pruned (and fine-tuned unless that broke the constraint)
    base_accuracy: float             # validation accuracy before pruning
    accuracy: float                  # validation accuracy of ``model``
    test_accuracy: float
    crossbars: int
    dense_crossbars: int
    compression_rate: float
    finetuned: bool
    scale: float                     # the factor the best policy was scaled by (1.0 = as found)
    files: dict[str, str] = field(default_factory=dict)


def finalize(env: PruningEnv, result: SearchResult) -> AutoPruneResult:
    """Apply the best policy, fine-tune, and back off until the accuracy constraint holds.

    Candidates for a policy: the model fine-tuned ``finetune_epochs`` (reseeded), the very model
    the search evaluated (its episode's fine-tune and seed: within the constraint by construction,
    so a noisy re-fine-tune cannot throw a found policy away), and the un-fine-tuned one; the
    most accurate candidate within the constraint is returned. If none is, the policy is scaled
    by 1/2, 1/4, then 0.
    """
    s = env.settings
    best = result.best
    policy = best.ratios if best is not None else [0.0] * env.n_layers
    for scale in (1.0, 0.5, 0.25, 0.0):
        ratios = [r * scale for r in policy]
        masks = env.masks_for(ratios)
        options = [(env.masked_model(masks, s.finetune_epochs, s.seed * 1_000_003 + 999_983),
                    s.finetune_epochs > 0)]
        if scale == 1.0 and best is not None and s.episode_finetune_epochs > 0:
            options.append((env.masked_model(masks, s.episode_finetune_epochs,
                                             _episode_seed(s, best.episode)), True))
        options.append((env.masked_model(masks, 0, 0), False))
        scored = [(evaluate(m, env.data.val)[1], -k, m, ft) for k, (m, ft) in enumerate(options)]
        ok = [c for c in scored if env.base_accuracy - c[0] <= s.accuracy_loss + 1e-12]
        if ok:
            acc, _, m, ft = max(ok, key=lambda c: (c[0], c[1]))   # ties: the earlier candidate
            xb = sum(env.layer_crossbars(i, r) for i, r in enumerate(ratios))
            return AutoPruneResult(
                result, dict(zip(env.names, ratios)), masks, m, env.base_accuracy, acc,
                evaluate(m, env.data.test)[1], int(xb), env.total_dense,
                env.total_dense / max(xb, 1), ft, scale)
    raise AssertionError("unreachable: the unpruned model always meets the constraint")


def simulate_ou(model: nn.Module, masks: Masks, cfg: Config, sample_input: torch.Tensor,
                bundle: Any = None) -> dict[str, float]:
    """Inference figures of the masked model mapped ``ou`` on ``cfg``, from the rram_sim engine:
    ``energy`` (pJ per inference), ``latency`` (ns), ``throughput`` (inferences/s), ``area_mm2``
    (tiles used x tile area, index datapath included as the engine counts it)."""
    from pruning.export import export_bundle
    from rram_sim.simulate import simulate

    if bundle is None:
        bundle = export_bundle(model, masks, cfg, "ou", sample_input[:1], golden=False)
    rep = simulate(bundle, cfg, "inference", batch=1)
    run = rep.runs["inference"]
    return {"energy": float(run["energy_per_item_pj"]), "latency": float(run["latency_ns"]),
            "throughput": float(run["throughput_per_s"]),
            "area_mm2": float(run["tiles_used"] * rep.area["tile_area_mm2"])}


def engine_cost(model: nn.Module, cfg: Config, sample_input: torch.Tensor) -> HardwareCost:
    """A :data:`HardwareCost` for the ``energy`` / ``latency`` reward metrics."""
    return lambda masks: simulate_ou(model, masks, cfg, sample_input)


def _export_ou(model: nn.Module, masks: Masks, cfg: Config, data: DataSplits,
               path: Path) -> Any:
    from pruning.export import export_bundle

    x, _ = next(iter(data.val))
    return export_bundle(model, masks, cfg, "ou", x[:2], path)


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
        _export_ou(fin.model, fin.masks, cfg, data, out / "bundle")
        files["bundle"] = str(out / "bundle")
    policy = {
        "method": "AUTO-PRUNE", "chip": cfg.name, "granularity": settings.granularity,
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
    atomic_write_json(out / "best_policy.json", policy)
    files["policy"] = str(out / "best_policy.json")
    fin.files = files
    return fin


def load_policy(path: str | os.PathLike) -> dict[str, float]:
    """The per-layer ratios of a ``best_policy.json``."""
    p = Path(path)
    if p.is_dir():
        p = p / "best_policy.json"
    if not p.is_file():
        raise PruningError(f"{p}: no such policy file")
    d = json.loads(p.read_text())
    return {lay["name"]: float(lay["ratio"]) for lay in d["layers"]}


__all__ = ["AGENT", "EPISODES", "EXTRA_GROUPS", "GRANULARITY_CHOICES", "REWARD_METRICS",
           "AutoPruneResult", "AutoPruneSettings", "Episode", "PruningEnv", "SearchResult",
           "autoprune", "best_episode", "build_groups", "engine_cost", "finalize", "load_policy",
           "ou_column_groups", "ou_row_groups", "reward", "search", "simulate_ou",
           "write_learning_curve"]
