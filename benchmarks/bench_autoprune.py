"""AUTO-PRUNE against uniform ratios, PIM-Prune-style and ReaLPrune on one model and chip.

Every method comes from the method registry (:mod:`pruning.methods.registry`) and starts from the
same architecture, data and seed: ``autoprune`` and ``uniform`` prune the trained dense model; the
round-based methods (``pim_prune``, ``realprune``) run through :func:`pruning.realprune.run`, whose
round 0 trains the dense model the same way. Each pruned model is exported (``ou`` for AUTO-PRUNE
and uniform, the ``compact`` mapping with index tables for the crossbar-vector methods) and
simulated for one inference on the rram_sim engine. Columns:

- ``accuracy`` / ``test_accuracy``: validation / test accuracy of the pruned, fine-tuned model;
- ``compression_rate``: crossbars of the dense mapping / crossbars occupied;
- ``area_eff``: inferences/s per mm^2 of occupied tiles; ``energy_eff``: inferences per joule —
  both include the index datapath as the engine counts it; ``*_x`` are ratios to PIM-Prune.

Writes ``RUN/comparison.csv``, ``RUN/comparison.md`` and ``RUN/comparison.png``.
Usage: ``python benchmarks/bench_autoprune.py [-o RUN] [--episodes N]`` (CI size by default).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import torch

from pruning.autoprune.settings import EPISODES
from pruning.autoprune.simulation import simulate_ou
from pruning.data import get_data
from pruning.export import export_bundle
from pruning.methods.base import ModelMethod
from pruning.methods.registry import get_method
from pruning.models import build_model
from pruning.realprune import PruneSettings, load_round_model
from pruning.realprune import run as run_rounds
from pruning.train import evaluate, seed_everything, train
from rram_sim.config import load
from rram_sim.fileio import atomic_write_bytes, atomic_write_text, csv_text

FIELDS = ("method", "scheme", "sparsity", "accuracy", "test_accuracy", "crossbars",
          "dense_crossbars", "compression_rate", "throughput_per_s", "area_mm2", "area_eff",
          "energy_pj", "energy_eff", "compression_x", "area_eff_x", "energy_eff_x")


def _row(method, scheme, model, masks, data, cfg, x) -> dict:
    bundle = export_bundle(model, masks, cfg, scheme, x[:1], golden=False)
    hw = simulate_ou(model, masks, cfg, x, bundle=bundle)
    fig = bundle.figures
    return {"method": method, "scheme": scheme,
            "sparsity": masks.sparsity() if len(masks) else 0.0,
            "accuracy": evaluate(model, data.val)[1],
            "test_accuracy": evaluate(model, data.test)[1],
            "crossbars": fig["n_crossbars"], "dense_crossbars": fig["dense_crossbars"],
            "compression_rate": fig["dense_crossbars"] / fig["n_crossbars"],
            "throughput_per_s": hw["throughput"], "area_mm2": hw["area_mm2"],
            "area_eff": hw["throughput"] / hw["area_mm2"], "energy_pj": hw["energy"],
            "energy_eff": 1e12 / hw["energy"]}


def write_comparison(rows: list[dict], out: Path, reference: str = "pim_prune") -> list[str]:
    """Add the ratios to ``reference`` and write comparison.csv / .md / .png; returns the table."""
    base = next(r for r in rows if r["method"] == reference)
    for r in rows:
        r["compression_x"] = r["compression_rate"] / base["compression_rate"]
        r["area_eff_x"] = r["area_eff"] / base["area_eff"]
        r["energy_eff_x"] = r["energy_eff"] / base["energy_eff"]

    atomic_write_text(out / "comparison.csv", csv_text(rows, FIELDS, ".6g"))
    md = ["| method | scheme | val acc | test acc | crossbars | compression | area eff "
          "(inf/s/mm^2) | energy eff (inf/J) | vs PIM-Prune (comp / area / energy) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['method']} | {r['scheme']} | {r['accuracy']:.4f} | "
                  f"{r['test_accuracy']:.4f} | {r['crossbars']}/{r['dense_crossbars']} | "
                  f"{r['compression_rate']:.2f}x | {r['area_eff']:.4g} | {r['energy_eff']:.4g} | "
                  f"{r['compression_x']:.2f}x / {r['area_eff_x']:.2f}x / "
                  f"{r['energy_eff_x']:.2f}x |")
    atomic_write_text(out / "comparison.md", "\n".join(md) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    names = [r["method"] for r in rows]
    for ax, key, label in zip(axes, ("compression_x", "area_eff_x", "energy_eff_x"),
                              ("compression rate", "area efficiency", "energy efficiency")):
        ax.bar(names, [r[key] for r in rows])
        ax.set_title(f"{label} / PIM-Prune")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(out / "comparison.png", png.getvalue())
    return md


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="out/bench_autoprune")
    ap.add_argument("--episodes", type=int, default=EPISODES,
                    help=f"AUTO-PRUNE search episodes (default: {EPISODES})")
    ap.add_argument("--epochs", type=int, default=8,
                    help="dense training epochs, also per round of the round-based methods")
    ap.add_argument("--rounds", type=int, default=20,
                    help="most rounds of pim_prune / realprune (the tolerance stops them)")
    ap.add_argument("--chip", default="edge")
    args = ap.parse_args(argv)
    out = Path(args.output)
    cfg = load(args.chip)
    data = get_data("digits", batch_size=64, seed=0)
    x, _ = next(iter(data.val))
    spec = {"name": "digits_cnn", "num_classes": 10, "in_channels": 1, "width": 1.0,
            "image_size": 8}
    seed_everything(0, threads=1)
    dense = build_model("digits_cnn", 10, 1, 1.0, 8)
    train(dense, data, args.epochs, lr=0.05, seed=0, progress=False,
          checkpoint_dir=out / "dense")
    rows = []

    auto = get_method("autoprune", ModelMethod)(episodes=args.episodes)
    settings = auto.settings
    t0 = time.process_time()
    res = auto.prune(dense, data, cfg, out / "autoprune", model_spec=spec)
    cpu_s = time.process_time() - t0
    rows.append(_row("auto_prune", "ou", res.model, res.masks, data, cfg, x))
    hist = res.search.history
    best = res.search.best
    print(f"auto_prune: {len(hist)} episodes ({settings.ddpg.warmup_episodes} warm-up), "
          f"{sum(e.feasible for e in hist)} within the constraint, best episode "
          f"{best.episode if best else None} ({best.crossbars if best else '-'} crossbars); "
          f"applied policy {' '.join(f'{n}={r:.3f}' for n, r in res.ratios.items())} "
          f"(scale {res.scale}, fine-tuned {res.finetuned}); accuracy {res.base_accuracy:.4f} -> "
          f"{res.accuracy:.4f}, crossbars {res.dense_crossbars} -> {res.crossbars}; "
          f"CPU {cpu_s:.0f} s", file=sys.stderr)

    # uniform: every layer at AUTO-PRUNE's mean ratio, same groups and fine-tune
    mean_ratio = sum(res.ratios.values()) / len(res.ratios)
    uniform = get_method("uniform", ModelMethod)(
        ratio=mean_ratio, granularity=settings.granularity, norm=settings.norm,
        exclude=settings.exclude, finetune_epochs=settings.finetune_epochs,
        finetune_lr=settings.finetune_lr, seed=settings.seed).prune(dense, data, cfg)
    rows.append(_row("uniform", "ou", uniform.model, uniform.masks, data, cfg, x))

    for method in ("pim_prune", "realprune"):
        folder = out / method
        # the same 1-point accuracy constraint as AUTO-PRUNE decides where the rounds stop
        run_rounds(PruneSettings(method=method, chip=args.chip, rounds=args.rounds,
                             epochs=args.epochs, target_sparsity=0.9,
                             tolerance=settings.accuracy_loss), folder, data=data)
        m, masks, _ = load_round_model(folder)
        rows.append(_row(method, "compact", m, masks, data, cfg, x))

    md = write_comparison(rows, out)
    print("\n".join(md))
    print(f"wrote {out / 'comparison.csv'}, .md, .png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(2)
    sys.exit(main())
