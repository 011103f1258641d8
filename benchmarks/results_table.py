"""The placement table of docs/results.md: what pruning buys under each placement policy.

For each network (VGG-11 and ResNet-20 at CIFAR shapes, 3 x 32 x 32, and the demo's network,
``digits_cnn`` on 1 x 8 x 8 digits), each chip (``isaac``, ``pipelayer``, ``edge``), the dense
model and its ReaLPrune-pruned ticket (about 90 % of the weights), and each placement policy
(``none``, ``balance``, and on the chips that train ``balance_training``; pruned networks on chips
whose OU is shorter than the crossbar also under the ``spread`` mapping policy): crossbars,
copies, inference throughput, training-step time and energy, and the speed-up of pruned over
dense under the same policy, with the mechanism that produced it.

**The pruned masks are synthetic but made by ReaLPrune's own machinery**: the model's freshly
initialised weights (seeded) are pruned round after round by
:meth:`pruning.methods.realprune.ReaLPrune.prune_step` (crossbar row and column segments of the
target chip's crossbar geometry, ranked by L1 norm per weight, half of the remaining groups per
round, first conv and classifier excluded), without training between rounds, until 90 % of the
conv and linear weights are gone. The layout, and so every hardware figure, depends only on the
masks and shapes; the accuracy of such a ticket is not measured (it was never trained).

Dense models are mapped ``dense``, pruned tickets ``compact`` (index tables, ReaLPrune's
layout). A network that does not fit one chip runs in reload segments (``overflow="reload"``),
or, when one of its layers alone exceeds the chip, spills onto more chips
(``overflow="multi_chip"``); ``balance`` then has no free crossbars and gives every layer one
copy (a placement policy's copies are placed on one chip). Inference: ``--inference-batch``
images; training: one step of ``--train-batch`` images (``isaac`` cannot train).

Run: ``.venv/bin/python benchmarks/results_table.py`` (about five minutes on two cores);
``--quick`` (the demo's network only, small batches) is what the test runs; ``--json`` prints the
rows as JSON instead of the markdown table; ``-o FILE`` also writes the markdown table to FILE.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch

from pruning.export import export_bundle
from pruning.hardware import weight_masks
from pruning.masks import Masks
from pruning.methods.realprune import ReaLPrune
from pruning.methods.round_method import fraction_to_target
from pruning.models import build_model
from rram_sim import config as rconfig
from rram_sim.engine.timing import geometry_from_layout
from rram_sim.errors import MappingError
from rram_sim.fileio import atomic_write_text
from rram_sim.placement import segment_layers
from rram_sim.placement_policies import (
    NocLoad,
    apply_mapping_policy,
    copy_and_shared_hold_cycles,
    get_policy,
    layer_positions,
    pes_needed,
)
from rram_sim.simulate import simulate

CHIPS = ("isaac", "pipelayer", "edge")
POLICIES = ("none", "balance")
TRAINING_POLICIES = ("balance_training",)   # on chips that train
TARGET = 0.90            # fraction of conv + linear weights pruned (ReaLPrune's "> 90 %")
RATE = 0.5               # fraction of the remaining groups removed per round
MAX_ROUNDS = 12


@dataclass(frozen=True)
class Network:
    label: str
    model: str
    in_channels: int
    image_size: int
    width: float = 1.0


NETWORKS = (
    Network("VGG-11", "vgg11", 3, 32),
    Network("ResNet-20", "resnet20", 3, 32),
    Network("demo (digits_cnn)", "digits_cnn", 1, 8),   # pruning.demo.DemoSettings' network
)
QUICK_NETWORKS = NETWORKS[2:]


def realprune_masks(model: torch.nn.Module, cfg, target: float = TARGET, rate: float = RATE,
                    seed: int = 0) -> tuple[Masks, int]:
    """ReaLPrune's masks for ``cfg``'s crossbar geometry, from the model's own (untrained)
    weights: rounds of :meth:`ReaLPrune.prune_step` without training until ``target`` of the
    conv and linear weights are gone. Returns the masks and the rounds taken."""
    method = ReaLPrune(rate=rate)
    method = ReaLPrune(rate=rate, exclude=method.default_exclude(model))
    masks = Masks.ones_like(model)
    rounds = 0
    for rounds in range(1, MAX_ROUNDS + 1):
        need = fraction_to_target(masks, method.settings.exclude, target)
        if need <= 0:
            rounds -= 1
            break
        # the segments overlap, so a round removes a little less than asked: ask for the
        # rate, or, in the last round, a little more than what is left (cut at the target)
        fraction = min(rate, need * 1.05)
        masks.apply(model)
        masks = method.prune_step(model, masks, cfg, fraction, seed=seed * 7919 + rounds)
        if weight_masks(masks).sparsity() >= target - 1e-3:
            break
    return masks, rounds


def overflow_for(bundle, cfg) -> str:
    """``error`` when the network fits one chip, else ``reload`` when every layer fits one chip,
    else ``multi_chip``."""
    n_xb = [int(lay.n_crossbars) for lay in bundle.layers]
    fresh = bool(bundle.placement.fresh_tile)
    if pes_needed(n_xb, [1] * len(n_xb), cfg, fresh) <= cfg.chip.tiles * cfg.tile.pes:
        return "error"
    try:
        segment_layers(n_xb, cfg, names=[lay.spec.name for lay in bundle.layers],
                       fresh_tile=fresh)
    except MappingError:
        return "multi_chip"
    return "reload"


def bottleneck(bundle, cfg, rep) -> dict[str, Any]:
    """The forward stage with the longest time per image (report figures) and what sets it: its
    copies, vectors per image and hold per vector on a copy's own units."""
    stage = rep.figures["stage_cycles_per_image"]
    name = rep.figures["bottleneck_stage"]
    lay = next(la for la in bundle.layers if la.spec.name == name)
    own, shared = copy_and_shared_hold_cycles(geometry_from_layout(lay, cfg), cfg)
    return {"layer": name, "cycles_per_image": int(stage[name]),
            "copies": int(rep.figures["copies_per_layer"][name]),
            "positions": layer_positions(lay), "hold_cycles": int(own),
            "shared_cycles": int(shared)}


