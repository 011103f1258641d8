"""``rram-sim plot REPORT... -o DIR [--bundle B...]``: draw the figures of one or more reports.

Each ``REPORT`` is a report directory written by ``rram-sim simulate`` (``report.json``), optionally
labelled ``LABEL=DIR`` (default label: the directory's name); the first is the reference the
normalised energy bars divide by. For every run the reports share (``inference``, ``training``) the
command draws the energy breakdown (absolute and normalised), and per report the energy per layer,
per pass and the pipeline timeline. With ``--bundle`` (layout bundle directories, labelled the same
way) it adds crossbars per layer (dense vs mapped) and a cell map of every layer of each bundle
(``crossbar_map_LABEL_LAYER.png``; ``--layer NAME`` draws that layer's only). The numbers
behind every figure go to ``DIR/plots.json``. ``--format png|pdf|svg`` chooses the file
type (file names keep their stem: ``energy_inference.pdf``), ``--dpi`` the resolution and ``--log``
a logarithmic energy axis; every title names the design point and the chip.

Given one sweep folder instead (``rram-sim sweep -o DIR``: it holds ``results.csv`` and no
``report.json``), the command draws, per swept parameter (each grid column with more than one
value, and ``bundle``/``scheme`` when they vary), every metric of ``results.csv`` against it
(``sweep_PARAM.png``), and the Pareto figure again (``pareto.png``) in the chosen format.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rram_sim.cli.common import (
    add_json_arg,
    add_output_arg,
    add_verbosity_args,
    print_result,
    progress,
)
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
                    "the first report is the reference of the normalised energy figure. Given "
                    "one sweep folder (rram-sim sweep -o DIR, holding results.csv), draws every "
                    "metric against every swept parameter and the Pareto figure.")
    p.add_argument("reports", metavar="REPORT", nargs="+",
                   help="report directory (holding report.json), optionally LABEL=DIR; or one "
                        "sweep folder (holding results.csv)")
    add_output_arg(p, "folder for the figure files and plots.json")
    p.add_argument("--bundle", metavar="BUNDLE", action="append", default=[],
                   help="layout bundle directory, optionally LABEL=DIR (repeatable): adds the "
                        "crossbar occupancy and cell-map figures")
    p.add_argument("--layer", metavar="NAME", default=None,
                   help="draw the cell map of this layer only (default: a cell map of every "
                        "layer of each --bundle)")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="png",
                   help="file type of every figure (default: png; pdf and svg are vector "
                        "figures for a paper)")
    p.add_argument("--dpi", type=int, default=DPI,
                   help=f"resolution in dots per inch, {MIN_DPI} to {MAX_DPI} (default: {DPI}; "
                        f"applies to png and to raster parts of pdf/svg)")
    p.add_argument("--log", action="store_true",
                   help="logarithmic energy axes (the energy figures)")
    add_verbosity_args(p, "list of the figure files")
    add_json_arg(p, "the figure files and the numbers behind them")
    p.set_defaults(func=run)


def _written(args: argparse.Namespace, out: Path, done: dict[str, Any]) -> None:
    """Say what was drawn: each file (unless --quiet) and the count, or JSON with --json."""
    for name in done:
        progress(args, str(out / name))
    print_result(args, {"output": str(out), "figures": sorted(str(out / n) for n in done),
                        "numbers": str(out / "plots.json")},
                 f"{len(done)} figures written to {out} (numbers in {out / 'plots.json'})")


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


def file_part(name: str) -> str:
    """``name`` made safe for a file name (a layer name such as ``features.0`` stays as is)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


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
                names = [lay.spec.name for lay in b.layers] if layer is None else [layer]
                for lname in names:
                    name = f"crossbar_map_{label}_{file_part(lname)}.{ext}"
                    done[name] = plot.crossbar_map(b, stage / name, lname, label=label,
                                                   style=style)
        out.mkdir(parents=True, exist_ok=True)
        for name in done:
            shutil.move(str(stage / name), str(out / name))
        return done
    except BaseException:
        plot.plt.close("all")   # a figure abandoned half drawn stays open otherwise
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# Most columns a results.csv may have (grid parameters plus the fixed ones): far beyond any sweep.
MAX_SWEEP_COLUMNS = 200


def is_sweep_dir(path: str) -> bool:
    p = Path(path)
    return (p / "results.csv").is_file() and not (p / "report.json").is_file()


