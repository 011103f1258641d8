"""Reports: what a simulated run did, in files that plots and sweeps read without the simulator.

A :class:`Report` holds, for each run (``inference`` and/or ``training``):

- *records*: one row per (run, layer, pass, component) with the event ``count``, the dynamic
  ``energy_pj`` and the ``busy_time_ns`` of the hardware the component belongs to; leakage appears
  as layer ``(chip)``, pass ``leakage``;
- a *summary* per run: latency, throughput, energy per inference or per training step, average
  power, utilization of crossbars, ADCs and NoC links, events simulated, and per component
  instance (a tile's eDRAM or bus, a layer copy's crossbars, ADC bank or index unit, a NoC link,
  ...) its busy time, utilization and busy intervals (``components``; per kind in
  ``component_utilization``);
- dynamic and static energy side by side: every record has a ``kind`` (``dynamic`` or ``static``),
  each run's summary gives both per item (``dynamic_energy_per_item_uj``,
  ``static_energy_per_item_uj``, ``static_energy_fraction``), and the static part of each
  category is kept beside the total (``static_energy_by_category_pj``);
- energy by component category (``costs.CATEGORIES``), per-layer time intervals (``start_ns``,
  ``end_ns`` per layer, pass and tile) for a pipeline timeline, and for training the wear of every
  layer (writes per cell per step, steps until ``cell.endurance_writes`` is spent);
- for a network run in reload segments (``overflow="reload"``), the reprogramming as its own pass
  ``reload`` (per layer: write pulses, energy, time) and in the summary (``segments``,
  ``reloads``, ``reload_ns``, ``reload_write_pulses``); its writes count as wear, per batch for an
  inference run;
- the chip's area and peak power (``costs.rollup``), the config and its hash, the layout figures.

``Report.save(dir)`` writes ``report.json`` (self-contained, with a ``units`` block naming the unit
of every key suffix, :data:`UNITS`), ``records.csv`` and ``intervals.csv`` atomically;
``Report.load(dir)`` reads them back (JSON only, no pickle). Cycles
become nanoseconds here and nowhere earlier.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rram_sim import accounting, costs
from rram_sim.config import Config, from_dict
from rram_sim.engine import timing as T
from rram_sim.errors import LayoutError
from rram_sim.fileio import atomic_write_json, atomic_write_text, csv_text

REPORT_VERSION = 2   # 2: static energy per category, energy kind per record
RECORD_FIELDS = ("run", "layer", "pass", "component", "category", "kind", "count", "energy_pj",
                 "busy_time_ns")
INTERVAL_FIELDS = ("run", "layer", "op", "pass", "tile", "start_ns", "end_ns")
# The JSON type of each report field (checked when a report is read back).
_FIELD_TYPES = {"config": dict, "config_hash": str, "scheme": str, "runs": dict, "records": list,
                "intervals": list, "energy_by_category_pj": dict,
                "static_energy_by_category_pj": dict, "layers": list, "wear": list,
                "area": dict, "figures": dict, "version": int}
# Which hardware's busy time a component category reports.
_BUSY_OF_CATEGORY = {
    "adc": ("adc",), "dac": ("crossbar",), "crossbar": ("crossbar",),
    "sample_hold": ("crossbar",), "index_datapath": ("index",),
    "shift_add_digital": ("bus", "digital"), "buffers": ("edram", "bus"),
    "interconnect": ("noc", "offchip"), "writes": ("write",),
}


# The unit of every key and column suffix in reports, summaries, sweeps and plots.json (written
# into each report.json so that a file read without the docs still says what its numbers are).
UNITS = {
    "_ns": "nanoseconds", "_us": "microseconds", "_ms": "milliseconds", "_s": "seconds",
    "_pj": "picojoules", "_nj": "nanojoules", "_uj": "microjoules", "_w": "watts",
    "_mw": "milliwatts", "_um2": "square micrometres", "_mm2": "square millimetres",
    "_per_s": "per second", "_cycles": "clock cycles (chip.clock_ghz)",
    "utilization": "fraction of the run's makespan (0..1)", "fraction": "0..1",
}

# Rows of the terminal summary: (key, label with its readable unit, scale from the key's unit).
_SUMMARY_ROWS = (
    ("latency_ns", "latency (us)", 1e-3),
    ("throughput_per_s", "throughput (items/s)", 1.0),
    ("energy_per_item_uj", "energy per item (uJ)", 1.0),
    ("dynamic_energy_per_item_uj", "  dynamic (uJ)", 1.0),
    ("static_energy_per_item_uj", "  static (uJ)", 1.0),
    ("average_power_w", "average power (W)", 1.0),
    ("crossbar_utilization", "crossbar utilization", 1.0),
    ("adc_utilization", "ADC utilization", 1.0),
    ("link_utilization", "link utilization", 1.0),
    ("events", "events simulated", 1.0),
)
_RELOAD_ROWS = (
    ("segments", "reload segments", 1.0),
    ("reloads", "reloads", 1.0),
    ("reload_ns", "reload time (us)", 1e-3),
    ("reload_write_pulses", "reload write pulses", 1.0),
)


@dataclass
class Report:
    """A simulation report (see the module docstring). Plain JSON-able data only."""

    config: dict[str, Any]
    config_hash: str
    scheme: str
    runs: dict[str, dict[str, Any]]
    records: list[dict[str, Any]]
    intervals: list[dict[str, Any]]
    energy_by_category_pj: dict[str, dict[str, float]]          # dynamic + static
    static_energy_by_category_pj: dict[str, dict[str, float]]   # the static (leakage) part
    layers: list[dict[str, Any]]
    wear: list[dict[str, Any]]
    area: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    version: int = REPORT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "report") -> Report:
        """A Report from its JSON form; ``source`` (the file) names every error."""
        if not isinstance(d, dict) or d.get("version") != REPORT_VERSION:
            got = d.get("version") if isinstance(d, dict) else type(d).__name__
            raise LayoutError(f"{source}: version {got!r} is not {REPORT_VERSION} (re-run "
                              f"`rram-sim simulate` to write a current report)")
        names = {f for f in cls.__dataclass_fields__}
        missing = sorted(names - set(d))
        if missing:
            raise LayoutError(f"{source}: missing key(s) {', '.join(missing)}")
        for key, typ in _FIELD_TYPES.items():
            if not isinstance(d[key], typ):
                raise LayoutError(f"{source}: '{key}' must be a {typ.__name__}, "
                                  f"got {type(d[key]).__name__}")
        return cls(**{k: d[k] for k in names})

    @property
    def chip(self) -> Config:
        return from_dict(self.config)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write report.json, records.csv and intervals.csv into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_json(d / "report.json", {"units": UNITS, **self.to_dict()})
        atomic_write_text(d / "records.csv", csv_text(self.records, RECORD_FIELDS))
        atomic_write_text(d / "intervals.csv", csv_text(self.intervals, INTERVAL_FIELDS))
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Report:
        """Read ``directory/report.json`` (JSON only); a missing, binary, malformed, too deeply
        nested or mistyped file raises LayoutError naming it."""
        p = Path(directory) / "report.json"
        if not p.is_file():
            raise LayoutError(f"report '{directory}': no report.json in it")
        try:
            data = json.loads(p.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            raise LayoutError(f"report '{p}': not a text file") from None
        except json.JSONDecodeError as exc:
            raise LayoutError(f"report '{p}': not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise LayoutError(f"report '{p}': nested too deeply") from None
        return cls.from_dict(data, source=f"report '{p}'")

    def summary_table(self) -> str:
        """A plain-text table of the per-run summaries, in readable units (us, uJ, W)."""
        rows = _SUMMARY_ROWS
        runs = list(self.runs)
        if any(self.runs[r].get("reloads") for r in runs):
            rows += _RELOAD_ROWS
        lines = [f"{'':28s}" + "".join(f"{r:>16s}" for r in runs)]
        for key, label, scale in rows:
            cells = []
            for r in runs:
                v = self.runs[r].get(key)
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
                cells.append(f"{v * scale:>16.4g}" if ok else f"{'-':>16s}")
            lines.append(f"{label:28s}" + "".join(cells))
        return "\n".join(lines)


def _busy_ns(busy_cycles: dict[str, int], category: str, cfg: Config) -> float:
    return T.cycles_to_ns(sum(busy_cycles.get(k, 0) for k in _BUSY_OF_CATEGORY.get(category, ())),
                          cfg)


@dataclass
class _RunTally:
    """What one run's stage records add up to while a report is built."""

    dynamic_pj: dict[str, float]                         # per component
    phase_energy_pj: dict[str, float] = field(default_factory=dict)
    phase_span_ns: dict[str, list[float]] = field(default_factory=dict)
    crossbar_busy_cycles: float = 0.0                    # busy cycles x crossbars, all stages