def run_point(net: Network, chip: str, variant: str, bundle, cfg, policy: str,
              inference_batch: int, train_batch: int, mapping: str = "pack") -> dict[str, Any]:
    bundle = apply_mapping_policy(bundle, cfg, mapping)
    overflow = overflow_for(bundle, cfg)
    note = ""
    placement = policy
    if policy != "none" and overflow != "error":
        copies = get_policy(policy).copies(bundle, cfg)
        if set(copies.values()) != {1}:
            raise AssertionError(f"balance copied layers of a network that does not fit: {copies}")
        placement, note = "none", "does not fit one chip: nothing to replicate"
    passes = ("inference", "training") if cfg.training.enabled else ("inference",)
    t0 = time.perf_counter()
    rep = simulate(bundle, cfg, passes, batch={"inference": inference_batch,
                                                "training": train_batch},
                   overflow=overflow, placement=placement)
    wall = time.perf_counter() - t0
    copies = rep.figures["copies_per_layer"]
    n_xb = {lay.spec.name: int(lay.n_crossbars) for lay in bundle.layers}
    inf = rep.runs["inference"]
    top = max(inf["components"], key=lambda c: c["utilization"])
    row = {"network": net.label, "chip": chip, "variant": variant, "policy": policy,
           "mapping": mapping, "overflow": overflow, "note": note,
           "busiest_unit": f"{top['kind']} {top['component']}",
           "busiest_utilization": float(top["utilization"]),
           "weights_pruned": float(bundle.figures.get("weights_pruned", 0.0)),
           "crossbars": int(bundle.figures["n_crossbars"]),
           "crossbars_placed": sum(n_xb[k] * c for k, c in copies.items()),
           "max_copies": max(copies.values()),
           "layers_replicated": sum(c > 1 for c in copies.values()),
           "layers": len(copies), "segments": int(inf["segments"]),
           "inference_throughput_per_s": float(inf["throughput_per_s"]),
           "inference_energy_uj": float(inf["energy_per_item_uj"]),
           "bottleneck": bottleneck(bundle, cfg, rep), "wall_s": round(wall, 2),
           # the slowest inbound link time per image (placement_policies.NocLoad), one chip only
           "noc_link_cycles": (max(NocLoad(bundle, cfg).link_cycles(copies).values(), default=0)
                               if overflow == "error" else None)}
    if "training" in rep.runs:
        tr = rep.runs["training"]
        row.update(training_step_us=float(tr["makespan_ns"]) / 1e3,
                   training_energy_uj=float(tr["energy_per_item_uj"]))
    else:
        row.update(training_step_us=None, training_energy_uj=None)
    return row


