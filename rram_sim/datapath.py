"""The indexed datapath: which input feeds each crossbar row, which output each column feeds.

A dense mapping cuts the unrolled weight matrix into crossbar-sized blocks, so physical row ``r`` of
a block simply holds matrix row ``base + r``: a datapath that knows only each block's base address
routes every input and output correctly. A *compacted* mapping (AUTO-PRUNE) squeezes the pruned
rows and columns out, so physical row ``r`` now holds some later matrix row and logical column ``c``
some later output. Fed by base address alone, the crossbar multiplies the wrong inputs and writes
into the wrong outputs: the *dislocation* problem. AUTO-PRUNE's fix is an index unit: a row index
table per unit (the original input index of each physical row) read by a gather stage in front of
the DACs, and a column index table (the original output index of each logical column) read by the
accumulation stage behind the shift-and-add units.

Both datapaths are index tables the kernels consume, built in :mod:`rram_sim.schemes.index_tables`
(re-exported here for older callers): :func:`unit_tables` with ``index_unit=True`` returns the
layout's real tables, with ``index_unit=False`` the *naive* tables of a base-address-only datapath;
:func:`index_lookups_per_vector` counts the index unit's table reads. The kernels import them from
there, not from here, so this module imports the kernels without a cycle.

:func:`verify_bundle` runs each layer's golden input through the simulated crossbars
(:func:`rram_sim.kernels.run_layer`) and compares with the golden quantized output, within a
tolerance derived from the ADC (see ``docs/datapath.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rram_sim import kernels
from rram_sim.layout import LayerLayout
from rram_sim.schemes.index_tables import index_lookups_per_vector, unit_tables

__all__ = ["LayerCheck", "VerifyReport", "check_layer", "index_lookups_per_vector",
           "unit_tables", "verify_bundle"]

REL_TOL_EXACT = 1e-9  # relative tolerance when every ADC conversion is exact


# ---------------------------------------------------------------------------------------------
# Verification against golden vectors
# ---------------------------------------------------------------------------------------------

@dataclass
class LayerCheck:
    """The comparison of one layer's simulated output with its golden output."""

    name: str
    passed: bool
    max_abs_error: float        # max |simulated - golden.output_quantized|
    max_rel_error: float        # max_abs_error / max |golden.output_quantized|
    wrong_fraction: float       # outputs whose error exceeds their tolerance
    tolerance: float            # largest per-output tolerance used
    tolerance_rule: str         # 'exact' (1e-9 relative) or 'adc_bound'
    adc_clipped: int            # clipped ADC conversions during the run
    float_max_abs_error: float  # max |simulated - golden.output| (float reference), information


@dataclass
class VerifyReport:
    """Per-layer verification results of one bundle."""

    index_unit: bool
    layers: list[LayerCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(layer.passed for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {"index_unit": self.index_unit, "passed": self.passed,
                "layers": [asdict(layer) for layer in self.layers]}

    def table(self) -> str:
        """A plain-text table, one line per layer."""
        head = (f"{'layer':<16} {'result':<6} {'max_abs_err':>12} {'max_rel_err':>12} "
                f"{'wrong':>8} {'tolerance':>12} {'rule':<9} {'clipped':>8} {'vs_float':>12}")
        lines = [head]
        for c in self.layers:
            lines.append(f"{c.name:<16} {'ok' if c.passed else 'FAIL':<6} {c.max_abs_error:>12.4g} "
                         f"{c.max_rel_error:>12.4g} {c.wrong_fraction:>8.2%} "
                         f"{c.tolerance:>12.4g} {c.tolerance_rule:<9} {c.adc_clipped:>8d} "
                         f"{c.float_max_abs_error:>12.4g}")
        return "\n".join(lines)


def check_layer(layout: LayerLayout, golden: Any, cfg: Any, *, index_unit: bool = True
                ) -> LayerCheck:
    """Run ``golden.input`` through the crossbars of ``layout`` and compare (see module doc)."""
    x = np.asarray(golden.input, dtype=np.float64)
    ref = np.asarray(golden.output_quantized, dtype=np.float64)
    y, counts, bound = kernels.run_layer_with_bound(layout, x, cfg, index_unit=index_unit)
    err = np.abs(y - ref)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    exact_tol = REL_TOL_EXACT * max(scale, 1.0)
    if np.all(bound == 0):
        tol = np.full(ref.shape, exact_tol)
        rule = "exact"
    else:
        tol = bound + exact_tol
        rule = "adc_bound"
    wrong = ~(err <= tol)   # a NaN error (NaN in the output or the reference) is wrong, not ok
    max_abs = float(err.max()) if err.size else 0.0
    float_err = np.abs(y - np.asarray(golden.output, dtype=np.float64))
    return LayerCheck(
        name=layout.spec.name, passed=not bool(wrong.any()), max_abs_error=max_abs,
        max_rel_error=max_abs / scale if scale > 0 else max_abs,
        wrong_fraction=float(wrong.mean()) if wrong.size else 0.0,
        tolerance=float(tol.max()) if tol.size else 0.0, tolerance_rule=rule,
        adc_clipped=int(counts.adc_clipped),
        float_max_abs_error=float(float_err.max()) if float_err.size else 0.0)


def verify_bundle(bundle: Any, *, index_unit: bool = True) -> VerifyReport:
    """Check every layer of ``bundle`` that has golden vectors; layers without them are skipped."""
    from rram_sim.errors import LayoutError

    golden = getattr(bundle, "golden", None) or {}
    report = VerifyReport(index_unit=index_unit)
    for layout in bundle.layers:
        g = golden.get(layout.spec.name)
        if g is None:
            continue
        report.layers.append(check_layer(layout, g, bundle.config, index_unit=index_unit))
    if not report.layers:
        raise LayoutError("bundle: no layer has golden vectors (nothing to verify); "
                          "map the network with golden inputs to enable verification")
    return report
