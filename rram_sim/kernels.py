"""Crossbar kernels, layer by layer: the values a mapped layer computes and the events it takes.

The public entry points of the functional model. What a layer's crossbars read is derived once, in
the read plan (:mod:`rram_sim.crossbar.readplan`); the values come from
:mod:`rram_sim.crossbar.values` (its docstring describes the read-by-read arithmetic and the three
value paths), the Numba kernels live in :mod:`rram_sim.crossbar.numba_kernels`, the lossy-ADC error
bound in :mod:`rram_sim.crossbar.bound` and the weight update in :mod:`rram_sim.crossbar.update`.

With an exact ADC, :func:`forward` returns exactly ``xq @ unmap(layout)`` and :func:`transposed`
exactly ``eq @ unmap(layout).T``. Counts are the read plan's closed form (:func:`forward_counts`,
:func:`transposed_counts`), except with ``skip_zero_inputs`` and ``adc_clipped``, which depend on
the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.crossbar.bound import adc_error_bound
from rram_sim.crossbar.readplan import read_plan
from rram_sim.crossbar.update import UpdateResult, update
from rram_sim.crossbar.values import check_inputs, execute
from rram_sim.errors import MappingError
from rram_sim.layout import LayerLayout
from rram_sim.mapping import im2col
from rram_sim.quant import quantize


@dataclass
class KernelResult:
    """Values in the integer domain (float64) and the events that produced them."""

    values: np.ndarray
    counts: Counts


def forward(layout: LayerLayout, xq: np.ndarray, cfg: Config, *, index_unit: bool = True,
            skip_zero_inputs: bool = False) -> KernelResult:
    """``xq`` int64 [B, K] quantized inputs -> values float64 [B, N] (integer domain), counts.

    With an exact ADC the values equal ``xq @ unmap(layout, cfg)`` exactly (while below 2**53).
    """
    k, _ = layout.spec.matrix_shape
    q = check_inputs(xq, k, cfg, "xq", layout.spec.name)
    return KernelResult(*execute(layout, cfg, q, index_unit, False, skip_zero_inputs))


def transposed(layout: LayerLayout, eq: np.ndarray, cfg: Config, *,
               index_unit: bool = True) -> KernelResult:
    """``eq`` int64 [B, N] quantized errors -> values [B, K] = ``eq @ unmap(layout).T`` (exact
    ADC), read one slice position at a time (see :mod:`rram_sim.crossbar.values`)."""
    _, n = layout.spec.matrix_shape
    q = check_inputs(eq, n, cfg, "eq", layout.spec.name)
    return KernelResult(*execute(layout, cfg, q, index_unit, True, False))


def forward_counts(layout: LayerLayout, cfg: Config, n_vectors: int, *,
                   index_unit: bool = True) -> Counts:
    """Counts of :func:`forward` on ``n_vectors`` vectors, without computing values.

    Per vector and input chunk, every live unit (one with used rows and columns) is read once per
    OU row group holding used rows: ``ou_activations`` += OU column groups with used columns,
    ``dac_drives`` += used rows, ``adc_conversions`` = ``sample_holds`` = ``shift_adds`` += used
    physical columns; ``crossbar_activations`` += distinct crossbars. Per vector,
    ``digital_adds`` += used logical columns x (row groups read + 1 scatter) + the signed correction
    (offset: one per used column plus the used rows' input sum; differential: one subtraction per
    used column). ``adc_clipped`` is data-dependent and reported as 0 here.
    """
    plan = read_plan(layout, cfg, index_unit=index_unit, with_cells=False)
    return plan.counts(cfg, n_vectors)


def transposed_counts(layout: LayerLayout, cfg: Config, n_vectors: int, *,
                      index_unit: bool = True) -> Counts:
    """Counts of :func:`transposed` on ``n_vectors`` vectors (the formulas of
    :func:`forward_counts` with rows and columns swapped; each OU column group is read once per
    slice position, so reads, DAC drives and crossbar activations are multiplied by the slices)."""
    plan = read_plan(layout, cfg, transposed=True, index_unit=index_unit, with_cells=False)
    return plan.counts(cfg, n_vectors)


def _layer_inputs(layout: LayerLayout, x: np.ndarray, cfg: Config) -> tuple[np.ndarray, float]:
    spec = layout.spec
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or tuple(x.shape[1:]) != tuple(spec.input_shape):
        raise MappingError(f"layer '{spec.name}': input must have shape [B, "
                           f"{', '.join(map(str, spec.input_shape))}], got {list(x.shape)}")
    # Quantize the layer input itself (as the golden reference does), then unroll it.
    xq, sx = quantize(x, cfg.precision.input_bits)
    return np.ascontiguousarray(im2col(xq, spec)), sx


def _to_output(layout: LayerLayout, values: np.ndarray, bsz: int) -> np.ndarray:
    spec = layout.spec
    if spec.kind == "conv":
        n, oh, ow = spec.output_shape
        return values.reshape(bsz, oh, ow, n).transpose(0, 3, 1, 2)
    return values.reshape(bsz, -1)


def run_layer_with_bound(layout: LayerLayout, x: np.ndarray, cfg: Config, *,
                         index_unit: bool = True) -> tuple[np.ndarray, Counts, np.ndarray]:
    """:func:`run_layer` plus the per-output ADC error bound in real units (shape of the output)."""
    xq, sx = _layer_inputs(layout, x, cfg)
    res = forward(layout, xq, cfg, index_unit=index_unit)
    scale = sx * layout.weight_scale
    vals = res.values * scale
    if layout.bias is not None:
        vals = vals + np.asarray(layout.bias, dtype=np.float64)[None, :]
    bsz = x.shape[0]
    bound = adc_error_bound(layout, cfg, index_unit=index_unit) * scale
    bound = np.broadcast_to(bound[None, :], res.values.shape)
    return _to_output(layout, vals, bsz), res.counts, _to_output(layout, bound, bsz)


def run_layer(layout: LayerLayout, x: np.ndarray, cfg: Config, *,
              index_unit: bool = True) -> tuple[np.ndarray, Counts]:
    """Float input [B, *input_shape] -> im2col -> quantize (per tensor, over the batch) ->
    :func:`forward` -> dequantize (x input scale x weight scale) + bias -> [B, *output_shape]."""
    y, counts, _ = run_layer_with_bound(layout, x, cfg, index_unit=index_unit)
    return y, counts


__all__ = ["KernelResult", "UpdateResult", "forward", "transposed", "update", "run_layer",
           "run_layer_with_bound", "forward_counts", "transposed_counts", "adc_error_bound"]
