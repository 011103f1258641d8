"""``kernel`` groups: one ``kh x kw`` kernel ``W[n, c]``: ``kh * kw`` consecutive rows of one
matrix column (a linear layer: one weight).
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import Granularity, MatrixGrid


class Kernel(Granularity):
    name = "kernel"
    description = "one kh x kw kernel W[n, c]"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows // g.per_channel, g.cols, g.shape[1])
