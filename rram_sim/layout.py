"""Layouts: how a network's layers sit on crossbars — the contract between front-end and simulator.

A :class:`LayerLayout` holds one layer mapped onto crossbars. Whatever the mapping scheme, the layer
is stored as ``U`` *units*; a unit is a rectangle of ``unit_rows`` physical rows by ``unit_cols``
logical columns (each logical column spans ``columns_per_weight`` physical columns) that shares one
input index list and one output index list:

- ``dense`` and ``compact``: a unit is one whole crossbar block (``unit_rows = crossbar.rows``,
  ``unit_cols = crossbar.cols // columns_per_weight``);
- ``ou``: a unit is one operation-unit group (``unit_rows = ou.rows`` and ``unit_cols`` the logical
  columns one OU spans, at least 1); several units share one crossbar.

The scheme named by ``LayerLayout.scheme`` decides the unit shape (``scheme_of(name).unit_shape``,
:mod:`rram_sim.schemes`); the arrays below mean the same for every scheme.

Per unit ``u``:

- ``row_index[u, r]``: the unrolled-matrix row (input index) feeding physical row ``r`` of the unit,
  or ``-1`` when that row is unused (its cells hold no weight and its input is never driven);
- ``col_index[u, c]``: the unrolled-matrix column (output index) accumulated from logical column
  ``c`` of the unit, or ``-1`` when unused;
- ``cells[u, r, c, p]``: conductance level (0 .. 2**cell.bits - 1) of physical column ``p`` of
  logical column ``c``; ``p`` runs over the weight slices, least significant first, and for the
  ``differential`` scheme over the positive slices then the negative slices;
- ``crossbar[u]``, ``row_offset[u]``, ``col_offset[u]``: the crossbar (numbered within the layer)
  and the physical row / column of the unit's top-left cell.

Unused rows and columns hold level 0 in every cell. A used position whose weight is zero holds the
encoding of zero (level 0 for ``differential``; the bias ``2**(weight_bits-1)`` for ``offset``).

The unrolled matrix follows the im2col convention fixed in :mod:`rram_sim.mapping`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rram_sim.schemes import scheme_names

FORMAT_VERSION = 1
# The schemes registered when this module was imported (the built-ins, rram_sim.schemes); code
# that must accept schemes registered later asks rram_sim.schemes.scheme_of / scheme_names.
SCHEMES = scheme_names()
LAYER_KINDS = ("conv", "linear")


@dataclass(frozen=True)
class LayerSpec:
    """What a layer computes, independent of how it is mapped.

    ``weight_shape`` is ``(N, C, kh, kw)`` for a conv and ``(out, in)`` for a linear layer.
    ``input_shape`` is ``(C, H, W)`` for a conv and ``(in,)`` for a linear layer.
    """

    name: str
    kind: str
    weight_shape: tuple[int, ...]
    input_shape: tuple[int, ...]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)

    @property
    def matrix_shape(self) -> tuple[int, int]:
        """(rows, logical columns) of the unrolled weight matrix."""
        if self.kind == "conv":
            n, c, kh, kw = self.weight_shape
            return c * kh * kw, n
        out, inp = self.weight_shape
        return inp, out

    @property
    def output_shape(self) -> tuple[int, ...]:
        if self.kind == "linear":
            return (self.weight_shape[0],)
        n, _, kh, kw = self.weight_shape
        _, h, w = self.input_shape
        oh = (h + 2 * self.padding[0] - kh) // self.stride[0] + 1
        ow = (w + 2 * self.padding[1] - kw) // self.stride[1] + 1
        return (n, oh, ow)

    @property
    def output_positions(self) -> int:
        """Input vectors (im2col patches) per image: OH*OW for a conv, 1 for a linear layer."""
        if self.kind == "linear":
            return 1
        _, oh, ow = self.output_shape
        return oh * ow


@dataclass
class LayerLayout:
    """One layer mapped onto crossbars (see the module docstring for the array conventions)."""

    spec: LayerSpec
    scheme: str
    weight_scale: float               # real weight = integer weight * weight_scale
    row_index: np.ndarray             # int32 [U, unit_rows]
    col_index: np.ndarray             # int32 [U, unit_cols]
    cells: np.ndarray                 # uint8 [U, unit_rows, unit_cols, columns_per_weight]
    crossbar: np.ndarray              # int32 [U]
    row_offset: np.ndarray            # int32 [U]
    col_offset: np.ndarray            # int32 [U]
    n_crossbars: int
    bias: np.ndarray | None = None    # float64 [N] added after dequantization, or None
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        return int(self.row_index.shape[0])

    @property
    def unit_rows(self) -> int:
        return int(self.row_index.shape[1])

    @property
    def unit_cols(self) -> int:
        return int(self.col_index.shape[1])


def used_positions(row_index: np.ndarray, col_index: np.ndarray) -> np.ndarray:
    """bool ``[U, unit_rows, unit_cols]``: the positions that store a weight (used row and used
    column of a unit)."""
    return (row_index >= 0)[:, :, None] & (col_index >= 0)[:, None, :]
