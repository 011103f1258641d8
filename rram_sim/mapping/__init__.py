"""Mapping: a layer's weights onto crossbars, under a mapping scheme chosen by name.

The steps, one module each:

- :mod:`~rram_sim.mapping.unroll`: layer specs and the im2col convention (fixed there, once);
- :mod:`~rram_sim.mapping.quantize`: the masked, unrolled, quantized integer matrix;
- :mod:`rram_sim.schemes`: the scheme registry (``dense``, ``compact``, ``ou``): unit shape,
  packing into units with their row/column index tables, placement on crossbars;
- :mod:`~rram_sim.mapping.layer`: :func:`map_layer` (quantize, pack, encode cells, place) and
  :func:`unmap`;
- :mod:`~rram_sim.mapping.figures`: occupancy figures of layers and networks.

Every scheme stores the same integers: ``unmap(map_layer(...))`` equals
``quantize_layer_weights(...)[0]`` exactly. All steps are vectorized numpy (sort, cumsum, fancy
indexing); no Python loop per row or cell.
"""

from __future__ import annotations

from rram_sim.layout import used_positions
from rram_sim.mapping.figures import dense_crossbars, index_bits, layer_figures, network_figures
from rram_sim.mapping.layer import map_layer, unit_shape, unmap
from rram_sim.mapping.quantize import quantize_layer_weights
from rram_sim.mapping.unroll import (
    check_spec,
    im2col,
    matrix_to_weight_index,
    unroll_weight,
    weight_index_to_matrix,
)
from rram_sim.schemes import ou_logical_cols

__all__ = ["check_spec", "dense_crossbars", "im2col", "index_bits", "layer_figures", "map_layer",
           "matrix_to_weight_index", "network_figures", "ou_logical_cols",
           "quantize_layer_weights", "unit_shape", "unmap", "unroll_weight", "used_positions",
           "weight_index_to_matrix"]