def mechanism(dense: dict[str, Any], pruned: dict[str, Any]) -> str:
    """What made the pruned network faster (or not) than the dense one under one policy, from the
    segments and the forward bottleneck stage (time per image = ceil(vectors / copies) x hold per
    vector on a copy's own units)."""
    parts = []
    if dense["segments"] != pruned["segments"]:
        parts.append(f"reload segments {dense['segments']}->{pruned['segments']}")
    if dense["overflow"] == "multi_chip" and pruned["overflow"] != "multi_chip":
        parts.append("spans one chip instead of several")
    bd, bp = dense["bottleneck"], pruned["bottleneck"]

    def stage(b: dict[str, Any]) -> str:
        per_copy = -(-b["positions"] // b["copies"])
        return (f"{b['layer']} {b['copies']} cop{'y' if b['copies'] == 1 else 'ies'} x "
                f"{per_copy} vectors x {b['hold_cycles']} cycles")

    nd, np_ = dense.get("noc_link_cycles"), pruned.get("noc_link_cycles")
    if nd and np_ and nd > bd["cycles_per_image"] and np_ > bp["cycles_per_image"]:
        parts.append(f"both NoC-bound: slowest link {nd}->{np_} cycles per image, above the "
                     f"slowest stage's {bd['cycles_per_image']}->{bp['cycles_per_image']}")
    elif bd["layer"] != bp["layer"]:
        parts.append(f"bottleneck moved: {stage(bd)} -> {stage(bp)}")
    else:
        why = []
        if bd["copies"] != bp["copies"]:
            why.append(f"copies {bd['copies']}->{bp['copies']}")
        if bd["hold_cycles"] != bp["hold_cycles"]:
            why.append(f"hold per vector {bd['hold_cycles']}->{bp['hold_cycles']} cycles")
        if why:
            parts.append(f"bottleneck {bd['layer']}: " + ", ".join(why))
        else:
            parts.append(f"bottleneck unchanged ({stage(bd)}: the compacted layer's busiest "
                         f"crossbar stays full)")
    slow_d = max(bd["cycles_per_image"], nd or 0)      # the slowest stage or link
    slow_p = max(bp["cycles_per_image"], np_ or 0)
    model = slow_d / slow_p if slow_p else 1.0
    got = pruned.get("inference_speedup", model)
    if dense["segments"] == pruned["segments"] and abs(got / model - 1) > 0.15:
        parts.append(f"the stage and link model predicts {model:.2f}x, measured {got:.2f}x: the "
                     f"rest is "
                     f"fill, drain and contention (busiest component: pruned "
                     f"{pruned['busiest_unit']} {pruned['busiest_utilization']:.0%}, dense "
                     f"{dense['busiest_unit']} {dense['busiest_utilization']:.0%})")
    return "; ".join(parts)


def add_speedups(rows: list[dict[str, Any]]) -> None:
    """Speed-up of pruned over dense (same network, chip and policy), and the mechanism."""
    dense = {(r["network"], r["chip"], r["policy"]): r for r in rows
             if r["variant"] == "dense" and r["mapping"] == "pack"}
    for r in rows:
        d = dense[(r["network"], r["chip"], r["policy"])]
        r["inference_speedup"] = r["inference_throughput_per_s"] / d["inference_throughput_per_s"]
        r["training_speedup"] = (d["training_step_us"] / r["training_step_us"]
                                 if r["training_step_us"] else None)
        r["mechanism"] = mechanism(d, r) if r["variant"] == "pruned" else ""


def build_rows(networks=NETWORKS, chips=CHIPS, inference_batch: int = 16, train_batch: int = 16,
               seed: int = 0, log=None) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    rows = []
    for net in networks:
        for chip in chips:
            cfg = rconfig.load(chip)
            torch.manual_seed(seed)
            model = build_model(net.model, 10, net.in_channels, net.width, net.image_size).eval()
            x = torch.zeros(1, net.in_channels, net.image_size, net.image_size)
            masks, rounds = realprune_masks(model, cfg, seed=seed)
            bundles = {
                "dense": export_bundle(model, None, cfg, "dense", x, golden=False,
                                       allow_multi_chip=True),
                "pruned": export_bundle(model, masks, cfg, "compact", x, golden=False,
                                        allow_multi_chip=True)}
            sparsity = weight_masks(masks).sparsity()
            for variant, bundle in bundles.items():
                bundle.figures["weights_pruned"] = sparsity if variant == "pruned" else 0.0
                # spread differs from pack only for compact layers on chips whose OU is
                # shorter than the crossbar (rram_sim.placement_policies.spread_layout)
                mappings = (("pack", "spread") if variant == "pruned"
                            and cfg.ou.rows < cfg.crossbar.rows else ("pack",))
                for mapping in mappings:
                    extra = TRAINING_POLICIES if cfg.training.enabled else ()
                    for policy in POLICIES + extra:
                        row = run_point(net, chip, variant, bundle, cfg, policy,
                                        inference_batch, train_batch, mapping)
                        row["prune_rounds"] = rounds if variant == "pruned" else 0
                        rows.append(row)
                        if log is not None:
                            print(f"{net.label} {chip} {variant} {policy} {mapping}: "
                                  f"{row['wall_s']} s", file=log, flush=True)
    add_speedups(rows)
    return rows


def resnet18_isaac(batch: int = 4) -> list[dict[str, Any]]:
    """ResNet-18 at 224 x 224 (benchmarks/bench_engine.py's graph, random dense weights) on
    ``isaac`` under ``none`` and ``balance``: the issue's case of a first conv never replicated."""
    import importlib.util
    from pathlib import Path

    import numpy as np

    from rram_sim.bundle import map_network

    spec = importlib.util.spec_from_file_location(
        "bench_engine", Path(__file__).resolve().parent / "bench_engine.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cfg = rconfig.load("isaac")
    specs, graph = bench.resnet18(224, 1.0)
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s.weight_shape).astype(np.float32) for s in specs]
    bundle = map_network(specs, weights, cfg, "dense", graph=graph)
    out = []
    for policy in POLICIES:
        rep = simulate(bundle, cfg, "inference", batch=batch, placement=policy, overflow="error")
        inf, stage = rep.runs["inference"], rep.figures["stage_cycles_per_image"]
        out.append({"policy": policy, "latency_us": inf["latency_ns"] / 1e3,
                    "throughput_per_s": inf["throughput_per_s"],
                    "conv1_copies": rep.figures["copies_per_layer"]["conv1"],
                    "conv1_stage_cycles": stage["conv1"],
                    "bottleneck": rep.figures["bottleneck_stage"],
                    "bottleneck_cycles": stage[rep.figures["bottleneck_stage"]]})
    return out


