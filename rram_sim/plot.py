"""Plots: figures drawn from report files (and bundle files), never from live simulator objects.

Every figure here reads what :meth:`rram_sim.report.Report.save` (and, for the crossbar figures,
:func:`rram_sim.bundle.save_bundle`) wrote, so a plot can be redrawn later, on another machine,
without re-running anything. Each function draws one figure with matplotlib's Agg backend (PNG at
100 dpi unless a :class:`Style` says PDF, SVG, another resolution or log-scale energy axes), writes
it atomically and **returns the numbers it plotted**, so a test can check them against the report.
Every title names the design point (the report's or bundle's label) and the chip; static energy is
called "static (leakage)" in every figure (the report's pass ``leakage`` and layer ``(chip)``).

- :func:`energy_breakdown`: stacked bars, one per design point (dense, each pruning method), one
  segment per component category in the fixed order and colour of :data:`CATEGORY_COLORS`
  (``costs.CATEGORIES``); absolute, or normalised to the first (reference, usually dense) point.
- :func:`energy_by_layer` / :func:`energy_by_pass`: the same categories stacked per layer, or per
  pass (forward, backward, gradient, update, leakage) of one report.
- :func:`crossbar_occupancy`: crossbars per layer, dense mapping vs the bundle's own mapping.
- :func:`crossbar_map`: one layer's crossbars as cell maps: freed rows and columns in white, stored
  zero weights in grey, stored non-zero weights coloured.
- :func:`timeline`: the components of a simulated run (eDRAM, buses, crossbars, ADC banks, index
  units, links, write drivers, ...): one line per component, one bar per busy interval.
- :func:`pareto`: a sweep's points, energy against latency, marker area by chip area, the Pareto
  front (no other point is at least as good in both and better in one) marked.
- :func:`sweep_against`: every metric of a sweep's ``results.csv`` against one swept parameter.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from rram_sim.costs import CATEGORIES  # noqa: E402
from rram_sim.errors import LayoutError  # noqa: E402
from rram_sim.fileio import atomic_write_bytes  # noqa: E402

# One colour per category, the same in every figure (tab10 order, then a grey for writes).
CATEGORY_COLORS = dict(zip(CATEGORIES, ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f")))
CATEGORY_LABELS = {"adc": "ADC", "dac": "DAC", "crossbar": "crossbar", "sample_hold": "S+H",
                   "shift_add_digital": "shift-add and digital", "buffers": "buffers",
                   "interconnect": "interconnect", "index_datapath": "index datapath",
                   "writes": "writes"}
PASS_ORDER = ("inference", "forward", "backward", "gradient", "update", "leakage")
PASS_COLORS = {"inference": "#1f77b4", "forward": "#1f77b4", "backward": "#d62728",
               "gradient": "#2ca02c", "update": "#ff7f0e", "leakage": "#7f7f7f"}
DPI = 100
FORMATS = ("png", "pdf", "svg")
# Resolutions accepted: below 10 dpi nothing is legible, above 1200 a figure runs to gigabytes.
MIN_DPI, MAX_DPI = 10, 1200
# The one name of static energy in every figure: the report's pass "leakage", its layer "(chip)"
# and the hatched part of each stacked bar.
STATIC_NAME = "static (leakage)"
DISPLAY_NAMES = {"leakage": STATIC_NAME, "(chip)": STATIC_NAME}


@dataclass(frozen=True)
class Style:
    """How a figure is written: file format (``png``, ``pdf`` or ``svg``), resolution in dots per
    inch (raster parts), and ``log`` for a logarithmic energy axis."""
    fmt: str = "png"
    dpi: int = DPI
    log: bool = False

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise LayoutError(f"figure format {self.fmt!r}: use one of {', '.join(FORMATS)}")
        if isinstance(self.dpi, bool) or not isinstance(self.dpi, int) or not (
                MIN_DPI <= self.dpi <= MAX_DPI):
            raise LayoutError(f"dpi {self.dpi!r}: must be a whole number from {MIN_DPI} to "
                              f"{MAX_DPI}")


DEFAULT_STYLE = Style()


def _save(fig: Any, path: str | os.PathLike, style: Style) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format=style.fmt, dpi=style.dpi)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _plain(text: Any) -> str:
    """Text safe in a title: printable, no '$' (matplotlib's math mode), at most 60 characters."""
    t = "".join(ch for ch in str(text) if ch.isprintable() and ch != "$")
    return t[:60]


def chip_name(report_or_bundle: Any) -> str:
    """The chip of a report (its ``config`` mapping) or of a bundle (its Config)."""
    cfg = report_or_bundle.config
    name = cfg.get("name") if isinstance(cfg, dict) else getattr(cfg, "name", None)
    return _plain(name) if name else "?"


def _title(what: str, points: Sequence[str], chips: Sequence[str]) -> str:
    """``WHAT: POINT(S) on chip CHIP(S)``: the design points and chips a figure shows."""
    chips = list(dict.fromkeys(chips))
    return (f"{what}: {', '.join(_plain(p) for p in points)} on chip"
            f"{'s' if len(chips) > 1 else ''} {', '.join(chips)}")


def _energy_axis(ax: Any, style: Style) -> None:
    if style.log:
        ax.set_yscale("log")


def _run_of(report: Any, run: str | None) -> str:
    if run is None:
        return next(iter(report.runs))
    if run not in report.runs:
        raise LayoutError(f"report: no '{run}' run in it (runs: {', '.join(report.runs)})")
    return run


def _stacked(ax: Any, labels: Sequence[str], values: Mapping[str, Mapping[str, float]],
             scale: float = 1.0, static: Mapping[str, Mapping[str, float]] | None = None) -> None:
    """Stacked bars, one per label, categories bottom-up in CATEGORIES order (the legend lists
    them top-down, as they stack). With ``static`` (the static part of each value) every category
    is drawn as its dynamic part, solid, then its static (leakage) part, hatched."""
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    handles = []
    any_static = False
    for cat in CATEGORIES:
        total = np.array([values[lab].get(cat, 0.0) for lab in labels]) * scale
        if not np.any(total):
            continue
        stat = (np.array([static[lab].get(cat, 0.0) for lab in labels]) * scale
                if static is not None else np.zeros(len(labels)))
        dyn = total - stat
        h = ax.bar(x, dyn, bottom=bottom, color=CATEGORY_COLORS[cat], label=CATEGORY_LABELS[cat],
                   width=0.6)
        handles.append(h)
        bottom += dyn
        if np.any(stat):
            any_static = True
            ax.bar(x, stat, bottom=bottom, color=CATEGORY_COLORS[cat], width=0.6, hatch="///",
                   edgecolor="white", linewidth=0)
            bottom += stat
    handles = handles[::-1]
    if any_static:
        handles.insert(0, Patch(facecolor="#bbbbbb", hatch="///", edgecolor="white",
                                label=STATIC_NAME))
    many = len(labels) > 4
    ax.set_xticks(x, [DISPLAY_NAMES.get(lab, lab) for lab in labels], rotation=30 if many else 0,
                  ha="right" if many else "center")
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)


