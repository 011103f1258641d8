"""The tables the datapath routes with: which input feeds each unit row, which output each column.

:func:`unit_tables` with ``index_unit=True`` returns a layout's real index tables (the index
unit's gather and scatter tables); with ``index_unit=False`` the *naive* tables of a datapath that
knows only each unit's base address: physical row ``r`` of unit ``u`` receives input
``min(used row_index of u) + r`` and logical column ``c`` accumulates into
``min(used col_index of u) + c``. Only rows and columns that hold weights are driven / read (the
controller knows a unit's occupancy, not its addresses); out-of-range addresses drop (-1). For a
scheme that is not indexed (``dense``) these equal the real tables. See ``docs/datapath.md``.

This module imports neither the kernels nor :mod:`rram_sim.datapath`, so both can use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rram_sim.schemes.registry import scheme_of

if TYPE_CHECKING:
    from rram_sim.layout import LayerLayout


def _naive(index: np.ndarray, limit: int) -> np.ndarray:
    used = index >= 0
    big = np.iinfo(np.int64).max
    base = np.where(used, index.astype(np.int64), big).min(axis=1, keepdims=True)
    base = np.where(base == big, 0, base)
    addr = base + np.arange(index.shape[1], dtype=np.int64)[None, :]
    out = np.where(used & (addr < limit), addr, -1)
    return out.astype(np.int64)


def unit_tables(layout: LayerLayout, index_unit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(row_index, col_index)`` (int64, -1 = unused) the datapath actually routes with."""
    k, n = layout.spec.matrix_shape
    if index_unit:
        return layout.row_index.astype(np.int64), layout.col_index.astype(np.int64)
    return _naive(layout.row_index, k), _naive(layout.col_index, n)


def index_lookups_per_vector(layout: LayerLayout, index_unit: bool = True) -> int:
    """Index-table reads per input vector: one per used row plus one per used logical column of
    every unit (the gather and the scatter), 0 for a scheme that is not indexed (``dense``) or
    without the index unit (see :meth:`MappingScheme.index_lookups_per_vector`)."""
    if not index_unit:
        return 0
    return scheme_of(layout.scheme).index_lookups_per_vector(layout)
