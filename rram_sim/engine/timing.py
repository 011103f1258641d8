"""Step timing: closed-form cycle counts of one step of a layer, derived from the chip config.

A *step* is the work a mapped layer does for one output position (one im2col patch, one input
vector): the input vector is read from the tile's eDRAM into the PE input registers, the crossbars
are read bit-serially (``input_bits / dac.bits`` chunks), each chunk activating the crossbar's
operation units (OUs) one after another; the ADCs convert the OU's bitlines while the next read
proceeds (sample-and-hold), shift-and-add units combine the codes as they come out, and the
partial sums of the layer's row blocks cross the tile bus to the tile shift-and-add unit.

Everything here is a pure function of the config and of a :class:`LayerGeometry` (what a layout
looks like to the clock: crossbars, OU reads, row blocks, rows gathered by the index unit). The
SimPy model (:mod:`rram_sim.engine.model`) only sequences these durations, never computes one.
Durations are integer cycles of the digital clock (``chip.clock_ghz``); nanoseconds appear only
in reports.

Assumptions, stated once (docs/timing.md repeats them with the formulas):

- read and conversion overlap: a crossbar read of chunk ``k+1`` proceeds while the ADCs convert
  chunk ``k``, so a sequence of ``n`` reads takes ``n * max(t_read, t_adc) + min(t_read, t_adc)``;
- an ADC serves ``min(adc.columns_per_adc, ou.cols)`` columns of one OU read, one after another;
- the PE shift-and-add units keep pace with the ADCs (one shift-add per conversion, in its shadow);
- the index unit (compact and OU layouts) gathers ``edram_bus_bits // input_bits`` inputs per cycle,
  before the reads of that input vector; digital units (pooling, activation, adders) likewise
  process that many values per cycle per unit;
- the stages of one step are serial; different layers overlap (inter-layer pipelining).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rram_sim.config import Config
from rram_sim.crossbar.readplan import read_plan
from rram_sim.schemes import scheme_of


def ns_to_cycles(ns: float, cfg: Config) -> int:
    """Whole clock cycles covering ``ns`` nanoseconds (at least 1 for a positive duration)."""
    if ns <= 0:
        return 0
    return max(1, math.ceil(ns * cfg.chip.clock_ghz - 1e-9))


def cycles_to_ns(cycles: float, cfg: Config) -> float:
    return float(cycles) / cfg.chip.clock_ghz


def lanes(cfg: Config) -> int:
    """Values a digital unit (index unit, adder, pool, activation) handles per cycle."""
    return max(1, cfg.tile.edram_bus_bits // cfg.precision.input_bits)


def read_cycles(cfg: Config) -> int:
    """One crossbar (OU) read."""
    return ns_to_cycles(cfg.crossbar.read_latency_ns, cfg)


def adc_columns_served(cfg: Config) -> int:
    """Columns one ADC converts, one after another, per OU read."""
    return min(cfg.adc.columns_per_adc, cfg.ou.cols, cfg.crossbar.cols)


def adc_cycles(cfg: Config) -> int:
    """Conversion time of one OU read: columns served x (1 / sample rate)."""
    return ns_to_cycles(adc_columns_served(cfg) / cfg.adc.sample_rate_gsps, cfg)


def read_sequence_cycles(n_reads: int, cfg: Config) -> int:
    """``n_reads`` reads with conversion overlapped: n x max(read, adc) + min(read, adc)."""
    if n_reads <= 0:
        return 0
    tr, ta = read_cycles(cfg), adc_cycles(cfg)
    return n_reads * max(tr, ta) + min(tr, ta)


def bus_cycles(n_bits: int, cfg: Config) -> int:
    """eDRAM port / tile bus transfer of ``n_bits``."""
    return math.ceil(n_bits / cfg.tile.edram_bus_bits) if n_bits > 0 else 0


def digital_cycles(n_ops: int, units: int, cfg: Config) -> int:
    """``n_ops`` element operations on ``units`` digital units of ``lanes(cfg)`` values each."""
    return math.ceil(n_ops / (units * lanes(cfg))) if n_ops > 0 else 0


def flits(n_bits: int, cfg: Config) -> int:
    return math.ceil(n_bits / cfg.noc.flit_bits) if n_bits > 0 else 0


def offchip_cycles(n_bits: int, cfg: Config) -> int:
    """One chip-to-chip link moving ``n_bits`` (GB/s / GHz = bytes per cycle)."""
    if n_bits <= 0:
        return 0
    bytes_per_cycle = cfg.chip.offchip_link_gbps / cfg.chip.clock_ghz
    return max(1, math.ceil(n_bits / 8 / bytes_per_cycle))


@dataclass(frozen=True)
class LayerGeometry:
    """What a mapped layer looks like to the clock.

    ``reads_per_chunk``: OU reads one crossbar performs per input chunk in a forward pass (its OUs
    in sequence; the slowest crossbar of the layer, since the crossbars work in parallel);
    ``reads_per_chunk_t``: the same in a transposed pass (one read per slice position);
    ``ou_reads_per_crossbar`` / ``_t``: every crossbar's OU reads per input chunk in each pass.
    All come from the layer's :class:`~rram_sim.crossbar.readplan.ReadPlan`, as the kernels'
    counts do.
    ``row_blocks``: partial sums combined per output (crossbars sharing an output column).
    ``inputs_used``: distinct input elements read per step. ``gather_rows``: rows the index unit
    gathers per step on the busiest crossbar (0 for dense layouts). ``written_cells``: cells a
    weight update writes (used weight positions x weight slices), ``rows_written``: used physical
    rows of the busiest crossbar.
    ``cells_per_crossbar``: cells holding weights on each crossbar (for wear),
    ``rows_per_crossbar``: used physical rows of each crossbar (for programming a reload).
    """

    name: str
    scheme: str
    rows_k: int
    cols_n: int
    n_crossbars: int
    reads_per_chunk: int
    reads_per_chunk_t: int
    row_blocks: int
    inputs_used: int
    gather_rows: int
    written_cells: int
    rows_written: int
    cells_per_crossbar: tuple[int, ...]
    rows_per_crossbar: tuple[int, ...] = ()
    ou_reads_per_crossbar: tuple[int, ...] = ()
    ou_reads_per_crossbar_t: tuple[int, ...] = ()


def geometry_from_layout(layout, cfg: Config) -> LayerGeometry:
    """Summarize a :class:`~rram_sim.layout.LayerLayout` (vectorized over its units)."""
    k, n = layout.spec.matrix_shape
    ri, ci = np.asarray(layout.row_index), np.asarray(layout.col_index)
    xb = np.asarray(layout.crossbar, dtype=np.int64)
    nx = max(int(layout.n_crossbars), int(xb.max()) + 1 if xb.size else 0)
    rows_used = (ri >= 0).sum(axis=1).astype(np.int64)
    cols_used = (ci >= 0).sum(axis=1).astype(np.int64)
    # The reads come from the read plan, as the kernels' counts do.
    fwd = read_plan(layout, cfg, with_cells=False).ou_reads_per_crossbar(nx)
    bwd = read_plan(layout, cfg, transposed=True, with_cells=False).ou_reads_per_crossbar(nx)
    # Row blocks: how many units feed each output column.
    cols = ci[ci >= 0]
    row_blocks = int(np.bincount(cols, minlength=n).max()) if cols.size else 0
    rows = ri[ri >= 0]
    inputs_used = int(np.unique(rows).size) if rows.size else 0
    scheme = scheme_of(layout.scheme)
    if scheme.indexed:   # the index unit gathers every used row of the busiest crossbar
        g = np.bincount(xb, weights=rows_used, minlength=nx)
        gather_rows = int(g.max()) if g.size else 0
    else:
        gather_rows = 0
    slices = cfg.slices_per_weight
    cells_unit = rows_used * cols_used * slices
    cells_xb = np.bincount(xb, weights=cells_unit, minlength=nx).astype(np.int64)
    rows_xb = scheme.rows_per_crossbar(layout, rows_used, nx, cfg)
    return LayerGeometry(
        name=layout.spec.name, scheme=layout.scheme, rows_k=int(k), cols_n=int(n),
        n_crossbars=int(nx), reads_per_chunk=int(fwd.max(initial=0)),
        reads_per_chunk_t=int(bwd.max(initial=0)),
        ou_reads_per_crossbar=tuple(int(r) for r in fwd),
        ou_reads_per_crossbar_t=tuple(int(r) for r in bwd), row_blocks=row_blocks,
        inputs_used=inputs_used, gather_rows=gather_rows, written_cells=int(cells_unit.sum()),
        rows_written=int(rows_xb.max()) if rows_xb.size else 0,
        cells_per_crossbar=tuple(int(c) for c in cells_xb),
        rows_per_crossbar=tuple(int(r) for r in rows_xb))


@dataclass(frozen=True)
class StepTiming:
    """Cycles of one step (one input vector) of a crossbar layer, by stage; ``total`` is their sum.

    ``load``: eDRAM -> input registers (holds the tile's eDRAM port); ``gather``: index unit;
    ``crossbar``: the bit-serial OU reads with overlapped conversion; ``bus``: partial sums over the
    tile bus; ``reduce``: tile shift-and-add of the row blocks.
    """

    load: int
    gather: int
    crossbar: int
    bus: int
    reduce: int

    @property
    def total(self) -> int:
        return self.load + self.gather + self.crossbar + self.bus + self.reduce


def forward_step(geom: LayerGeometry, cfg: Config) -> StepTiming:
    """One forward MVM of one input vector."""
    bits = cfg.precision.input_bits
    n_reads = cfg.input_cycles * geom.reads_per_chunk
    gather = math.ceil(geom.gather_rows / lanes(cfg)) if geom.gather_rows else 0
    reduce_ops = max(0, geom.row_blocks - 1) * geom.cols_n
    return StepTiming(
        load=bus_cycles(geom.inputs_used * bits, cfg),
        gather=gather,
        crossbar=read_sequence_cycles(n_reads, cfg),
        bus=bus_cycles(geom.row_blocks * geom.cols_n * bits, cfg),
        reduce=digital_cycles(reduce_ops, cfg.tile.shift_add_units, cfg))


def transposed_step(geom: LayerGeometry, cfg: Config) -> StepTiming:
    """One transposed MVM (error back-propagation): the N output errors drive the columns and the
    rows are converted. The OU reads are the transposed read plan's (each OU column group read
    once per slice position); the conversion rule is the forward read's (the ADCs are assumed to
    be switchable to the wordlines, PipeLayer-style); the reduction runs over the column blocks
    that share an input row."""
    bits = cfg.precision.input_bits
    n_reads = cfg.input_cycles * geom.reads_per_chunk_t
    col_blocks = max(1, math.ceil(geom.n_crossbars / max(1, geom.row_blocks)))
    return StepTiming(
        load=bus_cycles(geom.cols_n * bits, cfg),
        gather=math.ceil(geom.gather_rows / lanes(cfg)) if geom.gather_rows else 0,
        crossbar=read_sequence_cycles(n_reads, cfg),
        bus=bus_cycles(col_blocks * geom.inputs_used * bits, cfg),
        reduce=digital_cycles(max(0, col_blocks - 1) * geom.inputs_used,
                              cfg.tile.shift_add_units, cfg))


def gradient_cycles(geom: LayerGeometry, positions: int, n_tiles: int, cfg: Config) -> int:
    """Weight gradient of ``positions`` output positions (outer products input x error).

    ``digital``: K x N multiply-accumulates per position on the tile shift-and-add units of the
    layer's tiles; ``crossbar``: one read sequence per position on the layer's crossbars (the
    errors are written as a temporary operand, PipeLayer-style; that write is not timed)."""
    if positions <= 0:
        return 0
    if cfg.training.gradient_unit == "crossbar":
        return positions * read_sequence_cycles(cfg.input_cycles * geom.reads_per_chunk, cfg)
    macs = geom.inputs_used * geom.cols_n * positions
    return digital_cycles(macs, cfg.tile.shift_add_units * max(1, n_tiles), cfg)


def update_pulses_per_cell(geom: LayerGeometry, cfg: Config,
                           measured_pulses: int | None = None) -> float:
    """Mean write pulses per written cell of one update.

    Without a measurement: an expected |level change| of 1 per written weight slice, i.e.
    ``cell.pulses_per_level`` pulses per written cell (an assumption; real gradients give fewer on
    most cells and more on some). With ``measured_pulses`` (the caller's count for the layer): that
    total spread over the written cells."""
    if geom.written_cells == 0:
        return 0.0
    if measured_pulses is None:
        return float(cfg.cell.pulses_per_level)
    return measured_pulses / geom.written_cells


def update_cycles(geom: LayerGeometry, cfg: Config, measured_pulses: int | None = None) -> int:
    """Weight update of one layer: crossbars in parallel, rows one after another, the cells of a
    row in parallel; each row takes ``ceil(pulses per cell)`` pulses of ``write_latency``, each
    followed by a verify read under ``write_verify``."""
    p = math.ceil(update_pulses_per_cell(geom, cfg, measured_pulses) - 1e-9)
    if p <= 0 or geom.rows_written == 0:
        return 0
    return geom.rows_written * p * write_pulse_cycles(cfg)


def write_pulse_cycles(cfg: Config) -> int:
    """One write pulse on a row of cells, plus its verify read under ``write_verify``."""
    per_pulse = ns_to_cycles(cfg.cell.write_latency_ns, cfg)
    if cfg.training.write_scheme == "write_verify":
        per_pulse += read_cycles(cfg)
    return per_pulse


def program_pulses_per_cell(cfg: Config) -> int:
    """Write pulses that program one cell from whatever the previous segment left in it to its
    new level: the full range, ``(2**cell.bits - 1) x pulses_per_level`` (an upper bound; a row's
    cells are written in parallel, so the row takes this many pulse slots)."""
    return (2 ** cfg.cell.bits - 1) * cfg.cell.pulses_per_level


def program_cycles(rows_on_busiest_pe: int, cfg: Config) -> int:
    """Programming a layer's crossbars for a reload: every PE has one set of write drivers, so a
    PE programs its crossbars one after another, row by row (the cells of a row in parallel), and
    all PEs work in parallel; the busiest PE, with ``rows_on_busiest_pe`` used rows over its
    crossbars, sets the time."""
    if rows_on_busiest_pe <= 0:
        return 0
    return rows_on_busiest_pe * program_pulses_per_cell(cfg) * write_pulse_cycles(cfg)
