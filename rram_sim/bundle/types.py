"""The data types of a layout bundle and the names of its two files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rram_sim.bundle.evalset import EvalSet
from rram_sim.config import Config
from rram_sim.errors import LayoutError
from rram_sim.graph import GraphNode, graph_shapes
from rram_sim.layout import LayerLayout
from rram_sim.placement import Placement

MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
# Per-layer arrays stored as ``L{i}.{name}`` in ARRAYS (the bias, when present, as ``L{i}.bias``).
LAYER_ARRAYS = ("row_index", "col_index", "cells", "crossbar", "row_offset", "col_offset")
# The newest format this rram_sim reads and writes: 1 (layers, placement, graph, golden vectors),
# 2 (adds the optional eval set, :mod:`rram_sim.bundle.evalset`). A bundle without an eval set is
# written as version 1 (``rram_sim.layout.FORMAT_VERSION``), so older readers still load it.
BUNDLE_FORMAT_VERSION = 2


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
    """A mapped network: config, layers, placement, graph, golden vectors, figures, metadata,
    and optionally an evaluation set (labelled test samples, :class:`EvalSet`)."""

    config: Config
    scheme: str
    layers: list[LayerLayout]
    placement: Placement
    graph: list[GraphNode]
    golden: dict[str, Golden]
    figures: dict[str, Any]
    meta: dict[str, Any]
    eval_set: EvalSet | None = None

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        return graph_shapes(self.graph, [lay.spec for lay in self.layers])

    def output_shape(self) -> tuple[int, ...]:
        """The shape of the graph's last node (the network's output, per sample)."""
        return self._shapes()[self.graph[-1].name]

    def input_shape(self) -> tuple[int, ...]:
        """The shape of one network input (the graph's input node, per sample)."""
        return self._shapes()[self.graph[0].name]

    def eval_set_problem(self) -> str | None:
        """Why this bundle's eval set does not fit its network (None: it fits, or there is none):
        samples of the input shape, one output per class."""
        e = self.eval_set
        if e is None:
            return None
        if not self.graph:
            return "a bundle without a network graph cannot hold an eval set"
        shapes = self._shapes()
        problem = e.problem(shapes[self.graph[0].name])
        if problem:
            return problem
        out = shapes[self.graph[-1].name]
        if out != (e.classes,):
            return (f"classes={e.classes}: the network's output has shape {out}, not one value "
                    f"per class ({e.classes},)")
        return None

    def layer(self, name: str) -> LayerLayout:
        for lay in self.layers:
            if lay.spec.name == name:
                return lay
        raise LayoutError(f"bundle: no layer named '{name}'")