def read_sweep(path: Path) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """``(rows, swept columns, metrics)`` of a sweep folder's ``results.csv``: metric cells as
    numbers (None when empty), the swept columns (grid columns, then ``bundle`` and ``scheme``,
    each only when it takes more than one value) and the metrics with at least one number in a
    finished row. A file that is not such a table raises LayoutError naming it."""
    import csv
    import io

    from rram_sim.config import read_text_file
    from rram_sim.plot import _number
    from rram_sim.sweep.spec import BASE_FIELDS, METRIC_FIELDS

    f = path / "results.csv"
    text = read_text_file(f, LayoutError, "sweep results")
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if not set(BASE_FIELDS) <= set(header) or len(header) > MAX_SWEEP_COLUMNS:
        raise LayoutError(f"{f}: not a sweep results table (needs the columns "
                          f"{', '.join(BASE_FIELDS)}; at most {MAX_SWEEP_COLUMNS} columns)")
    for name in header:
        if not _text_ok(name):
            raise LayoutError(f"{f}: column {short_repr(name)}: must be plain text of at most "
                              f"{MAX_NAME_CHARS} characters without '$'")
    rows = []
    for i, raw in enumerate(reader):
        row: dict[str, Any] = {}
        for k in header:
            v = raw.get(k) or ""
            if k in METRIC_FIELDS:
                row[k] = _number(v) if v != "" else None
            else:
                if not _text_ok(v):
                    raise LayoutError(f"{f}: row {i + 1}, {k}={short_repr(v)}: must be plain "
                                      f"text of at most {MAX_NAME_CHARS} characters without '$'")
                row[k] = v
        rows.append(row)
    grid = [k for k in header if k not in BASE_FIELDS and k not in METRIC_FIELDS]
    swept = [k for k in [*grid, "bundle", "scheme"]
             if len({r[k] for r in rows}) > 1]
    ok = [r for r in rows if r["status"] == "ok"]
    metrics = [m for m in METRIC_FIELDS if m in header and any(r[m] is not None for r in ok)]
    return rows, swept, metrics


def draw_sweep(path: Path, out: Path, style: Any) -> dict[str, Any]:
    """The figures of one sweep folder (see the module docstring), drawn into a temporary folder
    and moved into ``out`` once all are drawn; returns ``{file name: numbers plotted}``."""
    from rram_sim import plot

    rows, swept, metrics = read_sweep(path)
    if not any(r["status"] == "ok" for r in rows):
        raise LayoutError(f"{path / 'results.csv'}: no finished (status ok) point to draw")
    ext = style.fmt
    stage = Path(tempfile.mkdtemp(prefix="rram-sim-plot."))
    try:
        done: dict[str, Any] = {}
        for param in swept:
            name = f"sweep_{re.sub(r'[^A-Za-z0-9_.+-]', '_', param)}.{ext}"
            others = [o for o in swept if o != param]
            done[name] = plot.sweep_against(rows, param, others, metrics, stage / name,
                                            sweep=path.name or str(path), style=style)
        infer = any(r.get("inference_energy_pj") is not None for r in rows)
        x, y = (("inference_latency_ns", "inference_energy_pj") if infer
                else ("training_step_ns", "training_energy_pj"))
        name = f"pareto.{ext}"
        done[name] = plot.pareto(rows, stage / name, x=x, y=y,
                                 style=style)
        out.mkdir(parents=True, exist_ok=True)
        for name in done:
            shutil.move(str(stage / name), str(out / name))
        return done
    except BaseException:
        plot.plt.close("all")
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
    from rram_sim.plot import Style

    paths = list(labelled(args.reports).values())
    if any(is_sweep_dir(p) for p in paths):
        if len(paths) != 1 or args.bundle or args.layer is not None:
            raise ConfigError("a sweep folder is plotted on its own: give one sweep folder and "
                              "no report, --bundle or --layer")
        done = draw_sweep(Path(paths[0]), out, Style(args.fmt, args.dpi, args.log))
        atomic_write_json(out / "plots.json", done)
        _written(args, out, done)
        return 0
    reports = {}
    for label, path in labelled(args.reports).items():
        rep = Report.load(path)
        check_report(rep, f"report '{Path(path) / 'report.json'}'")
        reports[label] = rep
    bundles = {k: load_bundle(v) for k, v in labelled(args.bundle).items()}
    done = draw_all(reports, bundles, out, args.layer, Style(args.fmt, args.dpi, args.log))
    atomic_write_json(out / "plots.json", done)
    _written(args, out, done)
    return 0
