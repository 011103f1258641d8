"""``ou`` (AUTO-PRUNE): units of one operation unit (OU), several per crossbar, each indexed.

Surviving columns are grouped by one OU's width, each group keeps only its non-zero rows, cut into
OU-high units; units are packed into the OU slots of crossbars, each unit with its own input and
output index lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rram_sim.schemes.base import MappingScheme, Placement
from rram_sim.schemes.packing import pack_nonzero

if TYPE_CHECKING:
    from rram_sim.config import Config
    from rram_sim.layout import LayerLayout


def ou_logical_cols(cfg: Config) -> int:
    """Logical columns one OU spans: ``max(1, ou.cols // columns_per_weight)``."""
    return max(1, cfg.ou.cols // cfg.columns_per_weight)


class OuScheme(MappingScheme):
    """OU-sized units of the non-zero rows and columns, packed into the OU slots of crossbars."""

    name = "ou"
    indexed = True

    def unit_shape(self, cfg: Config) -> tuple[int, int]:
        """One OU: ``(ou.rows, ou_logical_cols(cfg))``."""
        return cfg.ou.rows, ou_logical_cols(cfg)

    def pack(self, q: np.ndarray, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        """The non-zero columns in OU-wide groups, each group's non-zero rows in OU-high units."""
        urows, ucols = self.unit_shape(cfg)
        return pack_nonzero(q, urows, ucols)

    def place(self, n_units: int, cfg: Config) -> Placement:
        """Unit slots of one crossbar: ``crossbar.rows // ou.rows`` down, ``crossbar.cols //
        (unit width in physical columns)`` across; filled down each column of slots first."""
        urows, ucols = self.unit_shape(cfg)
        slot_rows = cfg.crossbar.rows // urows
        unit_width = ucols * cfg.columns_per_weight
        slot_cols = cfg.crossbar.cols // unit_width
        per_xb = slot_rows * slot_cols
        u = np.arange(n_units)
        s = u % per_xb
        return Placement(crossbar=(u // per_xb).astype(np.int32),
                         row_offset=((s % slot_rows) * urows).astype(np.int32),
                         col_offset=((s // slot_rows) * unit_width).astype(np.int32),
                         n_crossbars=int(-(-n_units // per_xb)))

    def index_tables(self, layout: LayerLayout) -> int:
        """One row and one column list per unit."""
        return layout.n_units

    def rows_per_crossbar(self, layout: LayerLayout, rows_used: np.ndarray, n_crossbars: int,
                          cfg: Config) -> np.ndarray:
        """Units stacked in one column of OU slots share physical rows: each distinct row offset
        of a crossbar counts once, with the used rows of its first unit."""
        xb = np.asarray(layout.crossbar, dtype=np.int64)
        offs = np.asarray(layout.row_offset, dtype=np.int64)
        key = xb * (cfg.crossbar.rows + 1) + offs
        _, first = np.unique(key, return_index=True)
        return np.bincount(xb[first], weights=rows_used[first], minlength=n_crossbars)
