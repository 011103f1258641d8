"""Packing helpers shared by the schemes: cut kept columns into blocks, keep each block's rows."""

from __future__ import annotations

import numpy as np

from rram_sim.errors import MappingError


def pack_units(need: np.ndarray, cols: np.ndarray, width: int, height: int,
               spread_chunks: int | None = None,
               granule: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Cut kept columns ``cols`` into blocks of ``width``; in each block keep the rows that some
    column of the block needs (``need[K, N]``) and cut them into chunks of ``height``.

    ``spread_chunks`` (the ``spread`` mapping policy): deal each block's rows evenly over up to
    that many chunks instead of filling chunks of ``height`` (a block keeps at least the chunks
    ``height`` needs); a chunk's rows are rounded up to a multiple of ``granule`` (the OU height:
    fewer rows than one OU read save nothing). Fewer rows per chunk, more chunks.

    Returns ``(row_index [U, height], col_index [U, width])`` int32, ordered by column block then
    row chunk, ``-1`` where unused. Vectorized (sort, cumsum, fancy indexing): no loop per row.
    """
    n_blocks = -(-len(cols) // width)
    if n_blocks == 0:
        return np.zeros((0, height), np.int32), np.zeros((0, width), np.int32)
    starts = np.arange(0, len(cols), width)
    block_need = np.logical_or.reduceat(need[:, cols], starts, axis=1)   # [K, blocks]
    blk, row = np.nonzero(block_need.T)                                  # sorted by block, row
    per_block = np.bincount(blk, minlength=n_blocks)
    per_chunk = np.full(n_blocks, height, np.int64)     # rows per chunk of each block
    if spread_chunks is not None:
        if spread_chunks < 1 or granule < 1 or height % granule:
            raise MappingError(f"spread_chunks={spread_chunks}, granule={granule}: must be >= 1, "
                             f"granule dividing height={height}")
        even = -(-np.maximum(per_block, 1) // spread_chunks)
        per_chunk = np.minimum(-(-even // granule) * granule, height)
    chunks = -(-per_block // per_chunk)
    first_row = np.cumsum(per_block) - per_block
    first_unit = np.cumsum(chunks) - chunks
    rank = np.arange(len(row)) - first_row[blk]
    n_units = int(chunks.sum())
    row_index = np.full((n_units, height), -1, np.int32)
    row_index[first_unit[blk] + rank // per_chunk[blk], rank % per_chunk[blk]] = row
    padded = np.full(n_blocks * width, -1, np.int32)
    padded[:len(cols)] = cols
    col_index = padded.reshape(n_blocks, width)[np.repeat(np.arange(n_blocks), chunks)]
    return row_index, col_index


def pack_nonzero(q: np.ndarray, height: int, width: int, spread_chunks: int | None = None,
                 granule: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pack_units` of the non-zero part of ``q``: all-zero columns dropped, and in each
    column block the rows that are zero in all its columns dropped (``spread_chunks``,
    ``granule``: the ``spread`` mapping policy, see :func:`pack_units`)."""
    nz = q != 0
    return pack_units(nz, np.flatnonzero(nz.any(axis=0)), width, height, spread_chunks, granule)
