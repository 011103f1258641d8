"""The error bound of a lossy ADC: how far each forward output can be from the exact product."""

from __future__ import annotations

import numpy as np

from rram_sim.config import Config
from rram_sim.crossbar.readplan import read_plan
from rram_sim.layout import LayerLayout


def adc_error_bound(layout: LayerLayout, cfg: Config, *, index_unit: bool = True) -> np.ndarray:
    """Largest |error| of each forward output (integer domain, float64 [N]) caused by ADC rounding,
    as long as no conversion clips: every conversion errs by at most ``step/2``, weighted by its
    chunk and slice place values and summed over all reads feeding the output:

        bound[n] = step/2 x sum_{units u, columns c -> n} groups_read(u) x sum_j 2**(dac.bits*j)
                   x sum_p |place value of slice p|

    0 for an exact ADC.
    """
    plan = read_plan(layout, cfg, index_unit=index_unit, with_cells=False)
    _, n = layout.spec.matrix_shape
    bound = np.zeros(n, dtype=np.float64)
    if plan.adc.exact or len(plan.in_index) == 0:
        return bound
    gl = plan.group_lines
    i_n = plan.in_index.shape[1]
    i_pad = -(-i_n // gl) * gl
    used = np.pad(plan.in_index >= 0, ((0, 0), (0, i_pad - i_n))).reshape(len(plan.in_index),
                                                                          -1, gl)
    n_ag = used.any(2).sum(1).astype(np.float64)
    chunk_sum = float(sum(1 << (j * cfg.dac.bits) for j in range(cfg.input_cycles)))
    per_col = plan.adc.step / 2 * chunk_sum * float(np.abs(plan.spv).sum())
    w = np.repeat(n_ag * per_col, plan.out_index.shape[1])
    idx = plan.out_index.reshape(-1)
    ok = idx >= 0
    np.add.at(bound, idx[ok], w[ok])
    return bound
