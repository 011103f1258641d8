"""``channel`` groups: one input channel ``W[:, c]`` (a linear layer: one input feature ``W[:,
i]``): the ``kh * kw`` wordlines that read channel ``c``. Residual coupling joins the consumers
of a channel.
"""

from __future__ import annotations

import numpy as np

from pruning.granularities.base import CONSUMERS, Granularity, MatrixGrid


class Channel(Granularity):
    name = "channel"
    description = "one input channel W[:, c]"
    couples = CONSUMERS

    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        g = grid
        return g.label(g.rows // g.per_channel, 0, 1)
