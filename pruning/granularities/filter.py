"""``filter`` groups: one filter ``W[n]`` (a linear layer: one output feature), i.e. one logical
column. Residual coupling joins the producers of a channel.
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import PRODUCERS, Granularity, MatrixGrid


class Filter(Granularity):
    name = "filter"
    description = "one filter W[n]"
    couples = PRODUCERS

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(0, g.cols, g.shape[1])
