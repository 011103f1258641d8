"""The base class of a group granularity and the matrix grid a granularity labels.

A granularity is defined on the unrolled ``[K, N]`` matrix of :mod:`rram_sim.mapping` (row ``r`` =
input index ``(c, ky, kx)``, column ``n`` = filter or output feature) and the chip's crossbar
geometry, both carried by a :class:`MatrixGrid`: ``R = crossbar.rows`` rows and ``L =
crossbar.cols // columns_per_weight`` logical columns per crossbar, and one OU spanning
``ou.rows`` rows and ``ou_logical_cols = max(1, ou.cols // columns_per_weight)`` logical columns.

A subclass sets :attr:`Granularity.name` and :attr:`Granularity.description` and implements
:meth:`Granularity.matrix_ids`: an integer label for every matrix position, equal labels forming
one group (the labels need not be dense: :func:`pruning.groups.layer_groups` renumbers them).
:attr:`Granularity.couples` says whether its groups are whole channels of a feature map, which
residual coupling (:mod:`pruning.coupling`) can join across layers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rram_sim.config import Config
from rram_sim.layout import LayerSpec
from rram_sim.mapping import ou_logical_cols

PRODUCERS = "producers"    # a group is one filter (weight dim 0): the channel it writes
CONSUMERS = "consumers"    # a group is one input channel (weight dim 1): the channel it reads


@dataclass(frozen=True)
class MatrixGrid:
    """The positions of one layer's unrolled matrix and the geometry groups align to."""

    spec: LayerSpec
    cfg: Config
    rows: np.ndarray        # int64 [K, 1]: matrix row index
    cols: np.ndarray        # int64 [1, N]: matrix column index
    per_channel: int        # matrix rows per input channel: kh * kw for a conv, 1 for a linear
    xbar_rows: int          # R: rows of one crossbar
    xbar_cols: int          # L: logical columns of one crossbar
    ou_rows: int            # rows of one OU
    ou_cols: int            # logical columns of one OU

    @classmethod
    def of(cls, spec: LayerSpec, cfg: Config) -> MatrixGrid:
        k, n = spec.matrix_shape
        per = spec.weight_shape[2] * spec.weight_shape[3] if spec.kind == "conv" else 1
        return cls(spec, cfg, np.arange(k, dtype=np.int64)[:, None],
                   np.arange(n, dtype=np.int64)[None, :], int(per), cfg.crossbar.rows,
                   cfg.logical_cols_per_crossbar, cfg.ou.rows, ou_logical_cols(cfg))

    @property
    def shape(self) -> tuple[int, int]:
        return self.spec.matrix_shape

    def label(self, row_key: np.ndarray, col_key: np.ndarray, n_col_keys: int) -> np.ndarray:
        """``row_key * n_col_keys + col_key`` over the whole matrix: one group per distinct pair
        (``row_key`` is ``[K, 1]`` or a scalar, ``col_key`` ``[1, N]`` or a scalar, ``col_key <
        n_col_keys``)."""
        return np.broadcast_to(row_key * n_col_keys + col_key, self.shape)


class Granularity(ABC):
    """A way to partition a crossbar layer's weights into groups that are removed whole."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # PRODUCERS / CONSUMERS when every group is one channel of a feature map (its filter or its
    # input slice), which residual coupling can join across layers; None otherwise
    couples: ClassVar[str | None] = None

    @abstractmethod
    def matrix_ids(self, grid: MatrixGrid) -> np.ndarray:
        """An integer label for every position of the ``[K, N]`` matrix (equal label, same
        group)."""

    def __repr__(self) -> str:
        return f"<granularity {self.name}>"


__all__ = ["CONSUMERS", "PRODUCERS", "Granularity", "MatrixGrid"]
