"""``rram-sim simulate BUNDLE``: time and energy of a mapped network on a chip (discrete-event run).

Runs the SimPy chip model (:mod:`rram_sim.engine`) for an inference pass, a training step, or both,
prints a summary table (latency, throughput, energy per inference or step, power, utilization;
with ``--overflow reload`` on a network larger than the chip, the reprogramming time) and writes
the report files (``report.json``, ``records.csv``, ``intervals.csv``) into ``-o DIR``, which must
not already hold a report unless ``--force`` is given. ``--remap`` re-maps the bundle's network
for a ``--chip`` of another crossbar size (or cell, or weight precision) from the weights the
bundle stores, under the bundle's own mapping scheme. ``--accuracy`` adds the network's top-1
accuracy on the chip's crossbars (and exactly quantized) on the bundle's eval set to the summary
and to ``report.json`` (``figures.accuracy``). ``--json`` prints the summary as JSON (units in its
``units`` block); ``--example SCHEME`` simulates a shipped example bundle.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rram_sim import config as config_mod
from rram_sim.bundle import load_bundle
from rram_sim.cli.common import (
    add_bundle_args,
    add_json_arg,
    add_output_arg,
    add_verbosity_args,
    bundle_path,
    print_result,
    progress,
    settings_line,
    verbose,
)
from rram_sim.errors import ConfigError

REPORT_FILES = ("report.json", "records.csv", "intervals.csv")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate", help="time and energy of a layout bundle on a chip (discrete-event)",
        description="Simulate a layout bundle on a chip with the discrete-event model: an "
                    "inference pass, a training step, or both. Prints a summary and writes "
                    "report.json, records.csv and intervals.csv.")
    add_bundle_args(p, "simulate")
    p.add_argument("--chip", metavar="NAME_OR_YAML", default=None,
                   help="chip preset or YAML file (default: the chip the bundle was mapped for)")
    p.add_argument("--remap", action="store_true",
                   help="re-map the bundle's network for --chip from its stored weights (needed "
                        "when the chip's crossbar, cell or weight precision differs)")
    p.add_argument("--pass", dest="mode", choices=("inference", "training", "both"),
                   default="inference", help="what to simulate (default: inference)")
    p.add_argument("--batch", type=int, default=None,
                   help="images: of the inference run (default 1) or of the training step "
                        "(default training.batch_size)")
    p.add_argument("--overflow", choices=("error", "multi_chip", "reload"), default=None,
                   help="a network larger than the chip: fail (error), spill onto more chips "
                        "(multi_chip) or run on one chip in segments reprogrammed in turn "
                        "(reload); default: the bundle's own placement")
    p.add_argument("--placement", choices=("none", "balance", "balance_training", "fixed"),
                   default="none",
                   help="copies per crossbar layer: the bundle's own (none), the bottleneck "
                        "layers replicated into the chip's free PEs until the pipeline's stages "
                        "match (balance; balance_training: a training step's forward plus "
                        "backward stages), or --copies (fixed); default: none")
    p.add_argument("--copies", metavar="LAYER=N[,...]", default=None,
                   help="copies per layer for --placement fixed (layers not named: 1)")
    p.add_argument("--mapping", choices=("pack", "spread"), default="pack",
                   help="pruned (compact) layers cut into the fewest crossbars (pack) or "
                        "spread over the dense layer's row blocks: more crossbars, fewer OU "
                        "reads each (spread); default: pack")
    p.add_argument("--accuracy", action="store_true",
                   help="also measure the network's top-1 accuracy on the chip's crossbars on "
                        "the bundle's eval set (rram-prune export --eval-samples N)")
    add_output_arg(p, "report directory", required=False, default="report")
    p.add_argument("--force", action="store_true",
                   help="overwrite the report files an existing -o folder holds")
    add_verbosity_args(p, "progress bars")
    add_json_arg(p, "the summary")
    p.set_defaults(func=run)


def check_output(out: str, force: bool) -> None:
    """Refuse an ``-o`` that is a file, or a folder holding a report, unless ``force``."""
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise ConfigError(f"-o {out}: exists and is not a folder")
    held = [f for f in REPORT_FILES if (d / f).exists()]
    if held and not force:
        raise ConfigError(f"-o {out}: already holds a report ({', '.join(held)}); pass --force "
                          "to overwrite it, or choose another folder")


def chip_bundle(bundle, cfg: config_mod.Config, remap: bool):
    """The bundle to simulate on ``cfg``: ``bundle`` itself, or re-mapped with ``remap``."""
    from rram_sim.engine import check_compatible

    if remap:
        from rram_sim.sweep.point import remap as remap_bundle

        return remap_bundle(bundle, cfg, bundle.scheme)
    try:
        check_compatible(bundle.config, cfg)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (--remap re-maps it from the bundle's stored weights)") from None
    return bundle


def accuracy_figures(bundle, cfg: config_mod.Config) -> dict[str, Any]:
    """Top-1 accuracy of ``bundle``'s network on chip ``cfg``'s crossbars and exactly quantized,
    on the bundle's eval set (:func:`rram_sim.accuracy.evaluate`)."""
    from rram_sim.accuracy import evaluate
    from rram_sim.datapath import bundle_for_chip

    return evaluate(bundle_for_chip(bundle, cfg), where="--accuracy: bundle").to_dict()


