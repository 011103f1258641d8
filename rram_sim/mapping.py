"""Mapping: a layer's weights onto crossbars, as dense, compact or operation-unit (OU) layouts.

A conv or linear layer computes a matrix product once its input is unrolled (im2col). The
convention is fixed here, once: conv weight ``W[N, C, kh, kw]`` becomes ``W.reshape(N, -1).T``, with
``K = C*kh*kw`` rows (wordlines, one per input-patch element in ``(c, ky, kx)`` order) and ``N``
logical columns (one per filter); a linear weight ``W[out, in]`` becomes ``W.T``. Each input patch
is one row of ``im2col(x)``, patches in row-major ``(b, oy, ox)`` order, so a layer's output is
``im2col(x) @ unroll_weight(W)``.

The unrolled matrix is masked, quantized (:mod:`rram_sim.quant`, one per-tensor scale computed from
the masked weights) and cut into *units* (see :mod:`rram_sim.layout`) under one of three schemes:

- ``dense``: the matrix tiled as is, one unit per crossbar; pruned weights are stored as zeros.
- ``compact``: all-zero columns are dropped and the survivors packed into column blocks of one
  crossbar's width; within each block the rows that are zero in all its columns are dropped and the
  survivors packed into row blocks of the crossbar's height. Each crossbar carries a row index table
  (which input feeds each wordline) and a column index table (which output each column produces).
- ``ou`` (AUTO-PRUNE): surviving columns are grouped by one OU's width, each group keeps only its
  non-zero rows, cut into OU-high units; units are packed into the OU slots of crossbars, each unit
  with its own input and output index lists.

Every scheme stores the same integers: ``unmap(map_layer(...))`` equals
``quantize_layer_weights(...)[0]`` exactly.
All steps are vectorized numpy (sort, cumsum, fancy indexing); no Python loop per row or cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rram_sim.config import Config
from rram_sim.errors import MappingError
from rram_sim.layout import LAYER_KINDS, SCHEMES, LayerLayout, LayerSpec
from rram_sim.quant import decode_cells, encode_cells, quantize

# ---------------------------------------------------------------------------------------------
# Layer specs and the im2col convention
# ---------------------------------------------------------------------------------------------

def _pos_ints(v: Any, n: int) -> bool:
    return (isinstance(v, tuple) and len(v) == n
            and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) and i > 0
                    for i in v))


def check_spec(spec: LayerSpec) -> None:
    """Raise :class:`MappingError` unless ``spec`` describes a computable conv or linear layer."""
    where = f"layer '{spec.name}'"
    if not isinstance(spec.name, str) or not spec.name:
        raise MappingError(f"layer name {spec.name!r}: must be a non-empty string")
    if spec.kind not in LAYER_KINDS:
        raise MappingError(f"{where}: kind={spec.kind!r} must be one of {', '.join(LAYER_KINDS)}")
    if spec.kind == "linear":
        if not _pos_ints(spec.weight_shape, 2):
            raise MappingError(f"{where}: weight_shape={spec.weight_shape} must be (out, in) of "
                               "positive integers")
        if tuple(spec.input_shape) != (spec.weight_shape[1],):
            raise MappingError(f"{where}: input_shape={spec.input_shape} must be "
                               f"({spec.weight_shape[1]},) to match weight_shape[1]")
        return
    if not _pos_ints(spec.weight_shape, 4):
        raise MappingError(f"{where}: weight_shape={spec.weight_shape} must be (N, C, kh, kw) of "
                           "positive integers")
    if not _pos_ints(spec.input_shape, 3):
        raise MappingError(f"{where}: input_shape={spec.input_shape} must be (C, H, W) of positive "
                           "integers")
    if spec.input_shape[0] != spec.weight_shape[1]:
        raise MappingError(f"{where}: input channels {spec.input_shape[0]} must equal the weight's "
                           f"C={spec.weight_shape[1]}")
    if not _pos_ints(tuple(spec.stride), 2):
        raise MappingError(f"{where}: stride={spec.stride} must be two positive integers")
    pad = tuple(spec.padding)
    if len(pad) != 2 or any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0
                            for p in pad):
        raise MappingError(f"{where}: padding={spec.padding} must be two non-negative integers")
    _, oh, ow = spec.output_shape
    if oh < 1 or ow < 1:
        raise MappingError(f"{where}: kernel {spec.weight_shape[2:]} does not fit the padded input "
                           f"{spec.input_shape[1:]} (padding {spec.padding})")


def im2col(x: np.ndarray, spec: LayerSpec) -> np.ndarray:
    """Unroll a layer input into the rows the crossbars see.

    Conv: ``x[B, C, H, W]`` -> ``[B*OH*OW, C*kh*kw]``, patches row-major over ``(b, oy, ox)``,
    elements ordered ``(c, ky, kx)``, zero padding. Linear: ``x[B, in]`` is returned unchanged.
    """
    x = np.asarray(x)
    if spec.kind == "linear":
        if x.ndim != 2 or x.shape[1:] != tuple(spec.input_shape):
            raise MappingError(f"layer '{spec.name}': input shape {x.shape} must be "
                               f"[B, {spec.input_shape[0]}]")
        return x
    if x.ndim != 4 or x.shape[1:] != tuple(spec.input_shape):
        raise MappingError(f"layer '{spec.name}': input shape {x.shape} must be "
                           f"[B, {', '.join(map(str, spec.input_shape))}]")
    _, _, kh, kw = spec.weight_shape
    (sh, sw), (ph, pw) = spec.stride, spec.padding
    _, oh, ow = spec.output_shape
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    win = win[:, :, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw]      # [B, C, OH, OW, kh, kw]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(x.shape[0] * oh * ow, -1)


def unroll_weight(w: np.ndarray, spec: LayerSpec) -> np.ndarray:
    """The layer weight as the ``[K, N]`` matrix a crossbar stores (see the module docstring)."""
    w = np.asarray(w)
    if w.shape != tuple(spec.weight_shape):
        raise MappingError(f"layer '{spec.name}': weight shape {w.shape} must equal "
                           f"weight_shape {tuple(spec.weight_shape)}")
    return w.reshape(w.shape[0], -1).T


def weight_index_to_matrix(spec: LayerSpec, index: tuple[int, ...]) -> tuple[int, int]:
    """(row, col) of the unrolled matrix holding weight ``W[index]``."""
    index = tuple(int(i) for i in index)
    if len(index) != len(spec.weight_shape) or any(
            not 0 <= i < n for i, n in zip(index, spec.weight_shape)):
        raise MappingError(f"layer '{spec.name}': weight index {index} is outside weight_shape "
                           f"{tuple(spec.weight_shape)}")
    if spec.kind == "linear":
        return index[1], index[0]
    n, c, ky, kx = index
    _, _, kh, kw = spec.weight_shape
    return (c * kh + ky) * kw + kx, n


def matrix_to_weight_index(spec: LayerSpec, row: int, col: int) -> tuple[int, ...]:
    """Inverse of :func:`weight_index_to_matrix`."""
    k, n = spec.matrix_shape
    if not (0 <= row < k and 0 <= col < n):
        raise MappingError(f"layer '{spec.name}': matrix position ({row}, {col}) is outside "
                           f"the {k} x {n} unrolled matrix")
    if spec.kind == "linear":
        return int(col), int(row)
    _, _, kh, kw = spec.weight_shape
    c, rest = divmod(int(row), kh * kw)
    ky, kx = divmod(rest, kw)
    return int(col), c, ky, kx


def quantize_layer_weights(w: np.ndarray, spec: LayerSpec, cfg: Config,
                           mask: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """The masked, unrolled, quantized integer matrix ``[K, N]`` (int64) and its scale.

    The scale comes from the masked weights, so pruned weights do not set the range.
    """
    check_spec(spec)
    w = np.asarray(w)
    if w.shape != tuple(spec.weight_shape):
        raise MappingError(f"layer '{spec.name}': weight shape {w.shape} must equal "
                           f"weight_shape {tuple(spec.weight_shape)}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise MappingError(f"layer '{spec.name}': weights contain NaN or infinity")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != w.shape:
            raise MappingError(f"layer '{spec.name}': mask shape {mask.shape} must equal the "
                               f"weight shape {w.shape}")
        if mask.dtype != bool and not np.all((mask == 0) | (mask == 1)):
            raise MappingError(f"layer '{spec.name}': mask must hold only 0 and 1 (or booleans)")
        w = np.where(mask.astype(bool), w, 0.0)
    return quantize(unroll_weight(w, spec), cfg.precision.weight_bits)


# ---------------------------------------------------------------------------------------------
# Schemes
# ---------------------------------------------------------------------------------------------

def ou_logical_cols(cfg: Config) -> int:
    """Logical columns one OU spans: ``max(1, ou.cols // columns_per_weight)``."""
    return max(1, cfg.ou.cols // cfg.columns_per_weight)


def unit_shape(scheme: str, cfg: Config) -> tuple[int, int]:
    """(unit_rows, unit_cols) of a scheme's units on chip ``cfg``."""
    if scheme == "ou":
        return cfg.ou.rows, ou_logical_cols(cfg)
    return cfg.crossbar.rows, cfg.logical_cols_per_crossbar


def dense_crossbars(spec: LayerSpec, cfg: Config) -> int:
    """Crossbars of the dense mapping: ``ceil(K / rows) * ceil(N / logical cols per crossbar)``."""
    k, n = spec.matrix_shape
    return -(-k // cfg.crossbar.rows) * -(-n // cfg.logical_cols_per_crossbar)


def _pack_units(need: np.ndarray, cols: np.ndarray, width: int,
                height: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut kept columns ``cols`` into blocks of ``width``; in each block keep the rows that some
    column of the block needs (``need[K, N]``) and cut them into chunks of ``height``.

    Returns ``(row_index [U, height], col_index [U, width])`` int32, ordered by column block then
    row chunk, ``-1`` where unused.
    """
    n_blocks = -(-len(cols) // width)
    if n_blocks == 0:
        return np.zeros((0, height), np.int32), np.zeros((0, width), np.int32)
    starts = np.arange(0, len(cols), width)
    block_need = np.logical_or.reduceat(need[:, cols], starts, axis=1)   # [K, blocks]
    blk, row = np.nonzero(block_need.T)                                  # sorted by block, row
    per_block = np.bincount(blk, minlength=n_blocks)
    chunks = -(-per_block // height)
    first_row = np.cumsum(per_block) - per_block
    first_unit = np.cumsum(chunks) - chunks
    rank = np.arange(len(row)) - first_row[blk]
    n_units = int(chunks.sum())
    row_index = np.full((n_units, height), -1, np.int32)
    row_index[first_unit[blk] + rank // height, rank % height] = row
    padded = np.full(n_blocks * width, -1, np.int32)
    padded[:len(cols)] = cols
    col_index = padded.reshape(n_blocks, width)[np.repeat(np.arange(n_blocks), chunks)]
    return row_index, col_index


def used_positions(row_index: np.ndarray, col_index: np.ndarray) -> np.ndarray:
    """bool ``[U, unit_rows, unit_cols]``: the positions that store a weight."""
    return (row_index >= 0)[:, :, None] & (col_index >= 0)[:, None, :]


def map_layer(spec: LayerSpec, weight: np.ndarray, cfg: Config, scheme: str = "dense",
              mask: np.ndarray | None = None, bias: np.ndarray | None = None) -> LayerLayout:
    """Quantize, encode and place one layer's weights on crossbars under ``scheme``."""
    if scheme not in SCHEMES:
        raise MappingError(f"layer '{spec.name}': scheme={scheme!r} must be one of "
                           f"{', '.join(SCHEMES)}")
    q, scale = quantize_layer_weights(weight, spec, cfg, mask)
    k, n = q.shape
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        if bias.shape != (n,):
            raise MappingError(f"layer '{spec.name}': bias shape {bias.shape} must be ({n},)")
        if not np.all(np.isfinite(bias)):
            raise MappingError(f"layer '{spec.name}': bias contains NaN or infinity")
    urows, ucols = unit_shape(scheme, cfg)
    if scheme == "dense":
        row_index, col_index = _pack_units(np.ones((k, n), bool), np.arange(n), ucols, urows)
    else:
        nz = q != 0
        row_index, col_index = _pack_units(nz, np.flatnonzero(nz.any(axis=0)), ucols, urows)
    n_units = row_index.shape[0]

    enc = encode_cells(q, cfg.precision.weight_bits, cfg.cell.bits, cfg.crossbar.signed_scheme)
    valid = used_positions(row_index, col_index)
    cells = enc[np.maximum(row_index, 0)[:, :, None], np.maximum(col_index, 0)[:, None, :]]
    cells[~valid] = 0

    if scheme == "ou":
        # Unit slots of one crossbar: R/ou.rows down, C // (unit width in physical columns) across;
        # filled down each column of slots first.
        slot_rows = cfg.crossbar.rows // urows
        unit_width = ucols * cfg.columns_per_weight
        slot_cols = cfg.crossbar.cols // unit_width
        per_xb = slot_rows * slot_cols
        u = np.arange(n_units)
        crossbar = (u // per_xb).astype(np.int32)
        s = u % per_xb
        row_offset = ((s % slot_rows) * urows).astype(np.int32)
        col_offset = ((s // slot_rows) * unit_width).astype(np.int32)
        n_crossbars = -(-n_units // per_xb)
    else:
        crossbar = np.arange(n_units, dtype=np.int32)
        row_offset = np.zeros(n_units, np.int32)
        col_offset = np.zeros(n_units, np.int32)
        n_crossbars = n_units
    layout = LayerLayout(spec=spec, scheme=scheme, weight_scale=scale, row_index=row_index,
                         col_index=col_index, cells=cells, crossbar=crossbar,
                         row_offset=row_offset, col_offset=col_offset,
                         n_crossbars=int(n_crossbars), bias=bias)
    layout.figures = layer_figures(layout, cfg)
    return layout


def unmap(layout: LayerLayout, cfg: Config) -> np.ndarray:
    """The stored integer weights as the ``[K, N]`` int64 matrix (zeros where nothing is stored)."""
    k, n = layout.spec.matrix_shape
    out = np.zeros((k, n), np.int64)
    valid = used_positions(layout.row_index, layout.col_index)
    vals = decode_cells(layout.cells, cfg.precision.weight_bits, cfg.cell.bits,
                        cfg.crossbar.signed_scheme)
    rows = np.broadcast_to(layout.row_index[:, :, None], valid.shape)[valid]
    cols = np.broadcast_to(layout.col_index[:, None, :], valid.shape)[valid]
    out[rows, cols] = vals[valid]
    return out


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

def index_bits(count: int) -> int:
    """Bits of one index-table entry addressing ``count`` items: ``ceil(log2 count)``, >= 1."""
    return max(1, (int(count) - 1).bit_length())


def layer_figures(layout: LayerLayout, cfg: Config) -> dict[str, Any]:
    """Occupancy figures of one mapped layer (definitions in docs/mapping.md)."""
    spec = layout.spec
    k, n = spec.matrix_shape
    lw = cfg.columns_per_weight
    valid = used_positions(layout.row_index, layout.col_index)
    stored = int(valid.sum())
    # A stored weight is non-zero iff its cells differ from the encoding of zero (cheaper than a
    # full decode).
    zero = encode_cells(np.zeros(1, np.int64), cfg.precision.weight_bits, cfg.cell.bits,
                        cfg.crossbar.signed_scheme)[0]
    nonzero = int(np.count_nonzero((layout.cells != zero).any(axis=-1) & valid))
    available = layout.n_crossbars * cfg.crossbar.rows * cfg.crossbar.cols
    per_table = layout.unit_rows * index_bits(k) + layout.unit_cols * index_bits(n)
    if layout.scheme == "dense":
        table_bits = 0
    elif layout.scheme == "compact":
        table_bits = layout.n_crossbars * per_table
    else:
        table_bits = layout.n_units * per_table
    return {
        "matrix_rows": k,
        "matrix_cols": n,
        "n_crossbars": int(layout.n_crossbars),
        "dense_crossbars": dense_crossbars(spec, cfg),
        "n_units": layout.n_units,
        "weights_stored": stored,
        "weights_nonzero": nonzero,
        "cells_used": stored * lw,
        "cells_nonzero": nonzero * lw,
        "cells_available": int(available),
        "utilization": stored * lw / available if available else 0.0,
        "index_table_bits": int(table_bits),
    }


_SUMMED = ("n_crossbars", "dense_crossbars", "n_units", "weights_stored", "weights_nonzero",
           "cells_used", "cells_nonzero", "cells_available", "index_table_bits")


def network_figures(layer_figs: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over layers, plus the compression rate ``dense / crossbars`` (PIM-Prune,
    AUTO-PRUNE) and the hardware reduction ``1 - crossbars / dense`` (ReaLPrune)."""
    tot = {key: int(sum(f[key] for f in layer_figs)) for key in _SUMMED}
    tot["utilization"] = (tot["cells_used"] / tot["cells_available"]
                          if tot["cells_available"] else 0.0)
    xb, dense = tot["n_crossbars"], tot["dense_crossbars"]
    tot["compression_rate"] = dense / xb if xb else None
    tot["hardware_reduction"] = 1.0 - xb / dense if dense else 0.0
    return tot

