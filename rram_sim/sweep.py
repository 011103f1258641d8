"""Design-space sweeps: networks simulated on a grid of chips, resumable, serial or in parallel.

A sweep file (YAML) names a base chip, a grid over chip parameters, the layout bundles to run and
the mapping schemes and passes::

    chip: edge                        # preset name or chip YAML (relative to this file)
    grid:                             # dotted config paths; the sweep runs their product
      adc.bits: [5, 6]
      ou.rows/ou.cols: [[8, 8], [16, 16]]   # tied keys: one list of value tuples
    bundles:                          # bundle directories (relative to this file) or example:NAME
      - example:compact
      - {name: pruned, path: out/demo/bundles/realprune}
    schemes: [dense, compact]         # default: each bundle's own scheme
    passes: [inference, training]     # default: [inference]
    batch: {inference: 1}             # images per run (training default: training.batch_size)
    allow_multi_chip: false           # spill onto further chips instead of skipping the point

**Re-mapping.** A bundle was mapped for one chip; at every point its weights are re-mapped for the
point's chip. The bundle stores the quantized integer weights (:func:`rram_sim.mapping.unmap`) and
each layer's scale, so the real weights are ``q * weight_scale`` and the mask is ``q != 0``; these,
the biases, the graph and the replication go through :func:`rram_sim.bundle.map_network`. With the
bundle's ``precision.weight_bits`` the integers are reproduced exactly; with other bits they are
re-quantized from those values. A pruning run enters a sweep through the bundle it exported.

**Points and results.** A point is (chip parameters, bundle, scheme); its key is
``CONFIGHASH-BUNDLE-SCHEME``. Each finished point is appended as one JSON line to
``DIR/results.jsonl`` the moment it returns; at the end the rows of the sweep's points are
rewritten in grid order to ``results.jsonl`` and ``results.csv`` and the Pareto figure
``pareto.png`` (energy vs latency, marker area by chip area) is drawn. Points already in
``results.jsonl`` are skipped, so a killed sweep resumes where it stopped. A point whose chip is
invalid (:class:`ConfigError`), whose network does not fit (:class:`MappingError`) or that asks
for a pass the chip cannot run is recorded with ``status: skipped`` and the one-line reason.

**Backends.** ``serial`` runs in this process; ``process`` a local pool (``multiprocessing``
*spawn* context, ``NUMBA_NUM_THREADS=1`` in each worker so workers do not oversubscribe the
cores); ``dask`` a Dask distributed cluster (a scheduler address, or a ``LocalCluster`` of worker
processes). Every backend runs the same pure function per point, so results are identical.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rram_sim import config as config_mod
from rram_sim.errors import ConfigError, MappingError
from rram_sim.fileio import atomic_write_json, atomic_write_text
from rram_sim.fileio import csv_text as _csv_text
from rram_sim.layout import SCHEMES
from rram_sim.metrics import metric_names, metric_values

BACKENDS = ("serial", "process", "dask")
PASSES = ("inference", "training")
RESULTS_JSONL = "results.jsonl"
RESULTS_CSV = "results.csv"
SPEC_JSON = "sweep.json"
BASE_FIELDS = ("key", "index", "status", "reason", "bundle", "scheme", "config_hash")
# The result columns: every registered report metric (rram_sim.metrics), in registration order.
METRIC_FIELDS = metric_names()
_KEYS = {"chip", "grid", "bundles", "schemes", "passes", "batch", "allow_multi_chip"}


@dataclass
class SweepSpec:
    """A parsed sweep file (see the module docstring)."""

    chip: dict[str, Any]                          # the base chip as a config dict
    grid: list[tuple[tuple[str, ...], list[tuple[Any, ...]]]]   # (keys, value tuples) per axis
    bundles: list[tuple[str, str]]                # (name, directory)
    schemes: list[str] | None = None              # None: each bundle's own scheme
    passes: list[str] = field(default_factory=lambda: ["inference"])
    batch: dict[str, int] = field(default_factory=dict)
    allow_multi_chip: bool = False

    @property
    def param_names(self) -> list[str]:
        return [k for keys, _ in self.grid for k in keys]

    def identity(self) -> dict[str, Any]:
        """What every row of one output folder must share (the grid and bundles may grow)."""
        return {"passes": self.passes, "batch": self.batch,
                "allow_multi_chip": self.allow_multi_chip}


def _need(ok: bool, where: str, msg: str) -> None:
    if not ok:
        raise ConfigError(f"{where}: {msg}")


def _bundle_dir(text: str, root: Path) -> str:
    if text.startswith("example:"):
        from rram_sim.examples import EXAMPLES_DIR

        return str(EXAMPLES_DIR / text.split(":", 1)[1])
    p = Path(text)
    return str(p if p.is_absolute() else root / p)


def parse_spec(data: Any, root: str | os.PathLike = ".", source: str = "sweep") -> SweepSpec:
    """Check a sweep mapping and resolve its paths against ``root``."""
    root = Path(root)
    _need(isinstance(data, dict), source, "must be a mapping of keys")
    unknown = sorted(set(data) - _KEYS)
    _need(not unknown, f"{source}: {', '.join(unknown)}",
          f"unknown key (known: {', '.join(sorted(_KEYS))})")
    chip = data.get("chip", config_mod.DEFAULT_PRESET)
    if isinstance(chip, str):
        p = Path(chip)
        chip_cfg = config_mod.load(chip if chip in config_mod.preset_names() or p.is_absolute()
                                   else root / p)
    elif isinstance(chip, dict):
        chip_cfg = config_mod.from_dict(chip)
    else:
        raise ConfigError(f"{source}.chip={chip!r}: must be a preset name, a YAML path or a "
                          f"mapping")
    grid_in = data.get("grid") or {}
    _need(isinstance(grid_in, dict), f"{source}.grid", "must map dotted keys to value lists")
    grid = []
    for k, values in grid_in.items():
        keys = tuple(str(k).split("/"))
        where = f"{source}.grid.{k}"
        _need(isinstance(values, list) and values, where, "must be a non-empty list")
        for key in keys:
            _need(key.count(".") == 1, where, f"'{key}' must be a dotted path group.name")
            group, name = key.split(".")
            _need(group in chip_cfg.to_dict() and isinstance(chip_cfg.to_dict()[group], dict)
                  and name in chip_cfg.to_dict()[group], where,
                  f"'{key}' is not a chip parameter")
        tuples = []
        for v in values:
            t = tuple(v) if len(keys) > 1 and isinstance(v, list) else (v,)
            _need(len(t) == len(keys), where,
                  f"value {v!r} must give {len(keys)} values ({', '.join(keys)})")
            tuples.append(t)
        grid.append((keys, tuples))
    bundles_in = data.get("bundles")
    _need(isinstance(bundles_in, list) and bundles_in, f"{source}.bundles",
          "must be a non-empty list of bundle directories")
    bundles: list[tuple[str, str]] = []
    for i, b in enumerate(bundles_in):
        where = f"{source}.bundles[{i}]"
        if isinstance(b, str):
            name, path = Path(b.split(":", 1)[-1].rstrip("/")).name, b
        elif isinstance(b, dict) and set(b) <= {"name", "path"} and "path" in b:
            path = str(b["path"])
            name = str(b.get("name") or Path(path.split(":", 1)[-1].rstrip("/")).name)
        else:
            raise ConfigError(f"{where}={b!r}: must be a path or {{name, path}}")
        _need(name not in [n for n, _ in bundles], where, f"duplicate bundle name '{name}'")
        _need("-" not in name and name, where, f"name '{name}' must be non-empty without '-'")
        bundles.append((name, _bundle_dir(path, root)))
    schemes = data.get("schemes")
    if schemes is not None:
        _need(isinstance(schemes, list) and schemes and all(s in SCHEMES for s in schemes),
              f"{source}.schemes", f"must be a list of {', '.join(SCHEMES)}")
    passes = data.get("passes", ["inference"])
    _need(isinstance(passes, list) and passes and all(p in PASSES for p in passes)
          and len(set(passes)) == len(passes), f"{source}.passes",
          f"must be a list of {', '.join(PASSES)}")
    batch = data.get("batch") or {}
    _need(isinstance(batch, dict) and set(batch) <= set(PASSES)
          and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                  for v in batch.values()), f"{source}.batch",
          "must map inference/training to an integer >= 1")
    multi = data.get("allow_multi_chip", False)
    _need(isinstance(multi, bool), f"{source}.allow_multi_chip", "must be true or false")
    return SweepSpec(chip=chip_cfg.to_dict(), grid=grid, bundles=bundles, schemes=schemes,
                     passes=list(passes), batch=dict(batch), allow_multi_chip=multi)


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read a sweep YAML file (``yaml.safe_load``); relative paths are relative to it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sweep '{p}': no such file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc.__class__.__name__})") from None
    return parse_spec(data, p.parent, str(p))


# ---------------------------------------------------------------------------------------------
# Points
# ---------------------------------------------------------------------------------------------

def _bundle_scheme(path: str) -> str:
    try:
        m = json.loads((Path(path) / "manifest.json").read_text())
    except (OSError, ValueError):
        from rram_sim.bundle import load_bundle

        load_bundle(path)  # raises the one-line LayoutError naming what is wrong
        raise
    return str(m.get("scheme"))


def points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every point of the sweep in grid order, each a self-contained task for :func:`run_point`
    (invalid chips already carry ``status: skipped``)."""
    base = config_mod.from_dict(spec.chip)
    axes = [[dict(zip(keys, t)) for t in tuples] for keys, tuples in spec.grid]
    out: list[dict[str, Any]] = []
    for combo in itertools.product(*axes) if axes else [()]:
        params = {k: v for d in combo for k, v in d.items()}
        try:
            cfg = base.replace(**params)
            chash, reason = cfg.config_hash(), None
        except ConfigError as exc:
            cfg, reason = None, str(exc)
            chash = "invalid" + hashlib.sha256(json.dumps(params, sort_keys=True, default=str)
                                               .encode()).hexdigest()[:9]
        for name, path in spec.bundles:
            for scheme in spec.schemes or [_bundle_scheme(path)]:
                out.append({"index": len(out), "key": f"{chash}-{name}-{scheme}",
                            "params": params, "chip": cfg.to_dict() if cfg else None,
                            "config_hash": None if cfg is None else chash, "reason": reason,
                            "bundle": name, "bundle_path": path, "scheme": scheme,
                            "passes": spec.passes, "batch": spec.batch,
                            "allow_multi_chip": spec.allow_multi_chip})
    return out


