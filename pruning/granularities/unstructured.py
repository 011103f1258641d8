"""``unstructured`` groups: every weight is its own group: the finest granularity (the unstructured
lottery ticket). It removes the most weights at a given accuracy but frees almost no crossbar
row or column.
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import Granularity, MatrixGrid


class Unstructured(Granularity):
    name = "unstructured"
    description = "every weight alone"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows, g.cols, g.shape[1])