# ---------------------------------------------------------------------------------------------
# Energy
# ---------------------------------------------------------------------------------------------

def energy_breakdown(reports: Mapping[str, Any], path: str | os.PathLike,
                     run: str = "inference", normalise: bool = False,
                     style: Style = DEFAULT_STYLE) -> dict[str, dict[str, float]]:
    """Stacked energy per category, one bar per design point (``{label: Report}``, the first is
    the reference). Returns ``{label: {category: value}}``: pJ of one run (the whole batch), or
    fractions of the reference point's total when ``normalise``."""
    if not reports:
        raise LayoutError("energy breakdown: no reports given")
    labels = list(reports)
    vals = {lab: {c: float(reports[lab].energy_by_category_pj[_run_of(reports[lab], run)][c])
                  for c in CATEGORIES} for lab in labels}
    stat = {lab: {c: float(reports[lab].static_energy_by_category_pj[
        _run_of(reports[lab], run)][c]) for c in CATEGORIES} for lab in labels}
    if normalise:
        ref = sum(vals[labels[0]].values())
        if ref <= 0:
            raise LayoutError(f"energy breakdown: reference '{labels[0]}' has no energy")
        vals = {lab: {c: v / ref for c, v in d.items()} for lab, d in vals.items()}
        stat = {lab: {c: v / ref for c, v in d.items()} for lab, d in stat.items()}
    fig, ax = plt.subplots(figsize=(3.4 + 1.2 * len(labels), 4.2))
    _stacked(ax, labels, vals, 1.0 if normalise else 1e-6, static=stat)
    ax.set_ylabel(f"energy / {labels[0]} energy" if normalise else "energy (uJ)")
    _energy_axis(ax, style)
    ax.set_title(_title(f"{run} energy by component" + (" (normalised)" if normalise else ""),
                        labels, [chip_name(reports[lab]) for lab in labels]), fontsize=9)
    fig.tight_layout()
    _save(fig, path, style)
    return vals


