"""Layer specs and the im2col convention, fixed here once.

A conv or linear layer computes a matrix product once its input is unrolled (im2col). Conv weight
``W[N, C, kh, kw]`` becomes ``W.reshape(N, -1).T``, with ``K = C*kh*kw`` rows (wordlines, one per
input-patch element in ``(c, ky, kx)`` order) and ``N`` logical columns (one per filter); a linear
weight ``W[out, in]`` becomes ``W.T``. Each input patch is one row of ``im2col(x)``, patches in
row-major ``(b, oy, ox)`` order, so a layer's output is ``im2col(x) @ unroll_weight(W)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rram_sim.errors import MappingError
from rram_sim.layout import LAYER_KINDS, LayerSpec


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
