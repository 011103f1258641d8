"""Fixed-point quantization and cell encoding — the one definition used by mapping, kernels and the
front-end.

Quantization is symmetric and per tensor: ``scale = max|a| / (2**(bits-1) - 1)`` (1.0 for an
all-zero tensor), ``q = rint(a / scale)`` — numpy's round-half-to-even — so ``q`` lies in
``[-(2**(bits-1) - 1), 2**(bits-1) - 1]`` and ``a ~= q * scale``.

Cell encoding of integer weights (``cells[..., p]`` levels, least significant slice first):

- ``offset``: ``u = q + 2**(weight_bits-1)`` (always in ``[1, 2**weight_bits - 1]``) is sliced
  into ``S = ceil(weight_bits / cell_bits)`` levels; the bias times the input sum is subtracted
  digitally.
- ``differential``: ``max(q, 0)`` in slices ``0..S-1`` and ``max(-q, 0)`` in slices ``S..2S-1``;
  the column pair's results are subtracted after conversion.
"""

from __future__ import annotations

import numpy as np


def qmax(bits: int) -> int:
    """Largest magnitude of a signed ``bits``-bit symmetric quantizer."""
    return (1 << (bits - 1)) - 1


def scale_for(a: np.ndarray, bits: int) -> float:
    m = float(np.max(np.abs(a))) if a.size else 0.0
    return m / qmax(bits) if m > 0 else 1.0


def quantize(a: np.ndarray, bits: int, scale: float | None = None) -> tuple[np.ndarray, float]:
    """Quantize ``a`` to signed ``bits``-bit integers. Returns ``(q int64, scale)``."""
    a = np.asarray(a, dtype=np.float64)
    if scale is None:
        scale = scale_for(a, bits)
    m = qmax(bits)
    q = np.clip(np.rint(a / scale), -m, m).astype(np.int64)
    return q, float(scale)


def n_slices(weight_bits: int, cell_bits: int) -> int:
    return -(-weight_bits // cell_bits)


def encode_cells(q: np.ndarray, weight_bits: int, cell_bits: int, scheme: str) -> np.ndarray:
    """Integer weights -> cell levels, shape ``q.shape + (P,)`` (uint8)."""
    q = np.asarray(q, dtype=np.int64)
    s = n_slices(weight_bits, cell_bits)
    shifts = (np.arange(s, dtype=np.int64) * cell_bits)
    mask = (1 << cell_bits) - 1
    if scheme == "offset":
        u = q + (1 << (weight_bits - 1))
        return ((u[..., None] >> shifts) & mask).astype(np.uint8)
    if scheme == "differential":
        pos = np.maximum(q, 0)[..., None]
        neg = np.maximum(-q, 0)[..., None]
        return np.concatenate([(pos >> shifts) & mask, (neg >> shifts) & mask], axis=-1).astype(
            np.uint8)
    raise ValueError(f"unknown signed scheme '{scheme}'")


def decode_cells(cells: np.ndarray, weight_bits: int, cell_bits: int, scheme: str) -> np.ndarray:
    """Cell levels -> integer weights (inverse of :func:`encode_cells` on used positions)."""
    cells = np.asarray(cells, dtype=np.int64)
    s = n_slices(weight_bits, cell_bits)
    w = np.int64(1) << (np.arange(s, dtype=np.int64) * cell_bits)
    if scheme == "offset":
        return (cells[..., :s] * w).sum(-1) - (1 << (weight_bits - 1))
    if scheme == "differential":
        return (cells[..., :s] * w).sum(-1) - (cells[..., s:2 * s] * w).sum(-1)
    raise ValueError(f"unknown signed scheme '{scheme}'")


def slice_weights(cell_bits: int, n: int) -> np.ndarray:
    """Place value of each slice: ``2**(cell_bits * p)`` for ``p < n`` (int64)."""
    return np.int64(1) << (np.arange(n, dtype=np.int64) * cell_bits)
