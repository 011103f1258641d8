"""The weight update: stored weights moved by an integer delta, cells rewritten, pulses counted."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.crossbar.numba_kernels import update_cells
from rram_sim.crossbar.readplan import check_layout
from rram_sim.errors import MappingError
from rram_sim.layout import LayerLayout
from rram_sim.quant import qmax


@dataclass
class UpdateResult:
    """A weight update: the new layout, its write events and how many weights saturated."""

    layout: LayerLayout
    counts: Counts
    saturated: int


def update(layout: LayerLayout, delta_q: np.ndarray, cfg: Config) -> UpdateResult:
    """Add ``delta_q`` (int64 [K, N], integer weight units) to the stored weights.

    Each stored weight moves to ``clip(w + delta, -qmax, qmax)`` (``qmax = 2**(weight_bits-1)-1``;
    a clipped weight counts as saturated) and its cells are rewritten to that weight's encoding.
    ``cell_write_pulses`` = sum of |level change| x ``cell.pulses_per_level``; with
    ``training.write_scheme == 'write_verify'`` every pulse is followed by a verify read. Positions
    whose row or column holds nothing (pruned or compacted away) are never written.
    """
    k, n = layout.spec.matrix_shape
    d = np.asarray(delta_q)
    if d.shape != (k, n) or d.dtype.kind not in "iu":
        raise MappingError(f"layer '{layout.spec.name}': delta_q must be integers of shape "
                           f"[{k}, {n}], got {d.dtype} {list(d.shape)}")
    check_layout(layout, cfg)
    wb, cb = cfg.precision.weight_bits, cfg.cell.bits
    new = layout.cells.copy()  # positions never written keep their levels
    pulses = np.zeros(layout.n_units, dtype=np.int64)
    sat = np.zeros(layout.n_units, dtype=np.int64)
    update_cells(layout.cells, layout.row_index.astype(np.int64),
                  layout.col_index.astype(np.int64), np.ascontiguousarray(d, dtype=np.int64),
                  wb, cb, cfg.crossbar.signed_scheme == "differential", qmax(wb),
                  cfg.cell.pulses_per_level, new, pulses, sat)
    total = int(pulses.sum())
    counts = Counts(cell_write_pulses=total,
                    cell_verify_reads=total if cfg.training.write_scheme == "write_verify" else 0)
    return UpdateResult(replace(layout, cells=new), counts, int(sat.sum()))