def _pass_name(run: str, rec) -> str:
    return "inference" if run == "inference" and rec.pass_name != "reload" else rec.pass_name


def _add_record(rep: Report, tally: _RunTally, run: str, rec, st, result, cfg: Config,
                lib: dict) -> None:
    """One stage record: its counts and energy per component, its interval, its layer row."""
    counts = accounting.stage_counts(rec, st, result.n_images, cfg)
    dyn = accounting.dynamic_energy_pj(counts, cfg)
    pass_name = _pass_name(run, rec)
    for comp, e in dyn.items():
        n = getattr(counts, lib[comp].event) if lib[comp].event else 0
        if n == 0 and e == 0.0:
            continue
        tally.dynamic_pj[comp] += e
        rep.records.append({"run": run, "layer": rec.name, "pass": pass_name, "component": comp,
                            "category": lib[comp].category, "kind": "dynamic", "count": int(n),
                            "energy_pj": float(e),
                            "busy_time_ns": _busy_ns(rec.busy_cycles, lib[comp].category, cfg)})
    e_rec = float(sum(dyn.values()))
    tally.phase_energy_pj[pass_name] = tally.phase_energy_pj.get(pass_name, 0.0) + e_rec
    s_ns = e_ns = 0.0
    if rec.start_cycles >= 0:
        s_ns, e_ns = T.cycles_to_ns(rec.start_cycles, cfg), T.cycles_to_ns(rec.end_cycles, cfg)
        span = tally.phase_span_ns.setdefault(pass_name, [s_ns, e_ns])
        span[0], span[1] = min(span[0], s_ns), max(span[1], e_ns)
        for tile in rec.tiles:
            rep.intervals.append({"run": run, "layer": rec.name, "op": rec.op, "pass": pass_name,
                                  "tile": int(tile), "start_ns": s_ns, "end_ns": e_ns})
    if st is not None and st.geom is not None:
        # the engine books every crossbar's read cycles (crossbar-cycles, all copies)
        tally.crossbar_busy_cycles += rec.busy_cycles["crossbar"]
    rep.layers.append({"run": run, "layer": rec.name, "op": rec.op, "pass": pass_name,
                       "start_ns": s_ns, "end_ns": e_ns, "energy_pj": e_rec,
                       "busy_time_ns": {k: T.cycles_to_ns(v, cfg)
                                        for k, v in rec.busy_cycles.items()},
                       "counts": counts.to_dict()})