def _records_by(report: Any, run: str, key: str
                ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """``({key value: {category: pJ}}, the static part of each)`` of one run's records."""
    out: dict[str, dict[str, float]] = {}
    static: dict[str, dict[str, float]] = {}
    for r in report.records:
        if r["run"] != run:
            continue
        d = out.setdefault(str(r[key]), dict.fromkeys(CATEGORIES, 0.0))
        st = static.setdefault(str(r[key]), dict.fromkeys(CATEGORIES, 0.0))
        d[r["category"]] += float(r["energy_pj"])
        if r.get("kind") == "static":
            st[r["category"]] += float(r["energy_pj"])
    return out, static


def energy_by_layer(report: Any, path: str | os.PathLike, run: str | None = None,
                    label: str = "report", style: Style = DEFAULT_STYLE
                    ) -> dict[str, dict[str, float]]:
    """Energy per layer (all passes; static energy as layer ``(chip)``, drawn as
    "static (leakage)", hatched), stacked by category; ``label`` names the design point in the
    title. Returns ``{layer: {category: pJ}}``."""
    run = _run_of(report, run)
    vals, static = _records_by(report, run, "layer")
    labels = list(vals)
    fig, ax = plt.subplots(figsize=(3.8 + 0.7 * len(labels), 4.2))
    _stacked(ax, labels, vals, 1e-6, static=static)
    ax.set_ylabel("energy (uJ)")
    _energy_axis(ax, style)
    ax.set_title(_title(f"{run} energy per layer", [label], [chip_name(report)]), fontsize=9)
    fig.tight_layout()
    _save(fig, path, style)
    return vals


def energy_by_pass(report: Any, path: str | os.PathLike, run: str | None = None,
                   label: str = "report", style: Style = DEFAULT_STYLE
                   ) -> dict[str, dict[str, float]]:
    """Energy per pass (``inference``; or ``forward``, ``backward``, ``gradient``, ``update`` of
    a training step) plus ``leakage`` (drawn as "static (leakage)"), stacked by category; ``label``
    names the design point in the title. Returns ``{pass: {category: pJ}}``."""
    run = _run_of(report, run)
    vals, static = _records_by(report, run, "pass")
    labels = sorted(vals, key=lambda p: PASS_ORDER.index(p) if p in PASS_ORDER else len(PASS_ORDER))
    vals = {p: vals[p] for p in labels}
    fig, ax = plt.subplots(figsize=(4.3 + 0.9 * len(labels), 4.2))
    _stacked(ax, labels, vals, 1e-6, static=static)
    ax.set_ylabel("energy (uJ)")
    _energy_axis(ax, style)
    ax.set_title(_title(f"{run} energy per pass", [label], [chip_name(report)]), fontsize=9)
    fig.tight_layout()
    _save(fig, path, style)
    return vals


# ---------------------------------------------------------------------------------------------
# Crossbars
# ---------------------------------------------------------------------------------------------

def crossbar_occupancy(bundles: Mapping[str, Any], path: str | os.PathLike,
                       style: Style = DEFAULT_STYLE) -> dict[str, dict[str, dict[str, int]]]:
    """Crossbars per layer: the dense mapping's count (grey) beside each bundle's own.
    Returns ``{label: {layer: {"dense": n, "mapped": n}}}``."""
    if not bundles:
        raise LayoutError("crossbar occupancy: no bundles given")
    vals = {lab: {lay.spec.name: {"dense": int(lay.figures["dense_crossbars"]),
                                  "mapped": int(lay.figures["n_crossbars"])}
                  for lay in b.layers} for lab, b in bundles.items()}
    layers = list(next(iter(vals.values())))
    labels = list(vals)
    fig, ax = plt.subplots(figsize=(2.5 + 0.8 * len(layers) * (1 + len(labels)) / 2, 4.0))
    width = 0.8 / (1 + len(labels))
    x = np.arange(len(layers))
    ax.bar(x, [vals[labels[0]][n]["dense"] if n in vals[labels[0]] else 0 for n in layers],
           width, color="#cccccc", label="dense mapping")
    for i, lab in enumerate(labels):
        ax.bar(x + (i + 1) * width, [vals[lab].get(n, {"mapped": 0})["mapped"] for n in layers],
               width, label=f"{lab} ({bundles[lab].scheme})")
    ax.set_xticks(x + width * len(labels) / 2, layers)
    ax.set_ylabel("crossbars")
    ax.set_title(_title("crossbars per layer", labels, [chip_name(bundles[lab]) for lab in labels]),
                 fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    _save(fig, path, style)
    return vals


def cell_states(layout: Any, cfg: Any) -> np.ndarray:
    """``uint8 [n_crossbars, rows, logical cols]``: 0 free, 1 stored zero weight, 2 stored
    non-zero weight (a logical column stands for its ``columns_per_weight`` physical ones)."""
    from rram_sim.mapping import used_positions
    from rram_sim.quant import encode_cells

    lw = cfg.columns_per_weight
    grid = np.zeros((layout.n_crossbars, cfg.crossbar.rows, cfg.crossbar.cols // lw), np.uint8)
    valid = used_positions(layout.row_index, layout.col_index)
    zero = encode_cells(np.zeros(1, np.int64), cfg.precision.weight_bits, cfg.cell.bits,
                        cfg.crossbar.signed_scheme)[0]
    state = np.where(valid, 1 + (layout.cells != zero).any(axis=-1), 0).astype(np.uint8)
    u, r, c = np.nonzero(valid)
    grid[layout.crossbar[u], layout.row_offset[u] + r, layout.col_offset[u] // lw + c] = state[
        u, r, c]
    return grid


MAP_CROSSBARS_SHOWN = 32   # cell maps drawn per layer figure (the returned numbers cover all)
MAP_PANELS_PER_ROW = 8


def crossbar_map(bundle: Any, path: str | os.PathLike, layer: str | None = None,
                 label: str = "bundle", style: Style = DEFAULT_STYLE) -> dict[str, Any]:
    """The crossbars of one layer (default: the one with the most crossbars) as cell maps, one
    panel per crossbar with its rows and logical columns on the axes (at most
    :data:`MAP_CROSSBARS_SHOWN` panels; the title says when a layer has more); ``label`` names
    the design point in the title.
    Returns the layer name and, per crossbar (all of them), its used rows, used logical columns,
    stored and non-zero weights."""
    from matplotlib.colors import ListedColormap

    lay = (bundle.layer(layer) if layer is not None
           else max(bundle.layers, key=lambda lay_: lay_.n_crossbars))
    cfg = bundle.config
    grid = cell_states(lay, cfg)
    total = grid.shape[0]
    shown = min(max(total, 1), MAP_CROSSBARS_SHOWN)
    ncols = min(shown, MAP_PANELS_PER_ROW)
    nrows = -(-shown // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(6.0, 0.8 + 2.2 * ncols), 1.2 + 2.3 * nrows),
                             squeeze=False)
    cmap = ListedColormap(["#ffffff", "#bbbbbb", "#1f77b4"])
    rows, cols = cfg.crossbar.rows, grid.shape[2] if total else cfg.logical_cols_per_crossbar
    for i, ax in enumerate(axes.flat):
        if i >= min(total, shown):
            ax.axis("off")
            continue
        ax.imshow(grid[i], cmap=cmap, vmin=0, vmax=2, interpolation="nearest", aspect="auto",
                  extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
        ax.set_title(f"crossbar {i}", fontsize=8)
        ax.set_xticks([0, cols - 1])
        ax.set_yticks([0, rows - 1])
        ax.tick_params(labelsize=7)
        if i % ncols == 0:
            ax.set_ylabel("row", fontsize=8)
        if i // ncols == nrows - 1 or i + ncols >= min(total, shown):
            ax.set_xlabel("logical column", fontsize=8)
    more = f"; crossbars 0-{shown - 1} of {total} shown" if total > shown else ""
    fig.suptitle(_title(f"cell map of {lay.spec.name} ({lay.scheme})", [label],
                        [chip_name(bundle)])
                 + f"\n{rows} rows x {cols} logical columns per crossbar{more}"
                   "\nwhite = freed, grey = zero, blue = weight", fontsize=9)
    fig.tight_layout()
    _save(fig, path, style)
    used = grid > 0
    return {"layer": lay.spec.name, "scheme": lay.scheme,
            "crossbars": [{"rows_used": int(used[i].any(axis=1).sum()),
                           "cols_used": int(used[i].any(axis=0).sum()),
                           "weights_stored": int(used[i].sum()),
                           "weights_nonzero": int((grid[i] == 2).sum())}
                          for i in range(grid.shape[0])]}


# ---------------------------------------------------------------------------------------------
# Pipeline timeline
# ---------------------------------------------------------------------------------------------

def timeline(report: Any, path: str | os.PathLike, run: str | None = None,
             label: str = "report", style: Style = DEFAULT_STYLE) -> list[dict[str, Any]]:
    """Which component is busy when: one line per component instance of the run (a tile's
    eDRAM or bus, a layer copy's crossbars, ADC bank or index unit, a NoC link, a layer's write
    drivers, ...), one bar per busy interval (adjacent intervals merged by the engine, at most
    a few hundred per component), coloured by component kind. Returns the components drawn (the
    run's ``components``, kind and name and intervals)."""
    run = _run_of(report, run)
    comps = report.runs[run].get("components", [])
    kinds = list(dict.fromkeys(c["kind"] for c in comps))
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(8.0, 1.2 + 0.22 * len(comps)))
    for y, c in enumerate(comps):
        ivs = c["intervals_ns"]
        color = cmap(kinds.index(c["kind"]) % 10)
        ax.broken_barh([(s * 1e-3, (e - s) * 1e-3) for s, e in ivs], (y - 0.4, 0.8),
                       facecolors=color)
    for k in kinds:
        ax.barh(0, 0, color=cmap(kinds.index(k) % 10), label=k)
    ax.set_yticks(range(len(comps)), [f"{c['kind']}: {c['component']}" for c in comps],
                  fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("time (us)")
    ax.set_title(_title(f"{run} component busy intervals", [label], [chip_name(report)]),
                 fontsize=9)
    if kinds:
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    _save(fig, path, style)
    return comps


# ---------------------------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------------------------

def pareto_front(*objectives: Sequence[float]) -> np.ndarray:
    """Indices of the points no other point dominates, every objective minimised (a point
    dominates another when it is lower or equal in every objective and lower in one). Maximise
    a quantity by passing its negative."""
    cols = [np.asarray(o, float) for o in objectives]
    le = np.logical_and.reduce([c[None, :] <= c[:, None] for c in cols])
    lt = np.logical_or.reduce([c[None, :] < c[:, None] for c in cols])
    dominated = (le & lt).any(axis=1)
    return np.flatnonzero(~dominated)


MAX_LABELS = 12   # a sweep with more points labels only its Pareto front
# Columns of a sweep row that are not design parameters (rram_sim.sweep.spec's BASE_FIELDS but
# bundle and scheme, and its accuracy columns; the report metrics come from rram_sim.metrics).
# Written out here, as rram_sim.sweep imports this module; tests/test_sweep.py checks they agree.
ROW_RESULT_FIELDS = ("key", "index", "status", "reason", "config_hash", "accuracy",
                     "accuracy_exact")


def point_labels(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A short label per sweep row: the values of the columns that differ between the rows
    (grid parameters, bundle, scheme; not the result columns), ``name=value`` joined by commas."""
    from rram_sim.metrics import metric_names

    skip = set(ROW_RESULT_FIELDS) | set(metric_names())
    keys: list[str] = []
    for k in dict.fromkeys(k for r in rows for k in r):
        vals = [str(r.get(k)) for r in rows]
        if k in skip or len(set(vals)) < 2:
            continue
        # a column tied one-to-one to one already shown (crossbar.cols with crossbar.rows)
        # adds nothing to the label
        if any(len(set(zip(vals, (str(r.get(k0)) for r in rows)))) == len(set(vals))
               == len({str(r.get(k0)) for r in rows}) for k0 in keys):
            continue
        keys.append(k)
    return [_plain(", ".join(f"{k}={r.get(k)}" for k in keys)) or str(r.get("key", "?"))
            for r in rows]


def pareto(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike,
           x: str = "inference_latency_ns", y: str = "inference_energy_pj",
           size: str = "chip_area_mm2", chip: str = "chip per point: see results.csv config_hash",
           style: Style = DEFAULT_STYLE, accuracy: str = "accuracy") -> dict[str, Any]:
    """The Pareto figure of a sweep's finished points, marker area proportional to ``size``,
    ``chip`` naming the sweep's chips in the title (``style.log``: log scale on energy axes).

    Without accuracies: ``y`` against ``x``, the front (both minimised) joined and ringed. When
    every point has an ``accuracy`` (the sweep's bundles carry eval sets): two panels, accuracy
    against ``y`` and against ``x``, the front taken over all three (``x`` and ``y`` minimised,
    accuracy maximised) and ringed in both. The front's points are labelled with the values that
    differ between the points (every point, up to :data:`MAX_LABELS` points). Returns the points
    (with their accuracy and label), the front's keys and the objectives."""
    pts = [r for r in rows if r.get("status") == "ok" and _number(r.get(x)) is not None
           and _number(r.get(y)) is not None]
    with_acc = bool(pts) and all(_number(r.get(accuracy)) is not None for r in pts)
    title = f"design-space sweep: {len(pts)} points ({_plain(chip)})"
    labels = point_labels(pts)
    front: list[int] = []
    xs = np.array([_number(r[x]) for r in pts], dtype=float)
    ys = np.array([_number(r[y]) for r in pts], dtype=float)
    ss = np.array([_number(r.get(size)) or 0.0 for r in pts], dtype=float)
    area = (20 + 200 * ss / ss.max() if pts and ss.max() > 0 else np.full(len(pts), 40.0))
    xname, yname = f"{x.replace('_ns', '')} (us)", f"{y.replace('_pj', '')} (uJ)"
    if not with_acc:
        fig, ax = plt.subplots(figsize=(6.0, 4.5))
        if pts:
            ax.scatter(xs * 1e-3, ys * 1e-6, s=area, alpha=0.5, color="#1f77b4",
                       label=f"points (marker area ~ {size})")
            front = [int(i) for i in pareto_front(xs, ys)]
            order = sorted(front, key=lambda i: xs[i])
            ax.plot(xs[order] * 1e-3, ys[order] * 1e-6, "-o", color="#d62728", mfc="none",
                    ms=10, label="Pareto front")
            _label(ax, xs * 1e-3, ys * 1e-6, labels, front)
            ax.legend(fontsize=8, frameon=False)
        ax.set_xlabel(xname)
        ax.set_ylabel(yname)
        if style.log and y.endswith("_pj"):
            ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        objectives = [f"{x} (min)", f"{y} (min)"]
    else:
        acc = np.array([_number(r[accuracy]) for r in pts], dtype=float)
        front = [int(i) for i in pareto_front(xs, ys, -acc)]
        fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.5), sharey=True)
        for ax, vals, name, unit, is_energy in ((axes[0], ys * 1e-6, yname, y, True),
                                                 (axes[1], xs * 1e-3, xname, x, False)):
            ax.scatter(vals, acc, s=area, alpha=0.5, color="#1f77b4",
                       label=f"points (marker area ~ {size})")
            ax.scatter(vals[front], acc[front], s=120, facecolors="none", edgecolors="#d62728",
                       linewidths=1.5, label=f"Pareto front ({accuracy} max, both costs min)")
            # every point labelled on the energy panel, the front's on the latency panel
            _label(ax, vals, acc, labels if is_energy else
                   [lab if i in front else "" for i, lab in enumerate(labels)], front)
            ax.set_xlabel(name)
            ax.margins(x=0.15, y=0.08)      # room for the labels
            if style.log and is_energy and unit.endswith("_pj"):
                ax.set_xscale("log")
        axes[0].set_ylabel(f"{accuracy} (top-1, on the crossbars)")
        axes[0].legend(fontsize=7, frameon=False, loc="lower right")
        fig.suptitle(title, fontsize=9)
        objectives = [f"{x} (min)", f"{y} (min)", f"{accuracy} (max)"]
    fig.tight_layout()
    _save(fig, path, style)
    return {"points": [{"key": r["key"], x: _number(r[x]), y: _number(r[y]),
                        size: r.get(size), "label": lab,
                        **({accuracy: _number(r[accuracy])} if with_acc else {})}
                       for r, lab in zip(pts, labels)],
            "front": [pts[i]["key"] for i in front], "objectives": objectives}


def _label(ax: Any, xv: np.ndarray, yv: np.ndarray, labels: Sequence[str],
           front: Sequence[int]) -> None:
    """Write each point's label beside it (only the front's when there are many points)."""
    which = range(len(labels)) if len(labels) <= MAX_LABELS else front
    for i in which:
        if labels[i]:
            t = ax.annotate(labels[i], (xv[i], yv[i]), xytext=(4, 4),
                            textcoords="offset points", fontsize=6,
                            color="#d62728" if i in front else "#555555")
            t.set_in_layout(False)      # long labels must not shrink the axes


def _number(v: Any) -> float | None:
    """A CSV cell as a finite number, or None (empty, text, nan or inf)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) and abs(f) <= 1e30 else None


MAX_SERIES = 10   # lines per panel of a sweep figure; beyond that the points are drawn unjoined


def sweep_against(rows: Sequence[Mapping[str, Any]], param: str, others: Sequence[str],
                  metrics: Sequence[str], path: str | os.PathLike, sweep: str = "sweep",
                  style: Style = DEFAULT_STYLE) -> dict[str, Any]:
    """Each metric of a sweep's finished (``status == ok``) rows against one swept parameter, one
    panel per metric. Points that share the values of the ``others`` (the other swept columns)
    form one line, labelled with those values (unjoined dots when there are more than
    :data:`MAX_SERIES` such lines). A parameter whose values are all numbers is a numeric axis,
    otherwise its values are categories in order of appearance. ``style.log``: log scale on the
    energy (``_pj``) panels. Returns ``{"param", "metrics": {metric: {series: [[x, y], ...]}}}``
    with ``x`` as read from the CSV (numbers where they are numbers)."""
    ok = [r for r in rows if r.get("status") == "ok"]
    xs_raw = [r.get(param, "") for r in ok]
    numeric = bool(ok) and all(_number(v) is not None for v in xs_raw)
    cats = list(dict.fromkeys(str(v) for v in xs_raw))

    def xval(v: Any) -> float:
        return float(v) if numeric else float(cats.index(str(v)))

    def series_of(r: Mapping[str, Any]) -> str:
        return ", ".join(f"{o}={r.get(o, '')}" for o in others) or "all points"

    keys = list(dict.fromkeys(series_of(r) for r in ok))
    joined = len(keys) <= MAX_SERIES
    ncol = min(3, max(1, len(metrics)))
    nrow = max(1, -(-len(metrics) // ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.0 * nrow + 0.8), squeeze=False)
    cmap = plt.get_cmap("tab10")
    out: dict[str, Any] = {"param": param, "metrics": {}}
    for i, ax in enumerate(axes.flat):
        if i >= len(metrics):
            ax.set_visible(False)
            continue
        metric = metrics[i]
        per: dict[str, list[list[Any]]] = {}
        for r in ok:
            y = _number(r.get(metric))
            if y is None:
                continue
            x = float(r[param]) if numeric else str(r[param])
            per.setdefault(series_of(r), []).append([x, y])
        for k, key in enumerate(keys):
            pts = sorted(per.get(key, []), key=lambda p: xval(p[0]))
            if not pts:
                continue
            ax.plot([xval(p[0]) for p in pts], [p[1] for p in pts], "-o" if joined else "o",
                    ms=4, color=cmap(k % 10), label=_plain(key) if i == 0 else None)
        out["metrics"][metric] = per
        if not numeric:
            ax.set_xticks(range(len(cats)), [_plain(c) for c in cats], fontsize=7)
        if style.log and metric.endswith("_pj"):
            ax.set_yscale("log")
        ax.set_xlabel(_plain(param), fontsize=8)
        ax.set_title(_plain(metric), fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"sweep {_plain(sweep)}: each metric against {_plain(param)} "
                 f"({len(ok)} points; chip per point: see results.csv config_hash)", fontsize=9)
    if joined and keys:
        fig.legend(loc="lower center", ncol=min(4, len(keys)), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06 if joined and keys else 0, 1, 0.97))
    _save(fig, path, style)
    return out


__all__ = ["CATEGORY_COLORS", "CATEGORY_LABELS", "DEFAULT_STYLE", "FORMATS", "STATIC_NAME",
           "Style", "cell_states", "chip_name", "crossbar_map",
           "crossbar_occupancy", "energy_breakdown", "energy_by_layer", "energy_by_pass",
           "pareto", "pareto_front", "sweep_against", "timeline"]
