"""``ou_column`` groups: ``ou.rows`` consecutive rows of one logical column: an OU-aligned column
vector.
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import Granularity, MatrixGrid


class OuColumn(Granularity):
    name = "ou_column"
    description = "ou.rows consecutive rows of one logical column"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows // g.ou_rows, g.cols, g.shape[1])
