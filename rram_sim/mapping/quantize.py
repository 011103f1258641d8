"""The weights a layer stores: masked, unrolled and quantized to ``precision.weight_bits``."""

from __future__ import annotations

import numpy as np

from rram_sim.config import Config
from rram_sim.errors import MappingError
from rram_sim.layout import LayerSpec
from rram_sim.mapping.unroll import check_spec, unroll_weight
from rram_sim.quant import quantize


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
