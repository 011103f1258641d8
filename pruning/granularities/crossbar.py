"""``crossbar`` groups: one whole ``R x L`` block — one crossbar of the dense mapping.
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import Granularity, MatrixGrid


class Crossbar(Granularity):
    name = "crossbar"
    description = "one whole R x L crossbar block"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows // g.xbar_rows, g.cols // g.xbar_cols, -(-g.shape[1] // g.xbar_cols))
