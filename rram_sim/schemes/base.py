"""The mapping-scheme contract: what a scheme decides when a layer's matrix goes onto crossbars.

A scheme turns the quantized, unrolled ``[K, N]`` weight matrix of one layer into *units* (see
:mod:`rram_sim.layout`): it fixes the unit shape, which matrix rows and columns each unit holds
(its row and column index tables), where each unit sits on the crossbars, and what the datapath
pays for the index tables. Everything else (quantization, cell encoding, figures, the bundle
format) is shared by all schemes in :mod:`rram_sim.mapping`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from rram_sim.config import Config
    from rram_sim.layout import LayerLayout, LayerSpec


@dataclass(frozen=True)
class Placement:
    """Where the ``U`` units of one layer sit: crossbar (numbered within the layer) and the
    physical row / column of each unit's top-left cell."""

    crossbar: np.ndarray      # int32 [U]
    row_offset: np.ndarray    # int32 [U]
    col_offset: np.ndarray    # int32 [U]
    n_crossbars: int


class MappingScheme(ABC):
    """One way of cutting a layer's weight matrix into units; instances are registered by name.

    Subclasses set ``name`` and ``indexed`` and implement :meth:`unit_shape`, :meth:`pack` and
    :meth:`index_tables`; :meth:`place` defaults to one unit per crossbar.
    """

    name: ClassVar[str] = ""
    # True when a unit's rows and columns are not its block's base address plus the physical
    # offset, so the datapath needs the index unit (gather and scatter tables) to route them.
    indexed: ClassVar[bool] = False

    @abstractmethod
    def unit_shape(self, cfg: Config) -> tuple[int, int]:
        """``(unit_rows, unit_cols)``: physical rows and logical columns of one unit."""

    @abstractmethod
    def pack(self, q: np.ndarray, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        """The units of the quantized ``[K, N]`` integer matrix ``q``: ``(row_index [U, unit_rows],
        col_index [U, unit_cols])`` int32, ``-1`` where a row or column is unused. Every matrix
        position a unit covers with a used row and a used column stores that weight; together
        the units must cover every non-zero of ``q`` exactly once."""

    def pack_layer(self, q: np.ndarray, spec: LayerSpec,
                   cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        """The units of layer ``spec``'s matrix ``q`` (what :mod:`rram_sim.mapping` calls): by
        default :meth:`pack`; a scheme that needs the layer's shape (its kernel size) overrides
        this."""
        return self.pack(q, cfg)

    @abstractmethod
    def index_tables(self, layout: LayerLayout) -> int:
        """Row-and-column index-table pairs the chip stores for ``layout`` (0 when not indexed)."""

    def place(self, n_units: int, cfg: Config) -> Placement:
        """Where units ``0 .. n_units-1`` sit; by default one unit fills one crossbar."""
        zeros = np.zeros(n_units, np.int32)
        return Placement(np.arange(n_units, dtype=np.int32), zeros, zeros.copy(), int(n_units))

    def index_lookups_per_vector(self, layout: LayerLayout) -> int:
        """Index-table reads per input vector with the index unit: one per used row plus one per
        used logical column of every live unit (the gather and the scatter); 0 if not indexed."""
        if not self.indexed:
            return 0
        live = (layout.row_index >= 0).any(1) & (layout.col_index >= 0).any(1)
        rows = (layout.row_index[live] >= 0).sum()
        cols = (layout.col_index[live] >= 0).sum()
        return int(rows + cols)

    def rows_per_crossbar(self, layout: LayerLayout, rows_used: np.ndarray, n_crossbars: int,
                          cfg: Config) -> np.ndarray:
        """Used physical rows of each crossbar (float64 [n_crossbars], as ``np.bincount``
        returns), from the used rows of each unit; by default units do not share rows."""
        xb = np.asarray(layout.crossbar, dtype=np.int64)
        return np.bincount(xb, weights=rows_used, minlength=n_crossbars)
