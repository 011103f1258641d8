"""``kernel_rows``: MNSIM 2.0's array occupancy: whole kernels on the rows, bit slices spread over
the columns of as many arrays as a weight has slices; one unit per crossbar, no index table.

Rows: a conv layer's unrolled rows come in whole kernels (``kh * kw`` consecutive rows per input
channel, the ``(c, ky, kx)`` im2col order of :mod:`rram_sim.mapping.unroll`); a crossbar holds
``floor(crossbar.rows / (kh * kw))`` whole kernels, so no kernel is split across crossbars
(3 x 3 kernels on 256 rows: 28 kernels, 252 rows; MNSIM 2.0 ``Tile_connection_graph.py``
``my = ceil(Cin / floor(xbar_rows / k^2))``). A linear layer's rows are 1 x 1 kernels.

Columns: MNSIM stores each bit slice of a weight in its own array, an array holding one slice of
up to one array's width of outputs (``mx = slices x ceil(Cout / xbar_columns)``); a layer with
fewer outputs than that width leaves its arrays partly empty. This project keeps a weight's slices
side by side in one crossbar, so the same occupancy is: outputs in groups of ``slices x``
(logical columns per crossbar), each group spread evenly over ``min(slices, group size)``
crossbars. Layers of a multiple of ``slices x`` logical columns per crossbar are laid out as the
``dense`` scheme's columns; narrower ones take as many crossbars as MNSIM's arrays.

Every weight, zero or not, is stored (as ``dense``): a unit's rows and columns are its base
address plus the physical offset, so the datapath routes without index tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rram_sim.errors import MappingError
from rram_sim.schemes.base import MappingScheme

if TYPE_CHECKING:
    from rram_sim.config import Config
    from rram_sim.layout import LayerLayout, LayerSpec


def kernel_row_blocks(k: int, kernel_rows: int, crossbar_rows: int) -> np.ndarray:
    """Row chunks of ``k`` matrix rows, whole kernels of ``kernel_rows`` rows each:
    ``[chunks, crossbar_rows]`` int32, ``-1`` where unused."""
    per = (crossbar_rows // kernel_rows) * kernel_rows
    if per == 0:
        raise MappingError(f"scheme 'kernel_rows': a kernel of {kernel_rows} rows does not fit "
                           f"crossbar.rows={crossbar_rows} (a kernel must not be split)")
    chunks = -(-k // per)
    r = np.arange(crossbar_rows)
    rows = np.arange(chunks)[:, None] * per + r[None, :]
    return np.where((r[None, :] < per) & (rows < k), rows, -1).astype(np.int32)


def spread_col_blocks(n: int, width: int, slices: int) -> np.ndarray:
    """Column blocks of ``n`` outputs: groups of ``slices * width`` outputs, each split evenly
    (first blocks one wider) into ``min(slices, group size)`` blocks of at most ``width``:
    ``[blocks, width]`` int32, ``-1`` where unused. Vectorized over the outputs."""
    if n == 0:
        return np.zeros((0, width), np.int32)
    group = slices * width
    col = np.arange(n)
    g = col // group
    n_groups = int(g[-1]) + 1
    size = np.minimum(group, n - np.arange(n_groups) * group)      # outputs of each group
    nb = np.minimum(slices, size)                                    # blocks of each group
    base, extra = size // nb, size % nb
    p = col - g * group                                              # position within the group
    wide = extra[g] * (base[g] + 1)                                  # outputs in the wider blocks
    in_wide = p < wide
    blk = np.where(in_wide, p // (base[g] + 1), extra[g] + (p - wide) // base[g])
    off = np.where(in_wide, p % (base[g] + 1), (p - wide) % base[g])
    first = np.cumsum(nb) - nb
    out = np.full((int(nb.sum()), width), -1, np.int32)
    out[first[g] + blk, off] = col
    return out


class KernelRowsScheme(MappingScheme):
    """Whole kernels per crossbar's rows, slices spread as MNSIM 2.0's one-slice-per-array
    layout occupies its arrays; every weight stored, no index table."""

    name = "kernel_rows"
    indexed = False

    def unit_shape(self, cfg: Config) -> tuple[int, int]:
        """One whole crossbar: ``(crossbar.rows, logical columns per crossbar)``."""
        return cfg.crossbar.rows, cfg.logical_cols_per_crossbar

    def pack(self, q: np.ndarray, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        """Units of a matrix whose rows are 1 x 1 kernels (a linear layer's)."""
        return self._pack(q.shape, 1, cfg)

    def pack_layer(self, q: np.ndarray, spec: LayerSpec,
                   cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        """Units of ``spec``'s matrix: its kernels (``kh * kw`` rows for a conv) kept whole."""
        kernel = spec.weight_shape[2] * spec.weight_shape[3] if spec.kind == "conv" else 1
        return self._pack(q.shape, kernel, cfg)

    def _pack(self, shape: tuple[int, int], kernel: int,
              cfg: Config) -> tuple[np.ndarray, np.ndarray]:
        k, n = shape
        urows, ucols = self.unit_shape(cfg)
        rows = kernel_row_blocks(k, kernel, urows)
        cols = spread_col_blocks(n, ucols, cfg.slices_per_weight)
        n_chunks, n_blocks = rows.shape[0], cols.shape[0]
        # ordered by column block, then row chunk (as the other schemes)
        return (rows[np.tile(np.arange(n_chunks), n_blocks)],
                cols[np.repeat(np.arange(n_blocks), n_chunks)])

    def index_tables(self, layout: LayerLayout) -> int:
        """None: the datapath routes by base address."""
        return 0
