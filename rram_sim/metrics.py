"""Report metrics: the named figures of merit a design point is compared by.

One list feeds the sweep's result columns (:mod:`rram_sim.sweep`), the demo's summary table and
anything else that tabulates reports. A :class:`Metric` reads one value from a
:class:`~rram_sim.report.Report` (``None`` when the report lacks what it needs, e.g. a training
figure of an inference-only report). Adding a metric is one :func:`register_metric` call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rram_sim.errors import ConfigError
from rram_sim.report import Report


@dataclass(frozen=True)
class Metric:
    """One figure of merit. ``name`` is the column name and ends in its unit where it has one."""

    name: str
    unit: str                          # "" for counts and ratios
    description: str
    value: Callable[[Any], Any]        # Report -> value or None


_REGISTRY: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to the registry (after those already there); names are unique."""
    if metric.name in _REGISTRY:
        raise ConfigError(f"metric '{metric.name}' is already registered")
    _REGISTRY[metric.name] = metric
    return metric


def metric(name: str) -> Metric:
    """The registered metric ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"metric '{name}': unknown (known: {', '.join(_REGISTRY)})") from None


def metric_names() -> tuple[str, ...]:
    """Every registered metric, in registration order (the column order of tables)."""
    return tuple(_REGISTRY)


def metric_values(reports: Report | Iterable[Report]) -> dict[str, Any]:
    """Every registered metric of a design point; with several reports (one per pass) each metric
    takes the first non-None value."""
    reps = [reports] if hasattr(reports, "runs") else list(reports)
    out: dict[str, Any] = {}
    for name, m in _REGISTRY.items():
        out[name] = next((v for v in (m.value(r) for r in reps) if v is not None), None)
    return out


def _figure(key: str) -> Callable[[Any], Any]:
    return lambda rep: rep.figures.get(key)


def _area(key: str) -> Callable[[Any], Any]:
    return lambda rep: rep.area.get(key)


def _run(run: str, key: str) -> Callable[[Any], Any]:
    return lambda rep: rep.runs[run].get(key) if run in rep.runs else None


def _per_item(run: str, key: str) -> Callable[[Any], Any]:
    """A run total divided by the items it covers (images of an inference run)."""
    def value(rep: Any) -> Any:
        if run not in rep.runs:
            return None
        r = rep.runs[run]
        items = r["n_images"] if run == "inference" else 1
        return r[key] / items
    return value


for _m in (
    Metric("crossbars", "", "crossbars holding weights", _figure("n_crossbars")),
    Metric("dense_crossbars", "", "crossbars of the unpruned network mapped dense",
           _figure("dense_crossbars")),
    Metric("compression_rate", "", "dense crossbars / crossbars", _figure("compression_rate")),
    Metric("hardware_reduction", "", "1 - crossbars / dense crossbars",
           _figure("hardware_reduction")),
    Metric("tiles_occupied", "", "tiles holding weights", _figure("tiles_occupied")),
    Metric("chip_area_mm2", "mm2", "chip area (index units included for indexed schemes)",
           _area("chip_area_mm2")),
    Metric("chip_peak_power_w", "W", "chip peak power", _area("chip_peak_power_w")),
    Metric("inference_latency_ns", "ns", "latency of the first image",
           _run("inference", "latency_ns")),
    Metric("inference_energy_pj", "pJ", "energy per inference, dynamic + leakage",
           _run("inference", "energy_per_item_pj")),
    Metric("inference_dynamic_energy_pj", "pJ", "dynamic part of the energy per inference",
           _per_item("inference", "dynamic_energy_pj")),
    Metric("inference_static_energy_pj", "pJ", "static (leakage) part of the energy per inference",
           _per_item("inference", "leakage_energy_pj")),
    Metric("inference_throughput_per_s", "1/s", "inferences per second",
           _run("inference", "throughput_per_s")),
    Metric("training_step_ns", "ns", "time of one training step", _run("training", "makespan_ns")),
    Metric("training_energy_pj", "pJ", "energy per training step, dynamic + leakage",
           _run("training", "energy_per_item_pj")),
    Metric("training_dynamic_energy_pj", "pJ", "dynamic part of the energy per training step",
           _run("training", "dynamic_energy_pj")),
    Metric("training_static_energy_pj", "pJ", "static (leakage) part of a training step's energy",
           _run("training", "leakage_energy_pj")),
    Metric("training_write_pulses", "", "cell write pulses per training step",
           _run("training", "cell_write_pulses")),
):
    register_metric(_m)


__all__ = ["Metric", "metric", "metric_names", "metric_values", "register_metric"]
