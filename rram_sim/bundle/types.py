"""The data types of a layout bundle and the names of its two files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rram_sim.config import Config
from rram_sim.errors import LayoutError
from rram_sim.graph import GraphNode
from rram_sim.layout import LayerLayout
from rram_sim.placement import Placement

MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
# Per-layer arrays stored as ``L{i}.{name}`` in ARRAYS (the bias, when present, as ``L{i}.bias``).
LAYER_ARRAYS = ("row_index", "col_index", "cells", "crossbar", "row_offset", "col_offset")


@dataclass
class Golden:
    """Reference vectors of one layer.

    ``input``: float ``[B, *spec.input_shape]``, the layer's real input. ``output``: the float
    reference ``[B, *spec.output_shape]`` (bias included). ``output_quantized``: the dequantized
    exact integer product ``(xq @ Wq) * sx * sw + bias`` of the quantized input (per-tensor scale
    over the batch, ``precision.input_bits``) and the quantized unrolled weights.
    """

    input: np.ndarray
    output: np.ndarray
    output_quantized: np.ndarray


@dataclass
class Bundle:
    """A mapped network: config, layers, placement, graph, golden vectors, figures, metadata."""

    config: Config
    scheme: str
    layers: list[LayerLayout]
    placement: Placement
    graph: list[GraphNode]
    golden: dict[str, Golden]
    figures: dict[str, Any]
    meta: dict[str, Any]

    def layer(self, name: str) -> LayerLayout:
        for lay in self.layers:
            if lay.spec.name == name:
                return lay
        raise LayoutError(f"bundle: no layer named '{name}'")
