"""Occupancy figures of mapped layers and networks (definitions in docs/mapping.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rram_sim.config import Config
from rram_sim.layout import LayerLayout, LayerSpec, used_positions
from rram_sim.quant import encode_cells
from rram_sim.schemes import scheme_of


def dense_crossbars(spec: LayerSpec, cfg: Config) -> int:
    """Crossbars of the dense mapping: ``ceil(K / rows) * ceil(N / logical cols per crossbar)``."""
    k, n = spec.matrix_shape
    return -(-k // cfg.crossbar.rows) * -(-n // cfg.logical_cols_per_crossbar)


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
    table_bits = scheme_of(layout.scheme).index_tables(layout) * per_table
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