def accuracy_line(acc: dict[str, Any]) -> str:
    flt = acc.get("float_accuracy")
    return (f"accuracy on {acc['samples']} eval samples: crossbars {acc['crossbar']:.4f}, exact "
            f"quantized {acc['exact']:.4f}" + ("" if flt is None else f", float {flt:.4f}"))


def summary(report, bundle, out, placement: str) -> dict[str, Any]:
    """What ``simulate`` prints, as JSON-ready data (``--json``)."""
    from rram_sim.report import UNITS

    return {"chip": report.config["name"], "config_hash": report.config_hash,
            "scheme": bundle.scheme, "layers": len(bundle.layers),
            "chip_area_mm2": report.area["chip_area_mm2"], "placement": placement,
            "copies_per_layer": report.figures.get("copies_per_layer", {}),
            "accuracy": report.figures.get("accuracy"), "runs": report.runs,
            "report_dir": str(out), "units": UNITS}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rram_sim.simulate import MAX_BATCH, simulate

    # Validate every argument and file before simulating.
    check_output(args.output, args.force)
    if args.batch is not None and not 1 <= args.batch <= MAX_BATCH:
        raise ConfigError(f"--batch={args.batch}: must be an integer in 1..{MAX_BATCH}")
    if (args.copies is not None) != (args.placement == "fixed"):
        raise ConfigError("--copies goes with --placement fixed, and --placement fixed needs "
                          "--copies LAYER=N[,...]")
    from rram_sim.placement_policies import parse_copies

    copies = parse_copies(args.copies) if args.copies is not None else None
    if args.remap and not args.chip:
        raise ConfigError("--remap: re-maps for another chip; give --chip too")
    verbose(args, settings_line(args))
    bundle = load_bundle(bundle_path(args))
    cfg = config_mod.load(args.chip) if args.chip else bundle.config
    if args.remap:
        progress(args, f"re-mapping {len(bundle.layers)} layers for chip {cfg.name} "
                       f"({bundle.scheme} scheme)")
    bundle = chip_bundle(bundle, cfg, args.remap)
    if args.accuracy and bundle.eval_set is None:
        from rram_sim.bundle.evalset import NO_EVAL_SET

        raise ConfigError(f"--accuracy: bundle {NO_EVAL_SET}")
    bars = []

    def on_image(mode: str, n: int):
        bar = tqdm(total=n, desc=mode, unit="img", leave=False,
                   disable=args.quiet or not sys.stderr.isatty())
        bars.append(bar)
        return bar.update

    t0 = time.perf_counter()
    try:
        report = simulate(bundle, cfg, args.mode, batch=args.batch, overflow=args.overflow,
                          progress=on_image, placement=args.placement, copies=copies,
                          mapping=args.mapping)
    finally:
        for bar in bars:
            bar.close()
    if args.accuracy:
        progress(args, f"accuracy on {len(bundle.eval_set.labels)} eval samples ...")
        report.figures["accuracy"] = accuracy_figures(bundle, cfg)
    wall = time.perf_counter() - t0
    out = report.save(args.output)
    for row in report.layers:
        verbose(args, "layer " + " ".join(f"{k}={v}" for k, v in row.items()))
    copies = report.figures.get("copies_per_layer", {})
    text = "\n".join([
        f"chip {cfg.name} ({cfg.config_hash()}), scheme {bundle.scheme}, "
        f"{len(bundle.layers)} layers, chip area {report.area['chip_area_mm2']:.2f} mm2",
        f"placement {args.placement}: copies per layer "
        + ", ".join(f"{name} {r}" for name, r in copies.items()),
        report.summary_table(),
        *([accuracy_line(report.figures["accuracy"])] if args.accuracy else []),
        f"simulated in {wall:.2f} s; report written to {out}"])
    print_result(args, summary(report, bundle, out, args.placement), text)
    return 0
