"""Sweep files: parsing and validation, and the grid of points they describe (see
:mod:`rram_sim.sweep`)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rram_sim import config as config_mod
from rram_sim.errors import ConfigError
from rram_sim.limits import short_repr
from rram_sim.metrics import metric_names
from rram_sim.schemes import scheme_names

BACKENDS = ("serial", "process", "dask")
PASSES = ("inference", "training")
RESULTS_JSONL = "results.jsonl"
RESULTS_CSV = "results.csv"
SPEC_JSON = "sweep.json"
BASE_FIELDS = ("key", "index", "status", "reason", "bundle", "scheme", "config_hash")
# The network's top-1 accuracy on the bundle's eval set (rram_sim.accuracy): on the point's
# crossbars, and exactly quantized with the point's precision; empty without an eval set.
ACCURACY_FIELDS = ("accuracy", "accuracy_exact")
# The result columns: the accuracies, then every registered report metric (rram_sim.metrics), in
# registration order.
METRIC_FIELDS = (*ACCURACY_FIELDS, *metric_names())
_KEYS = {"chip", "grid", "bundles", "schemes", "passes", "batch", "allow_multi_chip",
         "placement"}
# Placement policies a sweep may name (rram_sim.placement_policies; "fixed" needs per-bundle
# copies, which a sweep file does not give).
SWEEP_PLACEMENTS = ("none", "balance", "balance_training")
# Images of one run: the bound the chip config puts on training.batch_size.
MAX_BATCH = config_mod.TrainingConfig.__dataclass_fields__["batch_size"].metadata["max"]


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
    placement: str = "none"

    @property
    def param_names(self) -> list[str]:
        return [k for keys, _ in self.grid for k in keys]

    def identity(self) -> dict[str, Any]:
        """What every row of one output folder must share (the grid and bundles may grow);
        ``placement`` only when not ``none``, so folders written before the key still resume."""
        ident = {"passes": self.passes, "batch": self.batch,
                 "allow_multi_chip": self.allow_multi_chip}
        if self.placement != "none":
            ident["placement"] = self.placement
        return ident


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
    unknown = sorted(k if isinstance(k, str) else short_repr(k) for k in set(data) - _KEYS)
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
        raise ConfigError(f"{source}.chip={short_repr(chip)}: must be a preset name, a YAML path "
                          f"or a mapping")
    grid_in = data.get("grid") or {}
    _need(isinstance(grid_in, dict), f"{source}.grid", "must map dotted keys to value lists")
    grid = []
    for k, values in grid_in.items():
        if not isinstance(k, str) or len(k) > 200:
            raise ConfigError(f"{source}.grid: key {short_repr(k)} must be a dotted path "
                              f"group.name (or tied paths joined by '/')")
        keys = tuple(k.split("/"))
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
            if len(t) != len(keys):   # messages built only on failure: v may be huge
                raise ConfigError(f"{where}: value {short_repr(v)} must give {len(keys)} values "
                                  f"({', '.join(keys)})")
            for x in t:
                if not _scalar_ok(x):
                    raise ConfigError(f"{where}: value {short_repr(x)} must be a number, a string "
                                      f"or true/false (integers within +-2**63)")
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
        elif (isinstance(b, dict) and set(b) <= {"name", "path"} and isinstance(b.get("path"), str)
              and isinstance(b.get("name", ""), str)):
            path = b["path"]
            name = b.get("name") or Path(path.split(":", 1)[-1].rstrip("/")).name
        else:
            raise ConfigError(f"{where}={short_repr(b)}: must be a path or {{name, path}}")
        _need(name not in [n for n, _ in bundles], where, f"duplicate bundle name '{name}'")
        _need("-" not in name and name, where, f"name '{name}' must be non-empty without '-'")
        bundles.append((name, _bundle_dir(path, root)))
    schemes = data.get("schemes")
    if schemes is not None:
        _need(isinstance(schemes, list) and schemes and all(s in scheme_names() for s in schemes),
              f"{source}.schemes", f"must be a list of {', '.join(scheme_names())}")
    passes = data.get("passes", ["inference"])
    _need(isinstance(passes, list) and passes and all(p in PASSES for p in passes)
          and len(set(passes)) == len(passes), f"{source}.passes",
          f"must be a list of {', '.join(PASSES)}")
    batch = data.get("batch") or {}
    _need(isinstance(batch, dict) and set(batch) <= set(PASSES)
          and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_BATCH
                  for v in batch.values()), f"{source}.batch",
          f"must map inference/training to an integer in 1..{MAX_BATCH}")
    multi = data.get("allow_multi_chip", False)
    _need(isinstance(multi, bool), f"{source}.allow_multi_chip", "must be true or false")
    placement = data.get("placement", "none")
    _need(isinstance(placement, str) and placement in SWEEP_PLACEMENTS, f"{source}.placement",
          f"must be one of {', '.join(SWEEP_PLACEMENTS)}")
    return SweepSpec(chip=chip_cfg.to_dict(), grid=grid, bundles=bundles, schemes=schemes,
                     passes=list(passes), batch=dict(batch), allow_multi_chip=multi,
                     placement=placement)


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read a sweep YAML file (``yaml.safe_load``); relative paths are relative to it."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"sweep '{p}': no such file")
    data = config_mod.parse_yaml(config_mod.read_text_file(p, ConfigError, "sweep"), str(p),
                                 ConfigError)
    return parse_spec(data, p.parent, str(p))


def _scalar_ok(v: Any) -> bool:
    """A grid value a chip parameter can take: a string, true/false, a finite float or an integer
    that JSON and the result files can hold."""
    if isinstance(v, (str, bool)):
        return True
    if isinstance(v, int):
        return -2 ** 63 <= v < 2 ** 63
    return isinstance(v, float) and math.isfinite(v)



def _bundle_scheme(path: str) -> str:
    """The bundle's own scheme, read by loading (and so checking) the whole bundle: a missing or
    broken bundle raises its one-line LayoutError here, before a sweep writes anything."""
    from rram_sim.bundle import load_bundle

    return load_bundle(path).scheme


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
                            "allow_multi_chip": spec.allow_multi_chip,
                            "placement": spec.placement})
    return out
