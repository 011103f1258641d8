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

:func:`verify_bundle` gives two separate verdicts. **The hardware matches the ADC model**: each
layer's golden input runs through the simulated crossbars (:func:`rram_sim.kernels.run_layer`) and
is compared with the golden quantized output, within a tolerance derived from the ADC (see
``docs/datapath.md``); a coarse ADC passes this check as long as it errs no more than its model
says. **Accuracy is kept**: when the bundle carries an eval set, the whole network runs on the
crossbars (:func:`rram_sim.accuracy.evaluate`) and its top-1 accuracy may fall at most
``max_accuracy_drop`` below the exact quantized network's. :func:`bundle_for_chip` re-maps a bundle
for another chip first (golden references recomputed for that chip's precision).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rram_sim import kernels
from rram_sim.accuracy import DEFAULT_MAX_DROP, AccuracyResult
from rram_sim.layout import LayerLayout
from rram_sim.schemes.index_tables import index_lookups_per_vector, unit_tables

__all__ = ["LayerCheck", "VerifyReport", "bundle_for_chip", "check_layer",
           "index_lookups_per_vector", "unit_tables", "verify_bundle"]

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
    """Per-layer verification results of one bundle, and its accuracy on the crossbars (None:
    not measured, ``accuracy_note`` says why)."""

    index_unit: bool
    layers: list[LayerCheck] = field(default_factory=list)
    accuracy: AccuracyResult | None = None
    max_accuracy_drop: float = DEFAULT_MAX_DROP
    accuracy_note: str = ""

    @property
    def hardware_passed(self) -> bool:
        """Every layer's crossbar output lies within the ADC model's tolerance."""
        return all(layer.passed for layer in self.layers)

    @property
    def accuracy_kept(self) -> bool | None:
        """The crossbars lose at most ``max_accuracy_drop`` accuracy (None: not measured)."""
        return None if self.accuracy is None else self.accuracy.kept(self.max_accuracy_drop)

    @property
    def passed(self) -> bool:
        """Both verdicts hold (an unmeasured accuracy does not fail the bundle)."""
        return self.hardware_passed and self.accuracy_kept is not False

    def to_dict(self) -> dict[str, Any]:
        return {"index_unit": self.index_unit, "passed": self.passed,
                "hardware_matches_adc_model": self.hardware_passed,
                "accuracy_kept": self.accuracy_kept,
                "max_accuracy_drop": self.max_accuracy_drop,
                "accuracy": None if self.accuracy is None else self.accuracy.to_dict(),
                "accuracy_note": self.accuracy_note,
                "layers": [asdict(layer) for layer in self.layers]}

    def verdict(self) -> str:
        """Two lines: the hardware check and the accuracy check, each with its figures."""
        n_ok = sum(c.passed for c in self.layers)
        hw = (f"hardware matches the ADC model: {'yes' if self.hardware_passed else 'NO'} "
              f"({n_ok} of {len(self.layers)} layers within the ADC model's tolerance)")
        a = self.accuracy
        if a is None:
            acc = f"accuracy kept: not checked ({self.accuracy_note})"
        else:
            fl = "" if a.float_accuracy is None else f", float model {a.float_accuracy:.4f}"
            acc = (f"accuracy kept: {'yes' if self.accuracy_kept else 'NO'} (top-1 on "
                   f"{a.samples} samples: crossbars {a.crossbar:.4f}, exact quantized "
                   f"{a.exact:.4f}{fl}; drop {a.drop:+.4f}, allowed {self.max_accuracy_drop:g})")
        return hw + "\n" + acc

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


def verify_bundle(bundle: Any, *, index_unit: bool = True, accuracy: bool = True,
                  max_accuracy_drop: float = DEFAULT_MAX_DROP) -> VerifyReport:
    """Check every layer of ``bundle`` that has golden vectors (layers without them are skipped)
    and, with ``accuracy`` and an eval set in the bundle, the network's accuracy on the crossbars
    against ``max_accuracy_drop`` (see the module doc)."""
    from rram_sim import accuracy as acc_mod
    from rram_sim.bundle import NO_EVAL_SET
    from rram_sim.errors import LayoutError

    if isinstance(max_accuracy_drop, bool) or not isinstance(max_accuracy_drop, (int, float)) \
            or not 0 <= max_accuracy_drop <= 1:
        raise LayoutError(f"max_accuracy_drop={max_accuracy_drop!r}: must be a number in [0, 1]")
    golden = getattr(bundle, "golden", None) or {}
    report = VerifyReport(index_unit=index_unit, max_accuracy_drop=float(max_accuracy_drop))
    for layout in bundle.layers:
        g = golden.get(layout.spec.name)
        if g is None:
            continue
        report.layers.append(check_layer(layout, g, bundle.config, index_unit=index_unit))
    if not report.layers:
        raise LayoutError("bundle: no layer has golden vectors (nothing to verify); "
                          "map the network with golden inputs to enable verification")
    if not accuracy:
        report.accuracy_note = "not asked for"
    elif getattr(bundle, "eval_set", None) is None:
        report.accuracy_note = f"the bundle {NO_EVAL_SET}"
    else:
        report.accuracy = acc_mod.evaluate(bundle, index_unit=index_unit)
    return report


def bundle_for_chip(bundle: Any, cfg: Any) -> Any:
    """``bundle`` as chip ``cfg`` holds it: unchanged when ``cfg`` is the chip it was mapped for;
    otherwise re-mapped from its stored weights under its own scheme
    (:func:`rram_sim.sweep.point.remap`, spilling onto further chips if one is too small: values
    do not depend on placement), with each golden vector's quantized reference recomputed for
    ``cfg``'s precision from its golden input (the float reference is kept) and the eval set
    carried over."""
    from rram_sim.bundle import golden_from_numpy
    from rram_sim.sweep.point import remap, stored_weights

    if cfg.config_hash() == bundle.config.config_hash():
        return bundle
    b = remap(bundle, cfg, bundle.scheme, allow_multi_chip=True)
    weights, masks, biases = stored_weights(bundle)
    for name, g in bundle.golden.items():
        spec = bundle.layer(name).spec
        new = golden_from_numpy(spec, weights[name], biases[name], g.input, cfg, masks[name])
        new.output = g.output
        b.golden[name] = new
    b.meta = {**bundle.meta, **b.meta, "remapped_from": bundle.config.name}
    return b
