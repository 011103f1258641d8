"""``ou`` groups: one OU block, ``ou.rows`` rows x ``ou_logical_cols`` columns, aligned to the OU
grid: each removed block frees one unit of the ``ou`` mapping.
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import Granularity, MatrixGrid


class Ou(Granularity):
    name = "ou"
    description = "one OU block aligned to the OU grid"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows // g.ou_rows, g.cols // g.ou_cols, -(-g.shape[1] // g.ou_cols))
