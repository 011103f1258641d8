"""``row_segment`` groups: one matrix row within one crossbar column-block: row ``r``, columns
``[b*L, (b+1)*L)`` — one wordline of one crossbar of the dense mapping (ReaLPrune's row
segment).
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import Granularity, MatrixGrid


class RowSegment(Granularity):
    name = "row_segment"
    description = "one matrix row within one crossbar column-block"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows, g.cols // g.xbar_cols, -(-g.shape[1] // g.xbar_cols))
