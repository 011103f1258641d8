"""Golden test vectors: a layer's reference outputs computed with numpy, float and exactly
quantized, with which the simulator checks its own values."""

from __future__ import annotations

import numpy as np

from rram_sim.bundle.types import Golden
from rram_sim.config import Config
from rram_sim.errors import MappingError
from rram_sim.layout import LayerSpec
from rram_sim.mapping import check_spec, im2col, quantize_layer_weights, unroll_weight
from rram_sim.quant import qmax, quantize


def golden_from_numpy(spec: LayerSpec, weight: np.ndarray, bias: np.ndarray | None,
                      x: np.ndarray, cfg: Config, mask: np.ndarray | None = None) -> Golden:
    """Reference outputs of one layer computed with numpy (float and exactly quantized)."""
    check_spec(spec)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[1:] != tuple(spec.input_shape) or x.shape[0] < 1:
        raise MappingError(f"layer '{spec.name}': golden input shape {x.shape} must be "
                           f"[B, {', '.join(map(str, spec.input_shape))}] with B >= 1")
    n = spec.matrix_shape[1]
    b = np.zeros(n) if bias is None else np.asarray(bias, dtype=np.float64)
    if b.shape != (n,):
        raise MappingError(f"layer '{spec.name}': bias shape {b.shape} must be ({n},)")
    wq, sw = quantize_layer_weights(weight, spec, cfg, mask)   # also validates weight and mask
    w = np.asarray(weight, dtype=np.float64)
    if mask is not None:
        w = np.where(np.asarray(mask).astype(bool), w, 0.0)
    out = im2col(x, spec) @ unroll_weight(w, spec) + b
    return Golden(input=x, output=_to_output(out, spec, x.shape[0]),
                  output_quantized=quantized_output(spec, wq, sw, b, x, cfg))


def quantized_output(spec: LayerSpec, wq: np.ndarray, weight_scale: float,
                     bias: np.ndarray | None, x: np.ndarray, cfg: Config) -> np.ndarray:
    """The layer on exact integer products, as a lossless crossbar computes it:
    ``im2col(quantize(x)) @ wq x (input scale x weight_scale) + bias``, shaped as the layer's
    output ``[B, ...]``. ``wq``: the integer weights ``[K, N]`` (any numeric dtype)."""
    xq, sx = quantize(x, cfg.precision.input_bits)
    cols = im2col(xq, spec)
    bound = spec.matrix_shape[0] * qmax(cfg.precision.input_bits) * qmax(cfg.precision.weight_bits)
    # float64 BLAS is exact while every partial sum stays below 2**53; int64 otherwise.
    acc = (cols.astype(np.float64) @ np.asarray(wq, dtype=np.float64) if bound < 2 ** 53
           else (cols @ np.asarray(wq, dtype=np.int64)).astype(np.float64))
    y = acc * (sx * weight_scale)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return _to_output(y, spec, x.shape[0])


def _to_output(m: np.ndarray, spec: LayerSpec, batch: int) -> np.ndarray:
    if spec.kind == "linear":
        return m
    n, oh, ow = spec.output_shape
    return m.reshape(batch, oh, ow, n).transpose(0, 3, 1, 2).copy()
