"""``dense``: the matrix tiled as is, one unit per crossbar; pruned weights are stored as zeros."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rram_sim.schemes.base import MappingScheme
from rram_sim.schemes.packing import pack_units

if TYPE_CHECKING:
    from rram_sim.config import Config
    from rram_sim.layout import LayerLayout


class DenseScheme(MappingScheme):
    """Crossbar-sized blocks of the whole matrix; a block's rows and columns are its base address
    plus the physical offset, so no index table is needed."""

    name = "dense"
    indexed = False

    def unit_shape(self, cfg: Config) -> tuple[int, int]:
        """One whole crossbar: ``(crossbar.rows, logical columns per crossbar)``."""
        return cfg.crossbar.rows, cfg.logical_cols_per_crossbar

    def pack(self, q: np.ndarray, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        """Every row and column of ``q``, zeros included, in crossbar-sized blocks."""
        k, n = q.shape
        urows, ucols = self.unit_shape(cfg)
        return pack_units(np.ones((k, n), bool), np.arange(n), ucols, urows)

    def index_tables(self, layout: LayerLayout) -> int:
        """None: the datapath routes by base address."""
        return 0