def _f(v: float | None, fmt: str) -> str:
    return "n/a" if v is None else format(v, fmt)


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("network", "chip", "variant", "policy", "mapping", "pruned", "crossbars (placed)",
            "copies", "segments", "inference (inf/s)", "step time (us)", "step energy (uJ)",
            "speed-up inf / step", "mechanism")
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        copies = (f"max {r['max_copies']}, {r['layers_replicated']}/{r['layers']} layers"
                  if r["max_copies"] > 1 else "1 each")
        seg = str(r["segments"]) if r["overflow"] != "multi_chip" else "multi-chip"
        step = "n/a" if r["training_speedup"] is None else f"{r['training_speedup']:.2f}x"
        speed = f"{r['inference_speedup']:.2f}x / {step}" if r["variant"] == "pruned" else ""
        mech = r["mechanism"] or r["note"]
        if r["variant"] == "pruned" and r["note"]:
            mech = f"{mech} ({r['note']})"
        out.append("| " + " | ".join((
            r["network"], r["chip"], r["variant"], r["policy"], r["mapping"],
            f"{100 * r['weights_pruned']:.1f} %", f"{r['crossbars']} ({r['crossbars_placed']})",
            copies, seg, f"{r['inference_throughput_per_s']:.4g}",
            _f(r["training_step_us"], ".4g"), _f(r["training_energy_uj"], ".4g"), speed,
            mech)) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="the demo's network only, inference and training batches of 4")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--inference-batch", type=int, default=16, help="images of an inference run")
    ap.add_argument("--train-batch", type=int, default=16, help="images of a training step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", metavar="FILE", help="also write the markdown table here")
    ap.add_argument("--resnet18-isaac", action="store_true",
                    help="instead: ResNet-18 at 224 x 224 on isaac under none and balance")
    args = ap.parse_args(argv)
    if args.resnet18_isaac:
        print(json.dumps(resnet18_isaac(), indent=1))
        return 0
    for key in ("inference_batch", "train_batch"):
        if getattr(args, key) < 1:
            ap.error(f"--{key.replace('_', '-')}={getattr(args, key)}: must be >= 1")
    nets = QUICK_NETWORKS if args.quick else NETWORKS
    ib, tb = (4, 4) if args.quick else (args.inference_batch, args.train_batch)
    t0 = time.perf_counter()
    rows = build_rows(nets, CHIPS, ib, tb, args.seed, log=sys.stderr)
    table = markdown(rows)
    if args.output:
        atomic_write_text(args.output, table)
    print(json.dumps(rows, indent=1) if args.json else table)
    print(f"wall time {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
