"""``ou_row`` groups: one matrix row across one OU column block (``ou_logical_cols`` logical
columns): the rows the ``ou`` mapping keeps per block and packs into OU-high units, so every
``ou.rows`` rows removed from a block free one unit (AUTO-PRUNE's default). The survivors are no
longer contiguous, so the indexed datapath is needed.
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import Granularity, MatrixGrid


class OuRow(Granularity):
    name = "ou_row"
    description = "one matrix row across one OU column block"

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows, g.cols // g.ou_cols, -(-g.shape[1] // g.ou_cols))
