"""The read plan: what every crossbar of a mapped layer does per input vector, in one pass.

This is the one place where a layer's crossbar events are derived. The kernels' counts
(:func:`rram_sim.kernels.forward_counts`, ``transposed_counts`` and the counts of every value path)
and the engine's step timing (:mod:`rram_sim.engine.timing`) both read a :class:`ReadPlan`, so the
number of reads the clock waits for is the number of reads the counters charge.

A layer is stored as units (see :mod:`rram_sim.layout`). Seen by one pass, a live unit (one with
used rows and columns) is a block of *input lines* driven by the DACs and *output lines* sensed by
the ADCs:

- **forward**: input lines are the unit's physical rows, output lines its logical columns (each
  ``P`` physical columns wide, one per weight slice). One read drives one input chunk on the rows of
  one OU row group (``group_lines = min(ou.rows, unit rows)``) and activates every OU column group
  holding a used physical column;
- **transposed** (error back-propagation): input lines are the logical columns, output lines the
  rows. Slices have different place values, so each read drives *one slice position* of one OU
  column group (``group_lines = min(unit cols, ou.cols // P)``); an OU senses at most ``ou.rows``
  rows, so a group is read ``P`` times per OU row group holding used rows, one OU activation each.

Per input chunk (``input_bits / dac.bits`` of them per vector), a live unit is read once per
*active* line group (one holding used input lines) times ``reads_per_group``; each such read
activates ``ou_per_group`` OUs one after another, each OU activation driving the used input lines
it spans (so a line is driven ``activations_per_line`` times per read: once per OU column group in
a forward read, once per OU row group in a transposed one), and every used output line's ``P``
physical lines are converted once per read (its ``P / 2`` column pairs in a forward read with
``crossbar.analog_subtraction``, which subtracts each negative column's current from its
partner's before the ADC; the values are those of separate conversions, exact with a lossless
ADC). The same physical work therefore counts the same in
every mapping scheme: a dense crossbar read OU by OU drives, activates and converts exactly what
the OU-sized units of the ``ou`` scheme do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rram_sim.adc import AdcModel, adc_model
from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.errors import LayoutError
from rram_sim.layout import LayerLayout
from rram_sim.quant import n_slices, slice_weights
from rram_sim.schemes import index_lookups_per_vector, unit_tables

PASSES = ("forward", "transposed")


@dataclass
class ReadPlan:
    """One layer in one pass, as input lines -> output lines of its live units.

    Arrays are indexed by live unit ``u`` (units with no used row or column are never read and
    left out). ``cells_o`` is ``None`` for a structure-only plan (timing needs no cell values).
    """

    transposed: bool
    in_index: np.ndarray      # int64 [U, I] input feeding each input line (-1: unused line)
    out_index: np.ndarray     # int64 [U, O] output each output line feeds (-1: unused)
    crossbar: np.ndarray      # int64 [U] crossbar holding the unit
    cells_o: np.ndarray | None  # uint8 [U, I, O, P] cells, oriented input line x output line
    slices: int               # P: physical lines per output line (weight slices, x2 differential)
    group_lines: int          # input lines driven by one read
    reads_per_group: int      # 1 forward; P transposed (one slice position per read)
    ou_per_group: np.ndarray  # int64 [U] OU activations per group read
    activations_per_line: np.ndarray  # int64 [U] times a read drives each of its input lines
    adc: AdcModel
    spv: np.ndarray           # float64 [P] signed slice place values
    bias: int                 # offset-scheme bias (0 for differential)
    n_in: int                 # length of the input vectors
    n_out: int                # length of the output vectors
    index_lookups: int        # index-table reads per vector (0 for a dense datapath)
    converted_lines: int = 0  # ADC conversions per output line per read (0: ``slices``)

    # -- per-unit structure ------------------------------------------------------------------
    @property
    def active_groups(self) -> np.ndarray:
        """int64 [U]: input line groups holding at least one used line (each is read)."""
        gl = self.group_lines
        u_n, i_n = self.in_index.shape
        i_pad = -(-i_n // gl) * gl
        used = np.pad(self.in_index >= 0, ((0, 0), (0, i_pad - i_n)))
        return used.reshape(u_n, i_pad // gl, gl).any(2).sum(1).astype(np.int64)

    @property
    def lines_in(self) -> np.ndarray:
        """int64 [U]: used input lines (DAC-driven) per unit."""
        return (self.in_index >= 0).sum(1).astype(np.int64)

    @property
    def lines_out(self) -> np.ndarray:
        """int64 [U]: used output lines (each converted ``slices`` times per read) per unit."""
        return (self.out_index >= 0).sum(1).astype(np.int64)

    # -- per crossbar, per input chunk ---------------------------------------------------------
    def ou_reads_per_crossbar(self, n_crossbars: int) -> np.ndarray:
        """int64 [n_crossbars]: OU activations each crossbar performs per input chunk (its OUs
        one after another; the crossbars of a layer work in parallel)."""
        n_ag = self.active_groups
        per_unit = n_ag * self.ou_per_group
        return np.bincount(self.crossbar, weights=per_unit, minlength=n_crossbars).astype(np.int64)

    def reads_per_chunk(self) -> int:
        """OU reads of the busiest crossbar per input chunk: what sets a step's read time."""
        if len(self.crossbar) == 0:
            return 0
        n_x = int(self.crossbar.max()) + 1
        return int(self.ou_reads_per_crossbar(n_x).max())

    @property
    def conversions_per_line(self) -> int:
        """ADC conversions per used output line per read: one per physical line (``slices``), or
        one per column pair when ``crossbar.analog_subtraction`` subtracts the negative
        column's current before the ADC (forward reads)."""
        return self.converted_lines or self.slices

    def conversions_per_unit(self) -> np.ndarray:
        """int64 [U]: ADC conversions of each live unit per input chunk."""
        return self.active_groups * self.lines_out * self.conversions_per_line

    def conversions_per_chunk(self) -> int:
        """ADC conversions of the whole layer per input chunk."""
        return int(self.conversions_per_unit().sum())

    # -- counts --------------------------------------------------------------------------------
    def counts(self, cfg: Config, n_vectors: int) -> Counts:
        """Closed-form counts of ``n_vectors`` vectors through this plan (no skipped reads)."""
        if len(self.in_index) == 0:
            return Counts()   # nothing stored: nothing is read
        n_ag, n_in, n_out = self.active_groups, self.lines_in, self.lines_out
        rp = self.reads_per_group
        conv = self.conversions_per_chunk()
        per_chunk = Counts(
            crossbar_activations=int(len(np.unique(self.crossbar))) * rp,
            ou_activations=int((n_ag * self.ou_per_group).sum()),
            dac_drives=int((n_in * self.activations_per_line).sum()) * rp,
            sample_holds=conv, adc_conversions=conv, shift_adds=conv)
        c = per_chunk.scaled(cfg.input_cycles * n_vectors)
        in_bytes = -(-cfg.precision.input_bits // 8)
        digital = int((n_out * (n_ag + 1)).sum()) + (int(n_in.sum()) if self.bias else 0)
        c.digital_adds = digital * n_vectors
        c.index_lookups = self.index_lookups * n_vectors
        c.input_register_bytes = int(n_in.sum()) * in_bytes * n_vectors
        c.output_register_bytes = (int(n_out.sum()) * accumulator_bytes(cfg, self.in_index.shape[1])
                                   * n_vectors)
        return c


def accumulator_bytes(cfg: Config, lines: int) -> int:
    """Bytes of one output register entry: input x weight bits plus the carry of ``lines`` sums."""
    bits = cfg.precision.input_bits + cfg.precision.weight_bits + math.ceil(
        math.log2(max(2, lines)))
    return -(-bits // 8)


def check_layout(layout: LayerLayout, cfg: Config) -> None:
    """Raise LayoutError when the layout's cells do not have the chip's columns per weight."""
    pcw = cfg.columns_per_weight
    if layout.cells.ndim != 4 or layout.cells.shape[3] != pcw:
        raise LayoutError(f"layer '{layout.spec.name}': cells have {layout.cells.shape[-1]} "
                          f"physical columns per weight, the chip needs {pcw} "
                          f"(weight_bits/cell.bits/signed_scheme differ from the mapping)")


def read_plan(layout: LayerLayout, cfg: Config, *, transposed: bool = False,
              index_unit: bool = True, with_cells: bool = True) -> ReadPlan:
    """The :class:`ReadPlan` of ``layout`` on ``cfg`` for one pass (see the module docstring).

    ``index_unit=False`` routes with the naive tables of a datapath without index unit
    (:func:`rram_sim.schemes.unit_tables`); ``with_cells=False`` leaves the cell values out."""
    check_layout(layout, cfg)
    rows, cols = unit_tables(layout, index_unit)
    p_n = layout.cells.shape[3]
    live = (rows >= 0).any(1) & (cols >= 0).any(1)
    rows, cols = rows[live], cols[live]
    cells = layout.cells[live] if with_cells else None
    xbar = layout.crossbar.astype(np.int64)[live]
    k, n = layout.spec.matrix_shape
    s_n = n_slices(cfg.precision.weight_bits, cfg.cell.bits)
    pv = slice_weights(cfg.cell.bits, s_n).astype(np.float64)
    diff = cfg.crossbar.signed_scheme == "differential"
    spv = np.concatenate([pv, -pv]) if diff else pv
    bias = 0 if diff else 1 << (cfg.precision.weight_bits - 1)
    lookups = index_lookups_per_vector(layout, index_unit)
    if not transposed:
        gl = min(cfg.ou.rows, layout.unit_rows)
        # OU column groups holding at least one used physical column
        used_phys = np.repeat(cols >= 0, p_n, axis=1)
        pad = (-used_phys.shape[1]) % cfg.ou.cols
        used_phys = np.pad(used_phys, ((0, 0), (0, pad)))
        n_grp = used_phys.shape[1] // cfg.ou.cols
        ou_pg = used_phys.reshape(len(rows), n_grp, cfg.ou.cols).any(2).sum(1).astype(np.int64)
        conv = p_n // 2 if cfg.crossbar.analog_subtraction else p_n
        return ReadPlan(False, rows, cols, xbar, cells, p_n, gl, 1, ou_pg, ou_pg,
                        adc_model(cfg, gl), spv, bias, k, n, lookups, conv)
    gl = min(layout.unit_cols, max(1, cfg.ou.cols // p_n))
    row_groups = _groups_used(rows >= 0, cfg.ou.rows)   # OU row groups sensed per read
    cells_t = cells.transpose(0, 2, 1, 3) if cells is not None else None
    return ReadPlan(True, cols, rows, xbar, cells_t, p_n, gl, p_n, p_n * row_groups, row_groups,
                    adc_model(cfg, gl), spv, bias, n, k, lookups)


def _groups_used(used: np.ndarray, size: int) -> np.ndarray:
    """int64 [U]: groups of ``size`` consecutive lines holding at least one used line."""
    u_n, n = used.shape
    if u_n == 0:
        return np.zeros(0, dtype=np.int64)
    pad = (-n) % size
    used = np.pad(used, ((0, 0), (0, pad)))
    return used.reshape(u_n, -1, size).any(2).sum(1).astype(np.int64)
