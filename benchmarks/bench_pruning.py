"""ReaLPrune against its baselines: weights pruned, crossbars, accuracy and simulated training step.

For every round method of the registry (:mod:`pruning.methods.registry`) this runs the round runner
(:mod:`pruning.realprune`) on one model and dataset with the same rounds and epochs, takes each
method's ticket (its sparsest round within the accuracy tolerance), exports it as a compact layout
bundle for the training chip and simulates one training step with the discrete-event engine
(:func:`rram_sim.simulate.simulate`, mode ``training``, ``overflow="reload"``: a network larger
than the chip runs on it in segments reprogrammed one after another, the programming time and
energy charged). The dense model (round 0, dense mapping) is the reference for the speed-up. Writes,
under ``--out``:

- ``results.csv`` and ``results.md``: one row per method (and the dense reference): weights pruned,
  crossbars occupied (dense tiling and compact mapping), hardware reduction, test accuracy and its
  change from the dense model, reload segments on the chip and the reprogramming's share of the
  step's time and energy, training-step time and energy, speed-up and energy ratio vs dense;
- when the dense model needs reload segments, a row ``dense_on_N_tiles``: the same dense step
  on the chip with its tile count doubled until the model fits (no reload), so the table shows
  how much of the speed-up the reloading accounts for;
- ``rounds.png``: validation accuracy and compact crossbars against the round, one line per method;
- ``runs/METHOD/``: the round folders (resumable: a second call reuses every finished round).

Presets (``--preset``; any option given explicitly overrides the preset's value):

- ``ci`` (default): digits, digits_cnn at width 2, 4 rounds of 3 epochs, half the remaining
  groups per round, every method; it fits the edge chip dense, so nothing is reloaded.
- ``edge-overflow``: digits, resnet20 at width 1 — 282 crossbars of the edge chip's 256 (77 PEs
  of its 64 under one-layer-per-PE placement), so the dense model is trained in 2 reload
  segments — up to 8 rounds of 4 epochs at half the remaining groups per round (a run stops at
  the target, 90 %), methods realprune, lottery, pim_prune, filter_l1_iterative, crossbar and
  random; about 5 minutes on two shared CPU cores.

The paper's setting, when CIFAR-10 is on disk::

    .venv/bin/python benchmarks/bench_pruning.py --data cifar10 --data-root DIR --model vgg16 \\
        --chip pipelayer --rate 0.2 --rounds 11 --epochs 30
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pruning import realprune as rp  # noqa: E402
from pruning.data import get_data  # noqa: E402
from pruning.export import export_bundle  # noqa: E402
from pruning.methods.registry import method_names  # noqa: E402
from pruning.methods.round_method import RoundMethod  # noqa: E402
from rram_sim import config as rconfig  # noqa: E402
from rram_sim.fileio import atomic_write_bytes, atomic_write_text, csv_text  # noqa: E402

FIELDS = ("method", "model", "data", "round", "weights_pruned_pct", "crossbars_dense",
          "crossbars_dense_occupied", "crossbars_compact", "hardware_reduction_pct", "test_acc",
          "test_acc_change", "val_acc", "segments", "reload_time_pct", "reload_energy_pct",
          "step_time_us", "step_energy_uj", "speedup_vs_dense", "energy_ratio_vs_dense")

PRESETS: dict[str, dict[str, Any]] = {
    "ci": dict(data="digits", model="digits_cnn", width=2.0, methods=None, rate=0.5, rounds=4,
               epochs=3, lr=0.05, batch_size=32, target_sparsity=0.9, tolerance=0.03,
               out="out/bench_pruning"),
    # resnet20 at width 1 on 8x8 digits: 282 crossbars (77 PEs) against the edge chip's 256 (64)
    "edge-overflow": dict(data="digits", model="resnet20", width=1.0,
                          methods="realprune,lottery,pim_prune,filter_l1_iterative,crossbar,random",
                          rate=0.5, rounds=8, epochs=4, lr=0.05, batch_size=64,
                          target_sparsity=0.9, tolerance=0.03,
                          out="out/bench_pruning_edge_overflow"),
}


def simulate_step(model, masks, cfg, scheme: str, sample, overflow: str = "reload"
                  ) -> dict[str, float]:
    """One training step of ``model`` (``masks`` applied) on ``cfg``: time, energy, and the
    reload segments it needs (``overflow="reload"``: a network larger than the chip is
    reprogrammed segment by segment within the step; one that fits is one segment, no reload)."""
    from rram_sim.simulate import simulate

    # mapped without the one-chip limit: the reload placement below re-places it in segments
    bundle = export_bundle(model, masks, cfg, scheme, sample, golden=False,
                           allow_multi_chip=True)
    run = simulate(bundle, cfg, "training", overflow=overflow).runs["training"]
    reload_pj = run["phases"].get("reload", {}).get("dynamic_energy_pj", 0.0)
    return {"segments": int(run["segments"]),
            "reload_time_pct": 100.0 * run["reload_ns"] / run["makespan_ns"],
            "reload_energy_pct": 100.0 * reload_pj / run["energy_pj"],
            "step_time_us": run["makespan_ns"] * 1e-3,
            "step_energy_uj": run["energy_per_item_pj"] * 1e-6}


def fitting_chip(cfg, model, masks, scheme: str, sample):
    """``cfg`` with its tile count doubled until ``model`` fits it in one segment: the chip the
    dense model would train on without reloading (only the tiles in use leak)."""
    from rram_sim.errors import MappingError

    while True:
        try:
            export_bundle(model, masks, cfg, scheme, sample, golden=False)
            return cfg
        except MappingError:
            cfg = cfg.replace(**{"chip.tiles": 2 * cfg.chip.tiles})


def row_for(method: str, s: rp.PruneSettings, rep: dict[str, Any], dense: dict[str, Any],
            sim: dict[str, float], dense_sim: dict[str, float]) -> dict[str, Any]:
    return {
        "method": method, "model": s.model, "data": s.data, "round": rep["round"],
        "weights_pruned_pct": 100.0 * rep["sparsity"],
        "crossbars_dense": rep["crossbars_dense"],
        "crossbars_dense_occupied": rep["crossbars_dense_occupied"],
        "crossbars_compact": rep["crossbars_compact"],
        "hardware_reduction_pct": 100.0 * rep["hardware_reduction"],
        "test_acc": rep["test_acc"], "test_acc_change": rep["test_acc"] - dense["test_acc"],
        "val_acc": rep["val_acc"], **sim,
        "speedup_vs_dense": dense_sim["step_time_us"] / sim["step_time_us"],
        "energy_ratio_vs_dense": dense_sim["step_energy_uj"] / sim["step_energy_uj"],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| method | round | weights pruned | crossbars (dense tiling / occupied / compact) "
            "| hw reduction | test acc (change) | segments | reload share (time / energy) "
            "| step time | step energy | speed-up | energy ratio |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['round']} | {r['weights_pruned_pct']:.1f} % | "
            f"{r['crossbars_dense']} / {r['crossbars_dense_occupied']} / {r['crossbars_compact']}"
            f" | {r['hardware_reduction_pct']:.1f} % | {r['test_acc']:.3f} "
            f"({r['test_acc_change']:+.3f}) | {r['segments']} | {r['reload_time_pct']:.2f} % / "
            f"{r['reload_energy_pct']:.2f} % | {r['step_time_us']:.1f} us | "
            f"{r['step_energy_uj']:.1f} uJ | {r['speedup_vs_dense']:.2f}x | "
            f"{r['energy_ratio_vs_dense']:.2f}x |")
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    return csv_text(rows, FIELDS, ".6g")


def plot_rounds(histories: dict[str, list[dict[str, Any]]], path: Path, title: str,
                chip_crossbars: int | None = None) -> None:
    """Validation accuracy and compact crossbars against the round, one line per method (and the
    chip's crossbar count, when given: above it a network needs reload segments)."""
    fig, (ax_acc, ax_xb) = plt.subplots(1, 2, figsize=(11, 4))
    for method, reps in histories.items():
        rounds = [r["round"] for r in reps]
        ax_acc.plot(rounds, [r["val_acc"] for r in reps], marker="o", label=method)
        ax_xb.plot(rounds, [r["crossbars_compact"] for r in reps], marker="o", label=method)
    if chip_crossbars is not None:
        ax_xb.axhline(chip_crossbars, color="k", ls="--", lw=1,
                      label=f"chip: {chip_crossbars} crossbars")
    ax_acc.set(xlabel="round", ylabel="validation accuracy", title="accuracy")
    ax_xb.set(xlabel="round", ylabel="crossbars (compact mapping)", title="crossbars occupied")
    for ax in (ax_acc, ax_xb):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_xb.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def run_bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = Path(args.out)
    methods = args.methods.split(",") if args.methods else method_names(RoundMethod)
    cfg = rconfig.load(args.chip)
    data = get_data(args.data, args.data_root, batch_size=args.batch_size, seed=args.seed)
    sample = next(iter(data.test))[0][:1]
    rows, histories = [], {}
    dense_row = None
    for method in methods:
        t0 = time.perf_counter()
        s = rp.PruneSettings(model=args.model, data=args.data, data_root=args.data_root,
                             chip=args.chip, width=args.width, method=method, rate=args.rate,
                             rounds=args.rounds, epochs=args.epochs,
                             target_sparsity=args.target_sparsity, tolerance=args.tolerance,
                             batch_size=args.batch_size, seed=args.seed, lr=args.lr)
        res = rp.run(s, out / "runs" / method, data=data)
        histories[method] = res.rounds
        path = out / "runs" / method
        if dense_row is None:
            model, masks, dense = rp.load_round_model(path, 0)
            dense_sim = simulate_step(model, masks, cfg, "dense", sample)
            dense_row = row_for("dense", res.settings, dense, dense, dense_sim, dense_sim)
            rows.append(dense_row)
            if dense_sim["segments"] > 1:
                # the same step on a chip large enough: what the reload segments cost in all
                big = fitting_chip(cfg, model, masks, "dense", sample)
                big_sim = simulate_step(model, masks, big, "dense", sample)
                rows.append(row_for(f"dense_on_{big.chip.tiles}_tiles", res.settings, dense,
                                    dense, big_sim, dense_sim))
        ticket = res.ticket
        model, masks, _ = rp.load_round_model(path, ticket["round"])
        sim = simulate_step(model, masks, cfg, "compact", sample)
        rows.append(row_for(method, res.settings, ticket, res.dense, sim, dense_sim))
        print(f"{method}: ticket round {ticket['round']}, {ticket['sparsity']:.1%} pruned, "
              f"{ticket['crossbars_compact']}/{ticket['crossbars_dense']} crossbars, "
              f"{sim['segments']} segment(s), {rows[-1]['speedup_vs_dense']:.2f}x "
              f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    atomic_write_text(out / "results.csv", to_csv(rows))
    atomic_write_text(out / "results.md", markdown(rows))
    plot_rounds(histories, out / "rounds.png",
                f"{args.model} on {args.data}, chip {args.chip}: accuracy and crossbars by round",
                chip_crossbars=cfg.chip.tiles * cfg.tile.pes * cfg.pe.crossbars)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="ci",
                   help="a named configuration (default: ci); options given explicitly override it")
    p.add_argument("--data", default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--model", default=None)
    p.add_argument("--width", type=float, default=None)
    p.add_argument("--chip", default="edge", help="training chip preset or YAML (default: edge)")
    p.add_argument("--methods", default=None,
                   help="comma-separated (default: the preset's; ci: every method)")
    p.add_argument("--rate", type=float, default=None,
                   help="fraction of remaining groups per round (both presets: 0.5)")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--target-sparsity", type=float, default=None)
    p.add_argument("--tolerance", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    rows = run_bench(args)
    print(markdown(rows))
    print(f"wrote {args.out}/results.csv, results.md, rounds.png "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
