"""``rram-sim plot REPORT... -o DIR [--bundle B...]``: draw the figures of one or more reports.

Each ``REPORT`` is a report directory written by ``rram-sim simulate`` (``report.json``), optionally
labelled ``LABEL=DIR`` (default label: the directory's name); the first is the reference the
normalised energy bars divide by. For every run the reports share (``inference``, ``training``) the
command draws the energy breakdown (absolute and normalised), and per report the energy per layer,
per pass and the pipeline timeline. With ``--bundle`` (layout bundle directories, labelled the same
way) it adds crossbars per layer (dense vs mapped) and a cell map of one layer per bundle. The
numbers behind every figure go to ``DIR/plots.json``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from rram_sim.errors import ConfigError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plot", help="draw energy, occupancy and timeline figures from report files",
        description="Draw figures from report directories (rram-sim simulate -o DIR) and, "
                    "with --bundle, from layout bundles. Arguments may be labelled LABEL=DIR; "
                    "the first report is the reference of the normalised energy figure.")
    p.add_argument("reports", metavar="REPORT", nargs="+",
                   help="report directory (holding report.json), optionally LABEL=DIR")
    p.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="folder for the PNG files and plots.json")
    p.add_argument("--bundle", metavar="BUNDLE", action="append", default=[],
                   help="layout bundle directory, optionally LABEL=DIR (repeatable): adds the "
                        "crossbar occupancy and cell-map figures")
    p.add_argument("--layer", metavar="NAME", default=None,
                   help="layer of the cell map (default: the layer with the most crossbars)")
    p.set_defaults(func=run)


def labelled(items: list[str]) -> dict[str, str]:
    """``LABEL=PATH`` or ``PATH`` (label: the folder name; repeated names get ``-2``, ``-3``)."""
    out: dict[str, str] = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep:
            label, path = Path(item.rstrip("/")).name or item, item
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", label):
            raise ConfigError(f"label '{label}' of '{item}': use letters, digits, '_.+-' only")
        base, k = label, 2
        while label in out:
            label, k = f"{base}-{k}", k + 1
        out[label] = path
    return out


def draw_all(reports: dict[str, Any], bundles: dict[str, Any], out: Path,
             layer: str | None = None) -> dict[str, Any]:
    """Draw every figure into ``out``; returns ``{file name: numbers plotted}``."""
    from rram_sim import plot

    out.mkdir(parents=True, exist_ok=True)
    done: dict[str, Any] = {}
    runs = [r for r in ("inference", "training") if all(r in rep.runs for rep in reports.values())]
    for run in runs:
        done[f"energy_{run}.png"] = plot.energy_breakdown(reports, out / f"energy_{run}.png", run)
        if len(reports) > 1:
            name = f"energy_{run}_normalised.png"
            done[name] = plot.energy_breakdown(reports, out / name, run, normalise=True)
    for label, rep in reports.items():
        for run in rep.runs:
            for kind, fn in (("layers", plot.energy_by_layer), ("passes", plot.energy_by_pass),
                             ("timeline", plot.timeline)):
                name = f"{kind}_{label}_{run}.png"
                done[name] = fn(rep, out / name, run)
    if bundles:
        done["occupancy.png"] = plot.crossbar_occupancy(bundles, out / "occupancy.png")
        for label, b in bundles.items():
            name = f"crossbar_map_{label}.png"
            done[name] = plot.crossbar_map(b, out / name, layer)
    return done


def run(args: argparse.Namespace) -> int:
    from rram_sim.bundle import load_bundle
    from rram_sim.fileio import atomic_write_json
    from rram_sim.report import Report

    reports = {k: Report.load(v) for k, v in labelled(args.reports).items()}
    bundles = {k: load_bundle(v) for k, v in labelled(args.bundle).items()}
    out = Path(args.output)
    done = draw_all(reports, bundles, out, args.layer)
    atomic_write_json(out / "plots.json", done)
    for name in done:
        print(out / name)
    print(f"{len(done)} figures written to {out} (numbers in {out / 'plots.json'})")
    return 0
