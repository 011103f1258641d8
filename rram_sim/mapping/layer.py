"""One layer onto crossbars: quantize, let the scheme cut units and place them, encode the cells.

The scheme (:mod:`rram_sim.schemes`, looked up by name) decides the unit shape, which matrix rows
and columns each unit holds and where units sit; this module does what every scheme shares, so
``unmap(map_layer(...))`` equals ``quantize_layer_weights(...)[0]`` exactly for every scheme.
"""

from __future__ import annotations

import numpy as np

from rram_sim.config import Config
from rram_sim.errors import MappingError
from rram_sim.layout import LayerLayout, LayerSpec, used_positions
from rram_sim.mapping.figures import layer_figures
from rram_sim.mapping.quantize import quantize_layer_weights
from rram_sim.quant import decode_cells, encode_cells
from rram_sim.schemes import scheme_of


def unit_shape(scheme: str, cfg: Config) -> tuple[int, int]:
    """(unit_rows, unit_cols) of a scheme's units on chip ``cfg``."""
    return scheme_of(scheme).unit_shape(cfg)


def map_layer(spec: LayerSpec, weight: np.ndarray, cfg: Config, scheme: str = "dense",
              mask: np.ndarray | None = None, bias: np.ndarray | None = None) -> LayerLayout:
    """Quantize, encode and place one layer's weights on crossbars under ``scheme``."""
    sch = scheme_of(scheme, where=f"layer '{spec.name}'")
    q, scale = quantize_layer_weights(weight, spec, cfg, mask)
    n = q.shape[1]
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        if bias.shape != (n,):
            raise MappingError(f"layer '{spec.name}': bias shape {bias.shape} must be ({n},)")
        if not np.all(np.isfinite(bias)):
            raise MappingError(f"layer '{spec.name}': bias contains NaN or infinity")
    row_index, col_index = sch.pack_layer(q, spec, cfg)
    return layout_from_index(spec, scheme, q, scale, row_index, col_index, cfg, bias)


def layout_from_index(spec: LayerSpec, scheme: str, q: np.ndarray, weight_scale: float,
                      row_index: np.ndarray, col_index: np.ndarray, cfg: Config,
                      bias: np.ndarray | None = None) -> LayerLayout:
    """The layout that stores integer weights ``q`` ``[K, N]`` in units cut by ``row_index`` /
    ``col_index`` (the scheme's packing): cells encoded, units placed on crossbars under
    ``scheme``, figures computed."""
    enc = encode_cells(q, cfg.precision.weight_bits, cfg.cell.bits, cfg.crossbar.signed_scheme)
    valid = used_positions(row_index, col_index)
    cells = enc[np.maximum(row_index, 0)[:, :, None], np.maximum(col_index, 0)[:, None, :]]
    cells[~valid] = 0

    place = scheme_of(scheme).place(row_index.shape[0], cfg)
    layout = LayerLayout(spec=spec, scheme=scheme, weight_scale=weight_scale,
                         row_index=row_index, col_index=col_index, cells=cells,
                         crossbar=place.crossbar, row_offset=place.row_offset,
                         col_offset=place.col_offset, n_crossbars=int(place.n_crossbars),
                         bias=bias)
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
