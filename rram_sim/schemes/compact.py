"""``compact``: zero columns and, per column block, zero rows squeezed out; one unit per crossbar.

All-zero columns are dropped and the survivors packed into column blocks of one crossbar's width;
within each block the rows that are zero in all its columns are dropped and the survivors packed
into row blocks of the crossbar's height. Each crossbar carries a row index table (which input
feeds each wordline) and a column index table (which output each column produces).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rram_sim.schemes.base import MappingScheme
from rram_sim.schemes.packing import pack_nonzero

if TYPE_CHECKING:
    from rram_sim.config import Config
    from rram_sim.layout import LayerLayout


class CompactScheme(MappingScheme):
    """Crossbar-sized units of the non-zero rows and columns, with index tables per crossbar."""

    name = "compact"
    indexed = True

    def unit_shape(self, cfg: Config) -> tuple[int, int]:
        """One whole crossbar: ``(crossbar.rows, logical columns per crossbar)``."""
        return cfg.crossbar.rows, cfg.logical_cols_per_crossbar

    def pack(self, q: np.ndarray, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        """The non-zero columns in crossbar-wide blocks, each block's non-zero rows in
        crossbar-high chunks."""
        urows, ucols = self.unit_shape(cfg)
        return pack_nonzero(q, urows, ucols)

    def index_tables(self, layout: LayerLayout) -> int:
        """One row and one column table per crossbar."""
        return int(layout.n_crossbars)