@functools.lru_cache(maxsize=8)
def _load_bundle(path: str):
    from rram_sim.bundle import load_bundle

    return load_bundle(path)


def remap(bundle: Any, cfg: Any, scheme: str, allow_multi_chip: bool = False) -> Any:
    """``bundle``'s network re-mapped for chip ``cfg`` under ``scheme`` (see the module doc)."""
    from rram_sim.bundle import map_network
    from rram_sim.mapping import unmap

    weights, masks, biases = {}, {}, {}
    for lay in bundle.layers:
        q = unmap(lay, bundle.config)
        shape = lay.spec.weight_shape
        weights[lay.spec.name] = (q * lay.weight_scale).T.reshape(shape)
        masks[lay.spec.name] = (q != 0).T.reshape(shape)
        biases[lay.spec.name] = lay.bias
    return map_network([lay.spec for lay in bundle.layers], weights, cfg, scheme, masks=masks,
                       biases=biases, graph=bundle.graph,
                       replication=list(bundle.placement.replication),
                       allow_multi_chip=allow_multi_chip)


def _row(task: dict[str, Any], status: str, reason: str | None = None) -> dict[str, Any]:
    row = {"key": task["key"], "index": task["index"], "status": status, "reason": reason,
           "bundle": task["bundle"], "scheme": task["scheme"],
           "config_hash": task["config_hash"], **task["params"]}
    return {**row, **dict.fromkeys(METRIC_FIELDS)}


