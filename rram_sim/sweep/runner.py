"""Running a sweep into a folder: resumable results, CSV, Pareto figure."""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rram_sim.errors import ConfigError
from rram_sim.fileio import atomic_write_json, atomic_write_text
from rram_sim.fileio import csv_text as _csv_text
from rram_sim.sweep.backends import BACKEND_FUNCS
from rram_sim.sweep.point import run_point
from rram_sim.sweep.spec import (
    BACKENDS,
    BASE_FIELDS,
    METRIC_FIELDS,
    RESULTS_CSV,
    RESULTS_JSONL,
    SPEC_JSON,
    SweepSpec,
    points,
)


def _row_ok(row: Any) -> bool:
    """A row as run_point writes it: a string key, a known status, numeric (or empty) metrics."""
    if not isinstance(row, dict) or not isinstance(row.get("key"), str):
        return False
    if row.get("status") not in ("ok", "skipped"):
        return False
    return all(v is None or (isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2 ** 63)
               or (isinstance(v, float) and math.isfinite(v))
               for v in (row.get(k) for k in METRIC_FIELDS))


def read_results(out: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Rows already in ``out/results.jsonl`` by key. A line that is not such a row (a torn last
    line, or a damaged one) is ignored, so its point runs again."""
    p = Path(out) / RESULTS_JSONL
    rows: dict[str, dict[str, Any]] = {}
    if p.is_file():
        for line in p.read_bytes().decode("utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if _row_ok(row):
                rows[row["key"]] = row
    return rows


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def csv_text(rows: list[dict[str, Any]], params: list[str]) -> str:
    return _csv_text(rows, [*BASE_FIELDS, *params, *METRIC_FIELDS])


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: every point's row in grid order, and which it computed now."""

    rows: list[dict[str, Any]]
    computed: list[str]
    skipped_before: list[str]
    files: dict[str, str]


def run_sweep(spec: SweepSpec, out: str | os.PathLike, backend: str = "serial",
              workers: int | None = None, scheduler: str | None = None,
              dask_processes: bool = True,
              progress: Callable[[int, int, dict[str, Any]], None] | None = None) -> SweepResult:
    """Run (or resume) ``spec`` into folder ``out`` on ``backend`` (see the module docstring)."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r}: must be one of {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers={workers}: must be >= 1")
    if scheduler and backend != "dask":
        raise ConfigError(f"scheduler={scheduler!r}: only the dask backend takes a scheduler")
    workers = workers or max(1, min(os.cpu_count() or 1, 4))
    out = Path(out)
    # Validate everything, then write: every bundle is loaded (and so checked) and the grid built
    # before the output folder or its state file is touched.
    from rram_sim.bundle import load_bundle

    for _, path in spec.bundles:
        load_bundle(path)
    tasks = points(spec)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    ident = spec.identity()
    id_path = out / SPEC_JSON
    if id_path.is_file():
        try:
            held = json.loads(id_path.read_bytes().decode("utf-8"))
        except (ValueError, RecursionError):
            raise ConfigError(f"{id_path}: not a sweep state file (unreadable JSON); remove it or "
                              f"use another output folder") from None
        if held != ident:
            raise ConfigError(f"{out}: holds a sweep with other passes/batch/allow_multi_chip/"
                              f"placement ({id_path}); use another output folder")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(id_path, ident)
    done = read_results(out)
    todo = [t for t in tasks if t["key"] not in done]
    before = [t["key"] for t in tasks if t["key"] in done]
    computed = []
    jsonl = out / RESULTS_JSONL
    run_now = [t for t in todo if t["chip"] is not None]
    finished = [run_point(t) for t in todo if t["chip"] is None]
    rows_iter = itertools.chain(finished, BACKEND_FUNCS[backend](run_now, workers, scheduler,
                                                                  dask_processes)
                                if run_now else [])
    for n, row in enumerate(rows_iter, 1):
        _append(jsonl, row)
        done[row["key"]] = row
        computed.append(row["key"])
        if progress:
            progress(n, len(todo), row)
    rows = [{**done[t["key"]], "index": t["index"]} for t in tasks]
    # Rows of points no longer in the sweep file stay in the JSONL (after the current ones).
    keys = {t["key"] for t in tasks}
    extra = [r for k, r in done.items() if k not in keys]
    atomic_write_text(jsonl, "".join(json.dumps(r) + "\n" for r in rows + extra))
    atomic_write_text(out / RESULTS_CSV, csv_text(rows, spec.param_names))
    files = {"jsonl": str(jsonl), "csv": str(out / RESULTS_CSV)}
    from rram_sim.plot import pareto

    which = "inference" if "inference" in spec.passes else "training"
    x, y = (("inference_latency_ns", "inference_energy_pj") if which == "inference"
            else ("training_step_ns", "training_energy_pj"))
    pareto(rows, out / "pareto.png", x=x, y=y)
    files["pareto"] = str(out / "pareto.png")
    return SweepResult(rows=rows, computed=computed, skipped_before=before, files=files)
