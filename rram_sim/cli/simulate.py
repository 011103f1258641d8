"""``rram-sim simulate BUNDLE``: time and energy of a mapped network on a chip (discrete-event run).

Runs the SimPy chip model (:mod:`rram_sim.engine`) for an inference pass, a training step, or both,
prints a summary table (latency, throughput, energy per inference or step, power, utilization;
with ``--overflow reload`` on a network larger than the chip, the reprogramming time) and writes
the report files (``report.json``, ``records.csv``, ``intervals.csv``) into ``-o DIR``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from rram_sim import config as config_mod
from rram_sim.bundle import load_bundle
from rram_sim.errors import ConfigError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate", help="time and energy of a layout bundle on a chip (discrete-event)",
        description="Simulate a layout bundle on a chip with the discrete-event model: an "
                    "inference pass, a training step, or both. Prints a summary and writes "
                    "report.json, records.csv and intervals.csv.")
    p.add_argument("bundle", metavar="BUNDLE", help="layout bundle directory")
    p.add_argument("--chip", metavar="NAME_OR_YAML", default=None,
                   help="chip preset or YAML file (default: the chip the bundle was mapped for)")
    p.add_argument("--pass", dest="mode", choices=("inference", "training", "both"),
                   default="inference", help="what to simulate (default: inference)")
    p.add_argument("--batch", type=int, default=None,
                   help="images: of the inference run (default 1) or of the training step "
                        "(default training.batch_size)")
    p.add_argument("--overflow", choices=("error", "multi_chip", "reload"), default=None,
                   help="a network larger than the chip: fail (error), spill onto more chips "
                        "(multi_chip) or run on one chip in segments reprogrammed in turn "
                        "(reload); default: the bundle's own placement")
    p.add_argument("--placement", choices=("none", "balance"), default="none",
                   help="copies per crossbar layer: the bundle's own (none) or the bottleneck "
                        "layers replicated into the chip's free PEs until the pipeline's stages "
                        "match (balance); default: none")
    p.add_argument("-o", "--output", metavar="DIR", default="report",
                   help="report directory (default: ./report)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rram_sim.simulate import MAX_BATCH, simulate

    bundle = load_bundle(args.bundle)
    cfg = config_mod.load(args.chip) if args.chip else bundle.config
    if args.batch is not None and not 1 <= args.batch <= MAX_BATCH:
        raise ConfigError(f"--batch={args.batch}: must be an integer in 1..{MAX_BATCH}")
    bars = []

    def progress(mode: str, n: int):
        bar = tqdm(total=n, desc=mode, unit="img", disable=not sys.stderr.isatty(), leave=False)
        bars.append(bar)
        return bar.update

    t0 = time.perf_counter()
    try:
        report = simulate(bundle, cfg, args.mode, batch=args.batch, overflow=args.overflow,
                          progress=progress, placement=args.placement)
    finally:
        for bar in bars:
            bar.close()
    wall = time.perf_counter() - t0
    out = report.save(args.output)
    print(f"chip {cfg.name} ({cfg.config_hash()}), scheme {bundle.scheme}, "
          f"{len(bundle.layers)} layers, chip area {report.area['chip_area_mm2']:.2f} mm2")
    copies = report.figures.get("copies_per_layer", {})
    print(f"placement {args.placement}: copies per layer "
          + ", ".join(f"{name} {r}" for name, r in copies.items()))
    print(report.summary_table())
    print(f"simulated in {wall:.2f} s; report written to {out}")
    return 0