def run_point(task: dict[str, Any]) -> dict[str, Any]:
    """Map and simulate one point; a user-level fault becomes a skipped row, never an exception.
    Pure: the same task gives the same row in any process."""
    from rram_sim.simulate import simulate

    if task["chip"] is None:
        return _row(task, "skipped", task["reason"])
    cfg = config_mod.from_dict(task["chip"])
    try:
        b = remap(_load_bundle(task["bundle_path"]), cfg, task["scheme"],
                  task["allow_multi_chip"])
        rep = simulate(b, cfg, tuple(task["passes"]), batch=task["batch"])
    except (ConfigError, MappingError) as exc:
        return _row(task, "skipped", str(exc))
    row = _row(task, "ok")
    row.update(metric_values(rep))
    return json.loads(json.dumps(row, default=_plain))


def _plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON-able")


# ---------------------------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _one_numba_thread() -> Iterator[None]:
    """Workers started inside this block inherit NUMBA_NUM_THREADS=1 (read at numba import)."""
    old = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = old


def _serial(tasks, workers, scheduler, dask_processes):
    for t in tasks:
        yield run_point(t)


def _process(tasks, workers, scheduler, dask_processes):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with _one_numba_thread(), ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_point, t) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()


def _dask(tasks, workers, scheduler, dask_processes):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("backend=dask: dask.distributed is not installed (pip install "
                          "'rram-sim[sweep]')") from None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_one_numba_thread())
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout="10s"))
            except OSError as exc:
                raise ConfigError(f"scheduler '{scheduler}': cannot connect ({exc})") from None
        else:
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=dask_processes,
                dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        futures = client.map(run_point, tasks, pure=False)
        for fut in as_completed(futures):
            yield fut.result()


_BACKEND_FUNCS = {"serial": _serial, "process": _process, "dask": _dask}


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------

def read_results(out: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Rows already in ``out/results.jsonl`` by key (a torn last line is ignored)."""
    p = Path(out) / RESULTS_JSONL
    rows: dict[str, dict[str, Any]] = {}
    if p.is_file():
        for line in p.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and "key" in row:
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
    out.mkdir(parents=True, exist_ok=True)
    ident = spec.identity()
    id_path = out / SPEC_JSON
    if id_path.is_file() and json.loads(id_path.read_text()) != ident:
        raise ConfigError(f"{out}: holds a sweep with other passes/batch/allow_multi_chip "
                          f"({id_path}); use another output folder")
    atomic_write_json(id_path, ident)
    tasks = points(spec)
    done = read_results(out)
    todo = [t for t in tasks if t["key"] not in done]
    before = [t["key"] for t in tasks if t["key"] in done]
    computed = []
    jsonl = out / RESULTS_JSONL
    run_now = [t for t in todo if t["chip"] is not None]
    finished = [run_point(t) for t in todo if t["chip"] is None]
    rows_iter = itertools.chain(finished, _BACKEND_FUNCS[backend](run_now, workers, scheduler,
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


__all__ = ["BACKENDS", "METRIC_FIELDS", "PASSES", "SweepResult", "SweepSpec",
           "load_spec", "parse_spec", "points", "read_results", "remap", "run_point",
           "run_sweep"]
