"""``rram-sim plot REPORT... -o DIR [--bundle B...]``: draw the figures of one or more reports.

Each ``REPORT`` is a report directory written by ``rram-sim simulate`` (``report.json``), optionally
labelled ``LABEL=DIR`` (default label: the directory's name); the first is the reference the
normalised energy bars divide by. For every run the reports share (``inference``, ``training``) the
command draws the energy breakdown (absolute and normalised), and per report the energy per layer,
per pass and the pipeline timeline. With ``--bundle`` (layout bundle directories, labelled the same
way) it adds crossbars per layer (dense vs mapped) and a cell map of one layer per bundle. The
numbers behind every figure go to ``DIR/plots.json``. ``--format png|pdf|svg`` chooses the file
type (file names keep their stem: ``energy_inference.pdf``), ``--dpi`` the resolution and ``--log``
a logarithmic energy axis; every title names the design point and the chip.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rram_sim.errors import ConfigError, LayoutError
from rram_sim.limits import MAX_NAME_CHARS, short_repr

# Kept in step with rram_sim.plot (not imported from it: `rram-sim --help` must not load
# matplotlib); tests/test_plot.py checks the two agree.
FORMATS = ("png", "pdf", "svg")
DPI, MIN_DPI, MAX_DPI = 100, 10, 1200


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
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="png",
                   help="file type of every figure (default: png; pdf and svg are vector "
                        "figures for a paper)")
    p.add_argument("--dpi", type=int, default=DPI,
                   help=f"resolution in dots per inch, {MIN_DPI} to {MAX_DPI} (default: {DPI}; "
                        f"applies to png and to raster parts of pdf/svg)")
    p.add_argument("--log", action="store_true",
                   help="logarithmic energy axes (the energy figures)")
    p.set_defaults(func=run)


def labelled(items: list[str]) -> dict[str, str]:
    """``LABEL=PATH`` or ``PATH`` (label: the folder name; repeated names get ``-2``, ``-3``)."""
    out: dict[str, str] = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep:
            label, path = Path(item.rstrip("/")).name or item, item
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", label):
            raise ConfigError(f"label {short_repr(label)} of {short_repr(item)}: use letters, "
                              f"digits, '_.+-' only")
        base, k = label, 2
        while label in out:
            label, k = f"{base}-{k}", k + 1
        out[label] = path
    return out


# Runs a report may hold (they name figure files, so nothing else is accepted).
RUNS = ("inference", "training")
# Energies (pJ) and times (ns) a report may give a figure: far beyond any simulated chip, and far
# below where matplotlib's axis arithmetic overflows.
MAX_PLOTTED_VALUE = 1e30


def _text_ok(v: Any) -> bool:
    # '$' would start matplotlib's math mode, whose parser refuses odd text at drawing time
    return isinstance(v, str) and len(v) <= MAX_NAME_CHARS and "$" not in v and v.isprintable()


def _number_ok(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and abs(v) <= MAX_PLOTTED_VALUE and not (isinstance(v, float) and math.isnan(v)))


def check_report(rep: Any, source: str) -> None:
    """Every part of a report the figures read, checked before anything is drawn: the runs, the
    energy per category of each run, and each record's and interval's fields. Raises LayoutError
    naming ``source`` (the report file) and the first bad entry."""
    from rram_sim.costs import CATEGORIES

    def fail(msg: str) -> None:
        raise LayoutError(f"{source}: {msg}")

    for run, summary in rep.runs.items():
        if run not in RUNS:
            fail(f"runs: unknown run {short_repr(run)} (known: {', '.join(RUNS)})")
        if not isinstance(summary, dict):
            fail(f"runs.{run}: must be a mapping, got {type(summary).__name__}")
        _check_components(summary.get("components", []), f"runs.{run}.components", fail)
    for table_name in ("energy_by_category_pj", "static_energy_by_category_pj"):
        table = getattr(rep, table_name, None)
        if table is None:
            continue
        for run in rep.runs:
            per = table.get(run)
            if not isinstance(per, dict):
                fail(f"{table_name}.{run}: must map each category to an energy")
            for c in CATEGORIES:
                if not _number_ok(per.get(c)):
                    fail(f"{table_name}.{run}.{c}={short_repr(per.get(c))}: must be a number "
                         f"within +-{MAX_PLOTTED_VALUE:g}")
    for name, entries, texts, numbers in (
            ("records", rep.records, ("run", "layer", "pass"), ("energy_pj",)),
            ("intervals", rep.intervals, ("run", "layer", "pass"), ("start_ns", "end_ns"))):
        for i, e in enumerate(entries):
            where = f"{name}[{i}]"
            if not isinstance(e, dict):
                fail(f"{where}: must be a mapping, got {type(e).__name__}")
            for k in texts:
                if not _text_ok(e.get(k)):
                    fail(f"{where}.{k}={short_repr(e.get(k))}: must be plain text of at most "
                         f"{MAX_NAME_CHARS} characters without '$'")
            for k in numbers:
                if not _number_ok(e.get(k)):
                    fail(f"{where}.{k}={short_repr(e.get(k))}: must be a number within "
                         f"+-{MAX_PLOTTED_VALUE:g}")
            if name == "records" and e.get("category") not in CATEGORIES:
                fail(f"{where}.category={short_repr(e.get('category'))}: must be one of "
                     f"{', '.join(CATEGORIES)}")
            if name == "records" and "kind" in e and not _text_ok(e["kind"]):
                fail(f"{where}.kind={short_repr(e['kind'])}: must be plain text")
            if name == "intervals":
                t = e.get("tile")
                if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= 2 ** 31:
                    fail(f"{where}.tile={short_repr(t)}: must be an integer tile number")


def _check_components(comps: Any, where: str, fail: Any) -> None:
    """The busy intervals of a run's components (the timeline figure): a list of
    ``{kind, component, intervals_ns: [[start, end], ...]}``."""
    if not isinstance(comps, list):
        fail(f"{where}: must be a list, got {type(comps).__name__}")
    for i, c in enumerate(comps):
        w = f"{where}[{i}]"
        if not isinstance(c, dict):
            fail(f"{w}: must be a mapping, got {type(c).__name__}")
        for k in ("kind", "component"):
            if not _text_ok(c.get(k)):
                fail(f"{w}.{k}={short_repr(c.get(k))}: must be plain text of at most "
                     f"{MAX_NAME_CHARS} characters without '$'")
        ivs = c.get("intervals_ns")
        if not isinstance(ivs, list) or not all(
                isinstance(iv, list) and len(iv) == 2 and all(_number_ok(t) for t in iv)
                for iv in ivs):
            fail(f"{w}.intervals_ns={short_repr(ivs)}: must be a list of [start, end] numbers "
                 f"within +-{MAX_PLOTTED_VALUE:g}")


def check_layer_choice(bundles: dict[str, Any], layer: str | None) -> None:
    """``--layer`` names a layer of every bundle (checked before any figure is drawn)."""
    for label, b in bundles.items():
        names = [lay.spec.name for lay in b.layers]
        if layer is not None and layer not in names:
            raise ConfigError(f"--layer {short_repr(layer)}: bundle '{label}' has no such layer "
                              f"(its layers: {short_repr(', '.join(names))})")


def draw_all(reports: dict[str, Any], bundles: dict[str, Any], out: Path,
             layer: str | None = None, style: Any = None) -> dict[str, Any]:
    """Draw every figure into ``out`` in ``style`` (a :class:`rram_sim.plot.Style`; default PNG at
    100 dpi); returns ``{file name: numbers plotted}``. The figures are
    drawn into a temporary folder first and moved into ``out`` only once every one is drawn, so
    a refusal or failure half way leaves nothing behind."""
    from rram_sim import plot

    style = plot.DEFAULT_STYLE if style is None else style
    ext = style.fmt
    check_layer_choice(bundles, layer)
    stage = Path(tempfile.mkdtemp(prefix="rram-sim-plot."))
    try:
        done: dict[str, Any] = {}
        runs = [r for r in RUNS if all(r in rep.runs for rep in reports.values())]
        for run in runs:
            name = f"energy_{run}.{ext}"
            done[name] = plot.energy_breakdown(reports, stage / name, run, style=style)
            if len(reports) > 1:
                name = f"energy_{run}_normalised.{ext}"
                done[name] = plot.energy_breakdown(reports, stage / name, run, normalise=True,
                                                   style=style)
        for label, rep in reports.items():
            for run in rep.runs:
                for kind, fn in (("layers", plot.energy_by_layer),
                                 ("passes", plot.energy_by_pass), ("timeline", plot.timeline)):
                    name = f"{kind}_{label}_{run}.{ext}"
                    done[name] = fn(rep, stage / name, run, label=label, style=style)
        if bundles:
            name = f"occupancy.{ext}"
            done[name] = plot.crossbar_occupancy(bundles, stage / name, style=style)
            for label, b in bundles.items():
                name = f"crossbar_map_{label}.{ext}"
                done[name] = plot.crossbar_map(b, stage / name, layer, label=label, style=style)
        out.mkdir(parents=True, exist_ok=True)
        for name in done:
            shutil.move(str(stage / name), str(out / name))
        return done
    except BaseException:
        plot.plt.close("all")   # a figure abandoned half drawn stays open otherwise
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    from rram_sim.bundle import load_bundle
    from rram_sim.fileio import atomic_write_json
    from rram_sim.report import Report

    # Validate everything, then write: every argument and file is checked before any figure.
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {out}: exists and is not a folder")
    if args.layer is not None and not args.bundle:
        raise ConfigError("--layer: chooses the cell-map layer of a --bundle; give --bundle too")
    if not MIN_DPI <= args.dpi <= MAX_DPI:
        raise ConfigError(f"--dpi {args.dpi}: must be from {MIN_DPI} to {MAX_DPI}")
    reports = {}
    for label, path in labelled(args.reports).items():
        rep = Report.load(path)
        check_report(rep, f"report '{Path(path) / 'report.json'}'")
        reports[label] = rep
    bundles = {k: load_bundle(v) for k, v in labelled(args.bundle).items()}
    from rram_sim.plot import Style

    done = draw_all(reports, bundles, out, args.layer, Style(args.fmt, args.dpi, args.log))
    atomic_write_json(out / "plots.json", done)
    for name in done:
        print(out / name)
    print(f"{len(done)} figures written to {out} (numbers in {out / 'plots.json'})")
    return 0
