"""``index`` groups: one wordline of the matrix: one input index ``(c, ky, kx)`` across all filters
(``W[:, c, ky, kx]``); removing it removes one input from the index tables.
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import Granularity, MatrixGrid


class Index(Granularity):
    name = "index"
    description = "one input index (c, ky, kx) across all filters"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows, 0, 1)
