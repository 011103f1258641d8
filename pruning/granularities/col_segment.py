"""``col_segment`` groups: one logical column within one crossbar row-block: column ``n``, rows
``[a*R, (a+1)*R)`` — one (multi-cell) bitline of one crossbar (ReaLPrune's column segment).
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import Granularity, MatrixGrid


class ColSegment(Granularity):
    name = "col_segment"
    description = "one logical column within one crossbar row-block"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows // g.xbar_rows, g.cols, g.shape[1])
