"""One sweep point: the bundle re-mapped for the point's chip, simulated, tabulated, and, when the
bundle carries an eval set, its accuracy measured on the point's crossbars (a pure function, run by
every backend)."""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np

from rram_sim import config as config_mod
from rram_sim.errors import ConfigError, MappingError
from rram_sim.metrics import metric_values
from rram_sim.sweep.spec import METRIC_FIELDS


@functools.lru_cache(maxsize=8)
def _load_bundle(path: str):
    from rram_sim.bundle import load_bundle

    return load_bundle(path)


def stored_weights(bundle: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Each layer's real weights (``q * weight_scale`` of the stored integers), mask (``q != 0``)
    and bias, by layer name, in the layer's own ``weight_shape``."""
    from rram_sim.mapping import unmap

    weights, masks, biases = {}, {}, {}
    for lay in bundle.layers:
        q = unmap(lay, bundle.config)
        shape = lay.spec.weight_shape
        weights[lay.spec.name] = (q * lay.weight_scale).T.reshape(shape)
        masks[lay.spec.name] = (q != 0).T.reshape(shape)
        biases[lay.spec.name] = lay.bias
    return weights, masks, biases


def remap(bundle: Any, cfg: Any, scheme: str, allow_multi_chip: bool = False) -> Any:
    """``bundle``'s network re-mapped for chip ``cfg`` under ``scheme`` (see the module doc); the
    eval set travels with it (golden vectors do not: they hold the old chip's quantization)."""
    from rram_sim.bundle import map_network

    weights, masks, biases = stored_weights(bundle)
    b = map_network([lay.spec for lay in bundle.layers], weights, cfg, scheme, masks=masks,
                    biases=biases, graph=bundle.graph,
                    replication=list(bundle.placement.replication),
                    allow_multi_chip=allow_multi_chip)
    b.eval_set = getattr(bundle, "eval_set", None)
    return b


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
        rep = simulate(b, cfg, tuple(task["passes"]), batch=task["batch"],
                       placement=task.get("placement", "none"))
    except (ConfigError, MappingError) as exc:
        return _row(task, "skipped", str(exc))
    row = _row(task, "ok")
    row.update(metric_values(rep))
    if b.eval_set is not None:
        from rram_sim.accuracy import evaluate

        acc = evaluate(b)
        row["accuracy"], row["accuracy_exact"] = acc.crossbar, acc.exact
    return json.loads(json.dumps(row, default=_plain))


def _plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON-able")
