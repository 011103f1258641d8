"""The seed papers' CIFAR-10 experiments: ReaLPrune and AUTO-PRUNE at their scale, resumable.

One command runs, step by step (every step is skipped when its outputs exist, so a rerun after a
kill continues where it stopped):

1. ``dense``: each model trained from its initial weights (``init.pt`` kept: the lottery methods
   rewind to it) with the CIFAR recipe (:func:`pruning.data.on_device`: data resident on the
   device, random crop with 4-pixel padding and horizontal flip batched on the device;
   :func:`pruning.train.use_recipe`: one-cycle schedule, bf16 autocast and channels_last on a GPU).
2. ``rounds`` (the ReaLPrune comparison, ``realprune_model``): ReaLPrune and its baselines
   (``pim_prune`` = PIM-Prune-style, ``filter_l1_iterative``, ``lottery`` = unstructured lottery
   ticket) through :func:`pruning.realprune.run`, all from the same dense model (its round 0 is
   this run's dense model, so every method starts from the same weights and rewinds to the same
   initial weights), the same rounds, epochs per round and rate, to the same target sparsity; the
   accuracy tolerance is off (``tolerance`` 1.0), so every method reaches the target and the
   table shows what it cost. ``realprune_scratch``: ReaLPrune's ticket retrained from the initial
   weights with the dense model's schedule (the paper's "the ticket trains from scratch").
3. ``autoprune`` (the AUTO-PRUNE comparison, ``autoprune_model``): AUTO-PRUNE's search
   (:class:`pruning.methods.autoprune.AutoPrune`, DDPG over per-layer ratios, ``ou_row`` groups,
   crossbar reward, 1-point constraint) on a training subset (``search_train`` images, one
   fine-tune epoch per episode); then its policy, ``uniform`` (every layer at AUTO-PRUNE's mean
   ratio) and PIM-Prune-style (``pim_prune_ft``: rounds at the same tolerance) each get the same
   fine-tuning budget on the full training split: ``finetune_epochs`` epochs for the two one-shot
   methods, ``rounds x epochs`` = ``finetune_epochs`` for the rounds.
4. ``sim``: every dense model and ticket exported (dense mapping for the dense models, ``compact``
   with index tables for the round methods, ``ou`` with index tables for AUTO-PRUNE and uniform)
   and simulated (:func:`rram_sim.simulate.simulate`, ``overflow="reload"``) for one inference on
   ``isaac``, ``pipelayer`` and the edge-class chip, and one training step (``sim_batch`` images)
   on ``pipelayer`` and the edge-class chip (``isaac`` cannot train). The edge-class chip is the
   ``edge`` preset with ``chip.tiles`` doubled until every layer of the dense model fits one
   segment (a reload cannot split a layer), or the preset's ``edge_tiles``; the dense networks
   overflow it and run in reload segments. Simulations run in ``--jobs`` processes.
5. ``table``: ``results.csv`` and ``results.md``, one row per (model, method, chip).

Presets (``--preset``): ``tiny`` (synthetic 8x8 data, narrow networks, seconds; run by the tests),
``cpu`` (ResNet-20 at width 0.5 on a 5,000-image subset of CIFAR-10 and VGG-11 at width 0.25 on
the same subset: a subset and narrower networks, named as such; sized for 60 minutes on two
cores), ``gpu-realprune`` (ResNet-20: dense, ReaLPrune, PIM-Prune-style, lottery) and
``gpu-autoprune`` (VGG-11 with BatchNorm: dense, AUTO-PRUNE, PIM-Prune-style, uniform), each sized
to 10 minutes of one H200 by an estimate (``--plan`` prints it; docs/results.md states how).

Everything is written under ``-o OUT``; ``OUT/config.json`` holds the settings that change a
result and a rerun with different ones is refused. Checkpoints and masks are ``torch.save`` /
``.npz`` files read back with ``weights_only=True`` / ``allow_pickle=False``, so the hardware
columns can be recomputed on a CPU from them whenever the simulator changes: ``--resimulate``
re-exports and re-simulates every ticket and rewrites the table, training nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from pruning import realprune as rp
from pruning.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from pruning.data import get_data, on_device, subset
from pruning.errors import PruningError
from pruning.hardware import hardware_report, weight_masks
from pruning.masks import Masks
from pruning.methods.base import ModelMethod
from pruning.methods.registry import get_method
from pruning.models import build_model
from pruning.rounds import INIT_FILE, REWIND_FILE, RunFolder, load_state, save_state
from pruning.train import TrainRecipe, seed_everything, train, use_recipe
from rram_sim import config as rconfig
from rram_sim.fileio import atomic_write_json, atomic_write_text, csv_text

DATA_LABEL = {"cifar10": "CIFAR-10 (JPEG copy)", "synthetic": "synthetic 8x8 (tests only)"}
CHIPS = ("isaac", "pipelayer", "edge")
TRAINING_CHIPS = ("pipelayer", "edge")
DONE = "done.json"

# Measured on this project's 2-core CPU machine (shared with other jobs), one epoch of 2,000
# CIFAR-10 images at batch 128 plus 1,500 evaluated, with the crop/flip recipe
# (docs/results.md, "CIFAR-10 at the papers' scale"): seconds per training image (evaluation
# counted as a third of an image). The GPU estimate divides by GPU_FACTOR (a stated assumption,
# not a measurement).
CPU_S_PER_IMAGE = {"resnet20": 34.6 / 2500, "vgg11": 80.2 / 2500}
# Narrower networks, relative to full-width ResNet-20 (one 128-image training step each, one
# thread, measured in one run under load: 12.75 and 8.64 against 46.24 ms per image).
WIDTH_FACTOR = {("resnet20", 0.5): 12.75 / 46.24, ("vgg11", 0.25): 8.64 / 46.24 * 34.6 / 80.2}
GPU_FACTOR = 200.0


@dataclass(frozen=True)
class Preset:
    """Everything that defines a run (all of it but ``jobs`` is the run's identity)."""

    data: str = "cifar10"
    train_images: int | None = None          # None: the whole training split (45,000)
    val_images: int | None = None
    test_images: int | None = None
    batch_size: int = 512
    seed: int = 0
    realprune_model: str | None = "resnet20"
    realprune_width: float = 1.0
    autoprune_model: str | None = "vgg11"
    autoprune_width: float = 1.0
    lr: dict[str, float] = field(default_factory=lambda: {"resnet20": 0.2, "vgg11": 0.1})
    dense_epochs: int = 30
    round_methods: tuple[str, ...] = ("realprune", "pim_prune", "lottery")
    round_epochs: int = 4
    rounds: int = 6
    rate: float = 0.5
    target_sparsity: float = 0.91
    prune_chip: str = "pipelayer"            # the crossbar geometry of the round methods' groups
    scratch: bool = True                     # ReaLPrune's ticket retrained from its init
    autoprune_chip: str = "isaac"
    episodes: int = 40
    warmup_episodes: int = 10
    search_train: int | None = 5000          # training images of the search's fine-tunes
    accuracy_loss: float = 0.01
    finetune_epochs: int = 8
    pim_ft_rounds: int = 4                   # x finetune_epochs / pim_ft_rounds epochs
    sim_batch: int = 16                      # images of a simulated training step
    edge_tiles: int | None = None            # None: doubled from the edge preset's until it maps


PRESETS: dict[str, Preset] = {
    "tiny": Preset(data="synthetic", batch_size=64, realprune_model="resnet20",
                   realprune_width=0.25, autoprune_model="vgg11", autoprune_width=0.125,
                   lr={"resnet20": 0.05, "vgg11": 0.05}, dense_epochs=1,
                   round_methods=("realprune", "pim_prune", "lottery"),
                   round_epochs=1, rounds=2, target_sparsity=0.5, episodes=3,
                   warmup_episodes=2, search_train=128, finetune_epochs=2, pim_ft_rounds=2,
                   sim_batch=2, edge_tiles=1),
    "cpu": Preset(train_images=5000, val_images=1000, test_images=2000, batch_size=128,
                  realprune_width=0.5, autoprune_width=0.25, dense_epochs=15,
                  lr={"resnet20": 0.1, "vgg11": 0.05},
                  round_methods=("realprune", "pim_prune", "lottery", "filter_l1_iterative"),
                  round_epochs=2, rounds=6, episodes=20, warmup_episodes=5, search_train=1000,
                  finetune_epochs=6, pim_ft_rounds=3, sim_batch=4),
    "gpu-realprune": Preset(autoprune_model=None, dense_epochs=30, round_epochs=4, rounds=6),
    "gpu-autoprune": Preset(realprune_model=None, dense_epochs=20, episodes=40,
                            finetune_epochs=8, pim_ft_rounds=4),
}


def _log(msg: str) -> None:
    print(f"[paper_cifar {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Run:
    """One output folder: the data, the recipe, and the steps' outputs."""

    def __init__(self, preset: Preset, out: Path, device: str, data_root: str | None,
                 jobs: int, on_step: Callable[[str], None] | None = None) -> None:
        self.p, self.out, self.device, self.jobs = preset, out, device, jobs
        self.on_step = on_step
        self.computed: list[str] = []
        self.recipe = TrainRecipe(schedule="onecycle")
        out.mkdir(parents=True, exist_ok=True)
        ident = {"format": 1, **json.loads(json.dumps(asdict(preset)))}
        cfg_path = out / "config.json"
        if cfg_path.is_file():
            stored = json.loads(cfg_path.read_text())
            for k in sorted(set(stored) | set(ident)):
                if stored.get(k) != ident.get(k):
                    raise PruningError(f"{cfg_path}: this folder was made with {k}="
                                       f"{stored.get(k)!r}, not {ident.get(k)!r}; use another "
                                       f"output folder")
        else:
            atomic_write_json(cfg_path, ident)
        self.data_root = data_root
        self._data = None

    # -- data --------------------------------------------------------------------------------

    @property
    def data(self):
        if self._data is None:
            p = self.p
            base = get_data(p.data, self.data_root, batch_size=p.batch_size, seed=p.seed)
            d = on_device(base, self.device, augment="crop_flip", seed=p.seed,
                          eval_batch_size=max(p.batch_size, 500),
                          channels_last=self.device.startswith("cuda"))
            self._data = subset(d, p.train_images, p.val_images, p.test_images)
        return self._data

    def spec(self, model: str, width: float) -> dict[str, Any]:
        d = self.data
        return {"name": model, "num_classes": d.num_classes, "in_channels": d.in_channels,
                "width": width, "image_size": d.image_size}

    # -- steps -------------------------------------------------------------------------------

    def step(self, name: str, folder: Path, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``fn`` unless ``folder/done.json`` exists; ``done.json`` (its summary) is written
        last, so a killed step reruns (its own checkpoints continue it)."""
        done = folder / DONE
        if done.is_file():
            return json.loads(done.read_text())
        _log(f"step {name}")
        t0 = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        with use_recipe(self.recipe):
            summary = fn()
        summary = {"step": name, "device": self.device, "wall_s": time.perf_counter() - t0,
                   **summary}
        atomic_write_json(done, summary)
        self.computed.append(name)
        if self.on_step is not None:
            self.on_step(name)
        return summary

    def dense(self, model: str, width: float) -> dict[str, Any]:
        folder = self.out / model / "dense"
        p = self.p

        def go():
            spec = self.spec(model, width)
            seed_everything(p.seed, threads=torch.get_num_threads())
            m = build_model(**spec)
            if not (folder / INIT_FILE).is_file():
                save_state(folder / INIT_FILE, m.state_dict())
            m.load_state_dict(load_state(folder / INIT_FILE))
            r = train(m, self.data, p.dense_epochs, lr=p.lr[model], seed=p.seed,
                      checkpoint_dir=folder / "train", progress=False, model_spec=spec)
            return {"model": model, "width": width, "method": "dense",
                    "epochs": p.dense_epochs, "val_acc": r.val_acc, "test_acc": r.test_acc,
                    "history": r.history}

        return self.step(f"{model}/dense", folder, go)

    def seed_round0(self, model: str, method: str, run_dir: Path, dense: dict[str, Any],
                    chip: str) -> None:
        """Make the dense model the run's round 0 (trained weights, initial weights as the
        rewind point), so every method starts from the same network."""
        folder = RunFolder(run_dir, {})
        if folder.is_complete(0):
            return
        src = self.out / model / "dense"
        r0 = folder.round_path(0)
        r0.mkdir(parents=True, exist_ok=True)
        init = load_state(src / INIT_FILE)
        save_state(r0 / INIT_FILE, init)
        save_state(r0 / REWIND_FILE, init)
        ck = load_checkpoint(src / "train")
        save_checkpoint(folder.checkpoint_dir(0) / "checkpoint.pt", ck)
        m, _, _ = model_from_checkpoint(ck)
        masks = Masks.ones_like(m)
        cfg = rconfig.load(chip)
        rep = {"round": 0, "method": method, "model": model, "data": self.p.data,
               "chip": cfg.name, "granularity": [], "epochs": self.p.dense_epochs,
               "val_acc": dense["val_acc"], "test_acc": dense["test_acc"],
               "dense_val_acc": dense["val_acc"], "accuracy_change": 0.0,
               "within_tolerance": True, **hardware_report(masks, cfg)}
        folder.save(0, masks, rep)

    def rounds(self, model: str, width: float, method: str, dense: dict[str, Any],
               name: str | None = None, rounds: int | None = None, epochs: int | None = None,
               tolerance: float = 1.0, target: float | None = None,
               lr: float | None = None) -> dict[str, Any]:
        p = self.p
        name = name or method
        run_dir = self.out / model / name
        rounds = p.rounds if rounds is None else rounds
        epochs = p.round_epochs if epochs is None else epochs

        def go():
            self.seed_round0(model, method, run_dir, dense, p.prune_chip)
            s = rp.PruneSettings(model=model, data=p.data, chip=p.prune_chip, width=width,
                                 method=method, rate=p.rate, rounds=rounds, epochs=epochs,
                                 target_sparsity=target or p.target_sparsity,
                                 tolerance=tolerance, lr=lr or p.lr[model],
                                 batch_size=p.batch_size, seed=p.seed,
                                 threads=torch.get_num_threads())
            res = rp.run(s, run_dir, data=self.data)
            t = res.ticket
            return {"model": model, "width": width, "method": name, "ticket_round": t["round"],
                    "rounds": len(res.rounds) - 1, "epochs_per_round": epochs,
                    "train_epochs": epochs * (len(res.rounds) - 1),
                    "sparsity": t["sparsity"], "val_acc": t["val_acc"],
                    "test_acc": t["test_acc"],
                    "per_round": [{k: r[k] for k in ("round", "sparsity", "val_acc", "test_acc",
                                                     "crossbars_compact", "crossbars_dense")}
                                  for r in res.rounds]}

        return self.step(f"{model}/{name}", run_dir, go)

    def scratch(self, model: str, width: float, ticket: dict[str, Any]) -> dict[str, Any]:
        """ReaLPrune's ticket trained from the initial weights with the dense schedule."""
        p = self.p
        folder = self.out / model / "realprune_scratch"

        def go():
            spec = self.spec(model, width)
            _, masks, _ = rp.load_round_model(self.out / model / "realprune",
                                              ticket["ticket_round"])
            seed_everything(p.seed, threads=torch.get_num_threads())
            m = build_model(**spec)
            m.load_state_dict(load_state(self.out / model / "dense" / INIT_FILE))
            r = train(m, self.data, p.dense_epochs, lr=p.lr[model], masks=masks, seed=p.seed,
                      checkpoint_dir=folder / "train", progress=False, model_spec=spec)
            return {"model": model, "width": width, "method": "realprune_scratch",
                    "epochs": p.dense_epochs, "sparsity": weight_masks(masks).sparsity(),
                    "val_acc": r.val_acc, "test_acc": r.test_acc}

        return self.step(f"{model}/realprune_scratch", folder, go)

    def autoprune(self, model: str, width: float, dense: dict[str, Any]) -> list[dict]:
        p = self.p
        cfg = rconfig.load(p.autoprune_chip)
        base = self.out / model
        dense_model, _, _ = model_from_checkpoint(base / "dense" / "train")
        settings_cls = get_method("autoprune", ModelMethod)
        ddpg = replace(settings_cls.Settings().ddpg, warmup_episodes=p.warmup_episodes)

        def search():
            spec = self.spec(model, width)
            search_data = subset(self.data, train=p.search_train)
            auto = settings_cls(episodes=p.episodes, accuracy_loss=p.accuracy_loss,
                                episode_finetune_epochs=1, finetune_epochs=0,
                                finetune_lr=p.lr[model], seed=p.seed, ddpg=ddpg)
            res = auto.prune(dense_model, search_data, cfg, base / "autoprune" / "search",
                             model_spec=spec, export=False)
            hist = res.search.history
            return {"ratios": res.ratios, "episodes": len(hist),
                    "feasible_episodes": sum(e.feasible for e in hist),
                    "best_episode": res.search.best.episode if res.search.best else None,
                    "search_crossbars": res.crossbars, "dense_crossbars": res.dense_crossbars,
                    "search_val_acc": res.accuracy, "base_val_acc": res.base_accuracy}

        found = self.step(f"{model}/autoprune_search", base / "autoprune" / "search", search)
        auto_s = settings_cls.Settings()
        out = []
        for name in ("autoprune", "uniform"):
            folder = base / name

            def go(name=name, folder=folder):
                spec = self.spec(model, width)
                if name == "autoprune":
                    ratios = found["ratios"]
                else:
                    mean = sum(found["ratios"].values()) / max(len(found["ratios"]), 1)
                    ratios = {n: mean for n in found["ratios"]}
                # the groups and ranking of AUTO-PRUNE's search (and of the uniform method)
                masks = _ratio_masks(dense_model, cfg, ratios, auto_s)
                seed_everything(p.seed, threads=torch.get_num_threads())
                m, _, _ = model_from_checkpoint(base / "dense" / "train")
                masks.apply(m)
                r = train(m, self.data, p.finetune_epochs, lr=p.lr[model], masks=masks,
                          seed=p.seed + 17, checkpoint_dir=folder / "train", progress=False,
                          model_spec=spec)
                return {"model": model, "width": width, "method": name, "ratios": ratios,
                        "epochs": p.finetune_epochs,
                        "sparsity": weight_masks(masks).sparsity(),
                        "val_acc": r.val_acc, "test_acc": r.test_acc}

            out.append(self.step(f"{model}/{name}", folder, go))
        ft_epochs = max(1, p.finetune_epochs // p.pim_ft_rounds)
        out.append(self.rounds(model, width, "pim_prune", dense, name="pim_prune_ft",
                               rounds=p.pim_ft_rounds, epochs=ft_epochs,
                               tolerance=p.accuracy_loss, target=0.9))
        return out

    # -- hardware ----------------------------------------------------------------------------

    def tickets(self) -> list[dict[str, Any]]:
        """Every network to simulate: (model, method, scheme, where its weights and masks are)."""
        p, rows = self.p, []
        for model, methods in ((p.realprune_model, list(p.round_methods)),
                               (p.autoprune_model, ["autoprune", "uniform", "pim_prune_ft"])):
            if model is None:
                continue
            base = self.out / model
            rows.append({"model": model, "method": "dense", "scheme": "dense",
                         "checkpoint": str(base / "dense" / "train")})
            for m in methods + (["realprune_scratch"] if model == p.realprune_model and p.scratch
                                and "realprune" in methods else []):
                if m in p.round_methods + ("pim_prune_ft",) and (base / m / "run.json").is_file():
                    rows.append({"model": model, "method": m, "scheme": "compact",
                                 "rounds": str(base / m)})
                elif m in ("autoprune", "uniform"):
                    rows.append({"model": model, "method": m, "scheme": "ou",
                                 "checkpoint": str(base / m / "train")})
                elif m == "realprune_scratch":
                    rows.append({"model": model, "method": m, "scheme": "compact",
                                 "checkpoint": str(base / m / "train")})
        return rows

    def edge_chip(self, model: str) -> dict[str, Any]:
        """The edge-class chip for ``model`` (:func:`overflow_edge_chip` on its dense model),
        recorded in ``OUT/MODEL/edge_chip.json``."""
        path = self.out / model / "edge_chip.json"
        if path.is_file():
            return json.loads(path.read_text())
        m, _, ck = model_from_checkpoint(self.out / model / "dense" / "train")
        spec = ck["model"]   # only the input's shape matters (no golden vectors)
        x = torch.zeros(1, spec["in_channels"], spec["image_size"], spec["image_size"])
        info = overflow_edge_chip(m, x, self.p.edge_tiles)
        atomic_write_json(path, info)
        return info

    def simulate_all(self, resimulate: bool = False) -> list[dict[str, Any]]:
        jobs = []
        for t in self.tickets():
            edge = self.edge_chip(t["model"])
            for chip in CHIPS:
                path = self.out / "sim" / f"{t['model']}__{t['method']}__{chip}.json"
                if path.is_file() and not resimulate:
                    continue
                tiles = edge["chip.tiles"] if chip == "edge" else None
                jobs.append((t, chip, tiles, str(path), self.p.sim_batch))
        if jobs:
            _log(f"simulating {len(jobs)} (network, chip) pairs in {self.jobs} process(es)")
            if self.jobs > 1:
                # fork: the children inherit this module, which is not importable by name (it
                # is a script); training is over by now, and each child uses one torch thread
                methods = multiprocessing.get_all_start_methods()
                ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
                with ProcessPoolExecutor(self.jobs, mp_context=ctx) as pool:
                    list(pool.map(_simulate_job, jobs))
            else:
                for j in jobs:
                    _simulate_job(j)
            self.computed.append("sim")
            if self.on_step is not None:
                self.on_step("sim")
        return [json.loads((self.out / "sim" / f"{t['model']}__{t['method']}__{c}.json")
                           .read_text()) for t in self.tickets() for c in CHIPS]


def overflow_edge_chip(model, sample: torch.Tensor, tiles: int | None = None
                       ) -> dict[str, Any]:
    """An edge-class chip that the dense ``model`` overflows: the ``edge`` preset with
    ``chip.tiles`` (from ``tiles``, default the preset's) doubled until every layer maps (a
    reload cannot split a layer), then halved while the network still fits in one segment and
    every layer still maps. ``dense_segments`` records the reload segments of one inference (1
    only when even the smallest chip that maps every layer holds the whole network)."""
    from pruning.export import export_bundle
    from rram_sim.errors import MappingError
    from rram_sim.simulate import simulate

    base = rconfig.load("edge")

    def segments(n: int) -> int | None:
        c = base.replace(**{"chip.tiles": n})
        try:
            b = export_bundle(model, None, c, "dense", sample, golden=False,
                              allow_multi_chip=True)
            return int(simulate(b, c, "inference", batch=1, overflow="reload")
                       .runs["inference"]["segments"])
        except MappingError:
            return None

    n = tiles or base.chip.tiles
    seg = segments(n)
    while seg is None:
        n *= 2
        seg = segments(n)
    while seg == 1 and n > 1:
        smaller = segments(n // 2)
        if smaller is None:
            break
        n, seg = n // 2, smaller
    return {"preset": "edge", "chip.tiles": n, "dense_segments": seg}


def _ratio_masks(model, cfg, ratios: dict[str, float], s) -> Masks:
    from pruning.groups import group_scores, make_groups, prune_lowest

    groups = make_groups(model, s.granularity, cfg, exclude=s.exclude)
    scores = group_scores(model, groups, s.norm, per_weight=True)
    return prune_lowest(scores, groups, {n: ratios.get(n, 0.0) for n in groups}, scope="layer")


def _load_ticket(t: dict[str, Any]):
    if "rounds" in t:
        m, masks, rep = rp.load_round_model(t["rounds"])
        return m, masks
    m, masks, _ = model_from_checkpoint(t["checkpoint"])
    if len(masks):
        masks.apply(m)
    return m, masks


def _simulate_job(job) -> dict[str, Any]:
    """Export one network for one chip and simulate its inference (and training step)."""
    from pruning.export import export_bundle
    from rram_sim.simulate import simulate

    t, chip, tiles, path, sim_batch = job
    torch.set_num_threads(1)
    model, masks = _load_ticket(t)
    cfg = rconfig.load(chip)
    if tiles is not None:
        cfg = cfg.replace(**{"chip.tiles": tiles})
    spec = load_checkpoint(t["checkpoint"] if "checkpoint" in t else
                           Path(t["rounds"]) / "round_00" / "train")["model"]
    x = torch.zeros(1, spec["in_channels"], spec["image_size"], spec["image_size"])
    bundle = export_bundle(model, masks if len(masks) else None, cfg, t["scheme"], x,
                           golden=False, allow_multi_chip=True)
    fig = bundle.figures
    res = {**{k: t[k] for k in ("model", "method", "scheme")}, "chip": chip,
           "chip_tiles": cfg.chip.tiles, "crossbars": int(fig["n_crossbars"]),
           "dense_crossbars": int(fig["dense_crossbars"]),
           "weights_pruned": weight_masks(masks).sparsity() if len(masks) else 0.0}
    passes = ("inference", "training") if chip in TRAINING_CHIPS else ("inference",)
    rep = simulate(bundle, cfg, passes, batch={"inference": 1, "training": sim_batch},
                   overflow="reload")
    for mode in passes:
        r = rep.runs[mode]
        res[mode] = {"makespan_ns": float(r["makespan_ns"]),
                     "throughput_per_s": float(r["throughput_per_s"]),
                     "energy_per_item_pj": float(r["energy_per_item_pj"]),
                     "segments": int(r["segments"]), "tiles_used": int(r["tiles_used"]),
                     "area_mm2": float(r["tiles_used"] * rep.area["tile_area_mm2"])}
    atomic_write_json(Path(path), res)
    return res


# -- the table --------------------------------------------------------------------------------

FIELDS = ("model", "method", "chip", "scheme", "train_epochs", "weights_pruned_pct", "test_acc",
          "test_acc_change", "crossbars", "dense_crossbars", "hardware_reduction_pct",
          "compression_rate", "segments", "inference_area_eff", "inference_energy_eff",
          "area_eff_vs_dense", "energy_eff_vs_dense", "area_eff_vs_pim", "energy_eff_vs_pim",
          "step_time_us", "step_energy_uj", "training_speedup", "training_energy_ratio")


def table_rows(summaries: dict[tuple[str, str], dict], sims: list[dict]) -> list[dict]:
    by = {(s["model"], s["method"], s["chip"]): s for s in sims}
    rows = []
    for s in sims:
        model, method, chip = s["model"], s["method"], s["chip"]
        summ = summaries[(model, method)]
        dense_s = summaries[(model, "dense")]
        d = by[(model, "dense", chip)]
        pim = by.get((model, "pim_prune_ft" if (model, "pim_prune_ft", chip) in by
                      else "pim_prune", chip))
        inf = s["inference"]
        area_eff = inf["throughput_per_s"] / inf["area_mm2"]
        energy_eff = 1e12 / inf["energy_per_item_pj"]

        def eff(o):
            i = o["inference"]
            return i["throughput_per_s"] / i["area_mm2"], 1e12 / i["energy_per_item_pj"]

        d_area, d_energy = eff(d)
        row = {"model": model, "method": method, "chip": chip, "scheme": s["scheme"],
               "train_epochs": summ.get("train_epochs", summ.get("epochs")),
               "weights_pruned_pct": 100.0 * s["weights_pruned"],
               "test_acc": summ["test_acc"],
               "test_acc_change": summ["test_acc"] - dense_s["test_acc"],
               "crossbars": s["crossbars"], "dense_crossbars": d["crossbars"],
               "hardware_reduction_pct": 100.0 * (1 - s["crossbars"] / d["crossbars"]),
               "compression_rate": d["crossbars"] / s["crossbars"],
               "segments": (s.get("training") or inf)["segments"],
               "inference_area_eff": area_eff, "inference_energy_eff": energy_eff,
               "area_eff_vs_dense": area_eff / d_area,
               "energy_eff_vs_dense": energy_eff / d_energy,
               "area_eff_vs_pim": area_eff / eff(pim)[0] if pim else None,
               "energy_eff_vs_pim": energy_eff / eff(pim)[1] if pim else None,
               "step_time_us": None, "step_energy_uj": None, "training_speedup": None,
               "training_energy_ratio": None}
        if "training" in s:
            tr, dt = s["training"], d["training"]
            row.update(step_time_us=tr["makespan_ns"] * 1e-3,
                       step_energy_uj=tr["energy_per_item_pj"] * 1e-6,
                       training_speedup=dt["makespan_ns"] / tr["makespan_ns"],
                       training_energy_ratio=dt["energy_per_item_pj"] / tr["energy_per_item_pj"])
        rows.append(row)
    return rows


def _f(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def markdown(rows: list[dict], data_label: str) -> str:
    lines = [f"Accuracy: test split of {data_label}. Efficiencies: one simulated inference "
             "(area efficiency = inferences/s per mm^2 of the tiles in use; energy efficiency = "
             "inferences/J); speed-up and energy ratio: one simulated training step against the "
             "dense model on the same chip.", "",
             "| model | method | chip | epochs | weights pruned | test acc (change) | crossbars "
             "| hw reduction | compression | segments | area eff x dense / x PIM | energy eff x "
             "dense / x PIM | step time | step energy | train speed-up | train energy ratio |",
             "|" + "---|" * 16]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['method']} | {r['chip']} | {r['train_epochs']} | "
            f"{r['weights_pruned_pct']:.1f} % | {r['test_acc']:.4f} ({r['test_acc_change']:+.4f})"
            f" | {r['crossbars']}/{r['dense_crossbars']} | {r['hardware_reduction_pct']:.1f} % | "
            f"{r['compression_rate']:.2f}x | {r['segments']} | "
            f"{r['area_eff_vs_dense']:.2f}x / {_f(r['area_eff_vs_pim'], '.2f')}x | "
            f"{r['energy_eff_vs_dense']:.2f}x / {_f(r['energy_eff_vs_pim'], '.2f')}x | "
            f"{_f(r['step_time_us'], '.1f')} us | {_f(r['step_energy_uj'], '.1f')} uJ | "
            f"{_f(r['training_speedup'], '.2f')}x | {_f(r['training_energy_ratio'], '.2f')}x |")
    return "\n".join(lines) + "\n"


# -- the whole run ----------------------------------------------------------------------------

def run(preset: Preset, out: str | os.PathLike, device: str = "cpu",
        data_root: str | None = None, jobs: int = 1, stop_after: str | None = None,
        resimulate: bool = False, on_step: Callable[[str], None] | None = None) -> Run:
    """Run (or continue) every step of ``preset`` in ``out``; see the module docstring."""
    out = Path(out)
    r = Run(preset, out, device, data_root, jobs, on_step)
    p = preset
    summaries: dict[tuple[str, str], dict] = {}
    if p.realprune_model:
        model, width = p.realprune_model, p.realprune_width
        dense = r.dense(model, width)
        summaries[(model, "dense")] = dense
        for method in p.round_methods:
            summaries[(model, method)] = r.rounds(model, width, method, dense)
        if p.scratch and "realprune" in p.round_methods:
            summaries[(model, "realprune_scratch")] = r.scratch(
                model, width, summaries[(model, "realprune")])
    if p.autoprune_model:
        model, width = p.autoprune_model, p.autoprune_width
        dense = r.dense(model, width)
        summaries[(model, "dense")] = dense
        for s in r.autoprune(model, width, dense):
            summaries[(model, s["method"])] = s
    if stop_after == "train":
        _log(f"stopped after training ({', '.join(r.computed) or 'nothing new'})")
        return r
    sims = r.simulate_all(resimulate)
    rows = table_rows(summaries, sims)
    label = DATA_LABEL.get(p.data, p.data)
    atomic_write_text(out / "results.csv", csv_text(rows, FIELDS, ".6g"))
    atomic_write_text(out / "results.md", markdown(rows, label))
    atomic_write_json(out / "summary.json", {f"{k[0]}/{k[1]}": v for k, v in summaries.items()})
    _log(f"wrote {out / 'results.csv'} and results.md")
    return r


def plan(p: Preset, name: str) -> str:
    """The sizing estimate of a preset (epochs x images x measured CPU time / GPU_FACTOR)."""
    n_train = p.train_images or 45_000
    n_eval = (p.val_images or 5_000)
    lines, total_cpu = [], 0.0

    def add(what: str, model: str, epochs: int, images: int) -> None:
        nonlocal total_cpu
        width = p.realprune_width if model == p.realprune_model else p.autoprune_width
        per = (CPU_S_PER_IMAGE.get(model, CPU_S_PER_IMAGE["resnet20"])
               * WIDTH_FACTOR.get((model, width), 1.0))
        s = epochs * (images + n_eval / 3) * per
        total_cpu += s
        lines.append(f"  {what}: {epochs} epochs x {images} images -> {s:.0f} s CPU-equivalent")

    if p.realprune_model:
        m = p.realprune_model
        add(f"{m} dense", m, p.dense_epochs, n_train)
        for meth in p.round_methods:
            add(f"{m} {meth}", m, p.rounds * p.round_epochs, n_train)
        if p.scratch:
            add(f"{m} realprune_scratch", m, p.dense_epochs, n_train)
    if p.autoprune_model:
        m = p.autoprune_model
        add(f"{m} dense", m, p.dense_epochs, n_train)
        add(f"{m} autoprune search", m, p.episodes, p.search_train or n_train)
        add(f"{m} autoprune + uniform + pim_prune_ft", m, 3 * p.finetune_epochs, n_train)
    measured = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in CPU_S_PER_IMAGE.items())
    head = (f"preset {name}: ESTIMATE, not a measurement; CPU seconds per image measured on "
            f"this project's 2-core machine ({measured}, full width; narrower networks scaled by "
            f"a measured step-time ratio)")
    gpu = total_cpu / GPU_FACTOR
    return "\n".join([head, *lines, f"  total: {total_cpu / 60:.0f} min on the 2-core CPU; "
                      f"{gpu:.0f} s of training on one H200 if it is {GPU_FACTOR:.0f}x faster "
                      f"(an assumed factor), plus data loading and simulation"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), required=True)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    ap.add_argument("--data-root", default=None,
                    help="folder holding cifar-10-batches-bin/ (not needed by the tiny preset)")
    ap.add_argument("-o", "--out", default=None, help="output folder (default: out/paper_PRESET)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="processes for the simulations (default: the CPU count)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: 1 on CPU, where more threads spin on a "
                         "shared machine; 4 beside a GPU)")
    ap.add_argument("--stop-after", choices=("train",), default=None,
                    help="stop after the training steps (simulate later, e.g. on a CPU)")
    ap.add_argument("--resimulate", action="store_true",
                    help="re-export and re-simulate every ticket (after a simulator change)")
    ap.add_argument("--plan", action="store_true", help="print the sizing estimate and exit")
    args = ap.parse_args(argv)
    preset = PRESETS[args.preset]
    if args.plan:
        print(plan(preset, args.preset))
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("paper_cifar: --device cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    if args.device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    threads = args.threads or (4 if args.device.startswith("cuda") else 1)
    torch.set_num_threads(threads)
    out = Path(args.out or f"out/paper_{args.preset}")
    jobs = args.jobs or os.cpu_count() or 1
    t0 = time.perf_counter()
    run(preset, out, args.device, args.data_root, jobs, args.stop_after, args.resimulate)
    if (out / "results.md").is_file() and args.stop_after is None:
        print((out / "results.md").read_text())
    _log(f"done in {time.perf_counter() - t0:.0f} s ({args.device}, preset {args.preset})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