def _crossbar_utilization(tally: _RunTally, stages, makespan_cycles: int) -> float:
    """Busy crossbar-cycles over placed crossbars x makespan. Reload segments reuse the same
    crossbars: the chip holds one segment at a time, so the largest segment counts."""
    per_seg: dict[int, int] = {}
    for s in stages:
        if s.geom is not None:
            per_seg[s.segment] = per_seg.get(s.segment, 0) + s.geom.n_crossbars * s.copies
    placed = max(per_seg.values(), default=0)
    if not placed or not makespan_cycles:
        return 0.0
    return tally.crossbar_busy_cycles / (placed * makespan_cycles)


def _adc_banks(stages, cfg: Config) -> int:
    """ADC banks placed: one per crossbar, or one per PE under ``adc.sharing: pe`` (the largest
    reload segment's)."""
    per_seg: dict[int, int] = {}
    for s in stages:
        if s.geom is not None:
            n = s.geom.n_crossbars
            banks = n if cfg.adc.sharing == "crossbar" else math.ceil(n / cfg.pe.crossbars)
            per_seg[s.segment] = per_seg.get(s.segment, 0) + banks * s.copies
    return max(per_seg.values(), default=0)


def _components(result, cfg: Config) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Per component instance its busy time, utilization (busy / makespan) and busy intervals
    (ns, adjacent ones merged); per component kind the busy time over the instances that served
    the run x makespan."""
    span = result.makespan_cycles
    rows, per_kind = [], {}
    for c in result.components:
        rows.append({"kind": c.kind, "component": c.key, "units": c.units,
                     "busy_ns": T.cycles_to_ns(c.busy_cycles, cfg),
                     "utilization": c.busy_cycles / span if span else 0.0,
                     "intervals_ns": [[T.cycles_to_ns(s, cfg), T.cycles_to_ns(e, cfg)]
                                      for s, e in c.intervals]})
        busy, n = per_kind.get(c.kind, (0, 0))
        per_kind[c.kind] = (busy + c.busy_cycles, n + 1)
    util = {k: b / (n * span) if span else 0.0 for k, (b, n) in per_kind.items()}
    return rows, util


def _run_summary(result, stages, tally: _RunTally, leak: dict[str, float],
                 cfg: Config) -> dict[str, Any]:
    run = result.mode
    makespan_ns = T.cycles_to_ns(result.makespan_cycles, cfg)
    total_dyn = sum(tally.dynamic_pj.values())
    total_leak = sum(leak.values())
    total = total_dyn + total_leak
    xbar_util = _crossbar_utilization(tally, stages, result.makespan_cycles)
    adc_busy = sum(r.busy_cycles["adc"] for r in result.records)
    banks = _adc_banks(stages, cfg)
    components, unit_util = _components(result, cfg)
    items = result.n_images if run == "inference" else 1
    makespan_s = makespan_ns * 1e-9
    spans = tally.phase_span_ns
    summary = {
        "n_images": result.n_images,
        "latency_ns": (T.cycles_to_ns(result.image_done_cycles[0], cfg)
                       if run == "inference" and result.image_done_cycles else makespan_ns),
        "makespan_ns": makespan_ns,
        "throughput_per_s": items / makespan_s if makespan_s > 0 else 0.0,
        "throughput_unit": "inferences/s" if run == "inference" else "training steps/s",
        "images_per_s": result.n_images / makespan_s if makespan_s > 0 else 0.0,
        "energy_pj": total, "dynamic_energy_pj": total_dyn, "leakage_energy_pj": total_leak,
        "energy_per_item_pj": total / items, "energy_per_item_uj": total / items * 1e-6,
        "dynamic_energy_per_item_uj": total_dyn / items * 1e-6,
        "static_energy_per_item_uj": total_leak / items * 1e-6,
        "static_energy_fraction": total_leak / total if total > 0 else 0.0,
        "energy_item": "inference" if run == "inference" else "training step",
        "average_power_w": total / makespan_ns * 1e-3 if makespan_ns > 0 else 0.0,
        "crossbar_utilization": xbar_util,
        "adc_utilization": (adc_busy / (banks * result.makespan_cycles)
                            if banks and result.makespan_cycles else 0.0),
        "link_utilization": (result.link_busy_cycles / (result.n_links * result.makespan_cycles)
                             if result.makespan_cycles else 0.0),
        "events": result.events,
        "component_utilization": unit_util,
        "components": components,
        "segments": result.segments, "reloads": result.reloads,
        "reload_ns": T.cycles_to_ns(result.reload_cycles, cfg),
        "reload_write_pulses": int(sum(result.reload_pulses_per_layer.values())),
        "tiles_used": len({t for s in stages for t in s.tiles}),
        "phases": {p: {"start_ns": spans.get(p, [0.0, 0.0])[0],
                       "end_ns": spans.get(p, [0.0, 0.0])[1],
                       "dynamic_energy_pj": e} for p, e in tally.phase_energy_pj.items()},
    }
    if run == "training":
        summary["drain_ns"] = T.cycles_to_ns(result.drain_cycles, cfg)
        summary["update_write_pulses"] = int(sum(result.pulses_per_layer.values()))
        summary["cell_write_pulses"] = (summary["update_write_pulses"]
                                        + summary["reload_write_pulses"])
    return summary


def build_report(runs, cfg: Config, figures: dict[str, Any] | None = None,
                 scheme: str = "") -> Report:
    """A Report from ``[(SimResult, stages), ...]`` (one per run); energy and area come from
    :mod:`rram_sim.accounting` (index units included when ``scheme`` is indexed)."""
    indexed = accounting.is_indexed(scheme)
    lib = costs.component_library(cfg)
    rep = Report(config=cfg.to_dict(), config_hash=cfg.config_hash(), scheme=scheme, runs={},
                 records=[], intervals=[], energy_by_category_pj={},
                 static_energy_by_category_pj={}, layers=[], wear=[],
                 area=accounting.area_figures(cfg, indexed=indexed),
                 figures=json.loads(json.dumps(figures or {}, default=_jsonable)))
    for result, stages in runs:
        run = result.mode
        by_name = {s.name: s for s in stages}
        tally = _RunTally(dict.fromkeys(lib, 0.0))
        for rec in result.records:
            _add_record(rep, tally, run, rec, by_name.get(rec.name), result, cfg, lib)
        makespan_ns = T.cycles_to_ns(result.makespan_cycles, cfg)
        leak = accounting.static_energy_pj(cfg, makespan_ns, (t for st in stages for t in st.tiles),
                                           indexed=indexed)
        for comp, e in leak.items():
            if e > 0:
                rep.records.append({"run": run, "layer": "(chip)", "pass": "leakage",
                                    "component": comp, "category": lib[comp].category,
                                    "kind": "static",
                                    "count": 0, "energy_pj": float(e),
                                    "busy_time_ns": makespan_ns})
        cat = accounting.by_category(tally.dynamic_pj, cfg)
        cat_leak = accounting.by_category(leak, cfg)
        rep.energy_by_category_pj[run] = {c: cat[c] + cat_leak[c] for c in costs.CATEGORIES}
        rep.static_energy_by_category_pj[run] = {c: cat_leak[c] for c in costs.CATEGORIES}
        rep.runs[run] = _run_summary(result, stages, tally, leak, cfg)
        if run == "training" or result.reloads:
            rep.wear += _wear(stages, result, cfg)
    return rep


def _jsonable(o: Any) -> Any:
    try:
        return o.item()
    except AttributeError:
        return str(o)


def _wear(stages, result, cfg: Config) -> list[dict[str, Any]]:
    """Writes per cell per step (a training step, or an inference batch that reloads) and steps
    until the endurance budget is spent; the reload's programming writes count."""
    out = []
    for st in stages:
        if st.geom is None:
            continue
        g = st.geom
        upd = result.pulses_per_layer.get(st.name, 0)
        rel = result.reload_pulses_per_layer.get(st.name, 0)
        n_rel = result.reloads_per_layer.get(st.name, 0)
        pulses = upd + rel
        cells = g.written_cells * st.copies
        per_cell = pulses / cells if cells else 0.0
        upd_cell = upd / cells if cells else 0.0
        # Every copy is written with the same update and the same programming.
        per_xb = [int(round(c * per_cell)) for c in g.cells_per_crossbar]
        worst = ((math.ceil(upd_cell - 1e-9) if upd_cell > 0 else 0)
                 + n_rel * math.ceil(T.program_pulses_per_cell(cfg) - 1e-9)) if cells else 0
        out.append({
            "run": result.mode, "layer": st.name, "written_cells": cells,
            "write_pulses_per_step": pulses, "reload_pulses_per_step": rel,
            "reloads_per_step": n_rel,
            "writes_per_cell_per_step": per_cell, "max_writes_per_cell_per_step": worst,
            "steps_to_endurance": (cfg.cell.endurance_writes / worst) if worst else None,
            "write_pulses_per_crossbar": per_xb})
    return out
