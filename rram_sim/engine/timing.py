"""Vector timing: closed-form cycle counts of what one input vector does in each pipeline phase of
a layer, derived from the chip config and the layer's read plan.

A crossbar layer's *vector* (one output position: one im2col patch, one MVM) moves through these
phases, each held on a component of its own (:class:`Phase`; the model keeps each component's
occupancy, so successive vectors overlap as in ISAAC's pipeline and the slowest phase sets the
initiation interval):

1. ``edram``: the input vector is read from the tile's eDRAM (``edram_bus_bits`` per access, an
   access per cycle, or per ``tile.edram_access_ns`` when that is set);
2. ``bus``: it crosses the tile bus into the PEs' input registers;
3. ``index`` (indexed layouts): each crossbar's index unit gathers its used rows
   (``pe.index_lookups_per_cycle`` per cycle; the busiest crossbar's unit sets the time);
4. ``xbar``: the crossbars read bit-serially, ``input_bits / dac.bits`` chunks, each chunk one OU
   read after another on every crossbar (DAC, array, sample-and-hold: ``t_read`` per read); the
   crossbars of a layer read in parallel, the busiest one sets the time;
5. ``adc``: the ADC bank converts each read's columns (``t_adc`` per OU read) while the next read
   proceeds (sample-and-hold): it streams behind the reads, beginning one read after them and
   ending one conversion after the last; a bank serves one crossbar or all crossbars of a PE
   (``adc.sharing``), whose conversions then queue on it;
6. ``shift_add``: the PE's shift-and-add units combine the codes as they come out (streaming behind
   the conversions, one cycle after the last);
7. ``bus``: the partial sums of the layer's row blocks cross the tile bus;
8. ``tile_add``: the tile's shift-and-add units reduce the row blocks;
9. ``edram``: the output vector is written to the tile's eDRAM, from where the NoC carries it on.

Everything here is a pure function of the config and of a :class:`LayerGeometry`. The SimPy model
(:mod:`rram_sim.engine.model`) only sequences these durations, never computes one. Durations are
integer cycles of the digital clock (``chip.clock_ghz``); nanoseconds appear only in reports.

Assumptions, stated once (docs/timing.md repeats them with the formulas):

- read and conversion overlap through sample-and-hold: ``n`` reads on a crossbar with its own ADC
  bank take ``n * max(t_read, t_adc) + min(t_read, t_adc)``;
- an ADC serves ``min(adc.columns_per_adc, ou.cols)`` columns of one OU read, one after another;
- the crossbars of a layer fill PEs in order (layer-local crossbar ``x`` on PE ``x //
  pe.crossbars``), which decides what a PE-shared ADC bank and a PE's write drivers serve;
- digital units (shift-and-add, pooling, activation, adders) handle ``edram_bus_bits //
  input_bits`` values per cycle each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rram_sim.config import Config
from rram_sim.crossbar.readplan import read_plan
from rram_sim.crossbar.update import (
    batch_slots,
    driver_budget_mw,
    drivers_per_pe,
    pulse_slots,
    pv_pulses,
)
from rram_sim.errors import ConfigError
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
    """Tile bus transfer of ``n_bits`` (``edram_bus_bits`` per cycle)."""
    return math.ceil(n_bits / cfg.tile.edram_bus_bits) if n_bits > 0 else 0


def edram_cycles(n_bits: int, cfg: Config) -> int:
    """eDRAM port holding for a read or write of ``n_bits``: ``edram_bus_bits`` per access, each
    access one cycle, or ``tile.edram_access_ns`` when that is set (e.g. MNSIM 2.0's buffer:
    20 ns per 64 bits)."""
    per_access = ns_to_cycles(cfg.tile.edram_access_ns, cfg) if cfg.tile.edram_access_ns else 1
    return bus_cycles(n_bits, cfg) * per_access


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
    ``rows_per_crossbar``: used physical rows of each crossbar (for programming a reload and the
    update). ``row_cells_per_crossbar``: physical columns the widest used row of each crossbar
    spans (the units sharing its physical rows together; what a PE's write drivers cover per row).
    ``conversions_per_crossbar`` / ``_t``: ADC conversions of each crossbar per input
    chunk in each pass (the read plan's); ``gather_rows_per_crossbar``: rows the index unit
    gathers per vector on each crossbar (all 0 for dense layouts).
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
    conversions_per_crossbar: tuple[int, ...] = ()
    conversions_per_crossbar_t: tuple[int, ...] = ()
    gather_rows_per_crossbar: tuple[int, ...] = ()
    row_cells_per_crossbar: tuple[int, ...] = ()


def geometry_from_layout(layout, cfg: Config) -> LayerGeometry:
    """Summarize a :class:`~rram_sim.layout.LayerLayout` (vectorized over its units)."""
    k, n = layout.spec.matrix_shape
    ri, ci = np.asarray(layout.row_index), np.asarray(layout.col_index)
    xb = np.asarray(layout.crossbar, dtype=np.int64)
    nx = max(int(layout.n_crossbars), int(xb.max()) + 1 if xb.size else 0)
    rows_used = (ri >= 0).sum(axis=1).astype(np.int64)
    cols_used = (ci >= 0).sum(axis=1).astype(np.int64)
    # The reads come from the read plan, as the kernels' counts do.
    plan_f = read_plan(layout, cfg, with_cells=False)
    plan_t = read_plan(layout, cfg, transposed=True, with_cells=False)
    fwd = plan_f.ou_reads_per_crossbar(nx)
    bwd = plan_t.ou_reads_per_crossbar(nx)
    conv_f = _conversions_per_crossbar(plan_f, nx)
    conv_t = _conversions_per_crossbar(plan_t, nx)
    # Row blocks: how many units feed each output column.
    cols = ci[ci >= 0]
    row_blocks = int(np.bincount(cols, minlength=n).max()) if cols.size else 0
    rows = ri[ri >= 0]
    inputs_used = int(np.unique(rows).size) if rows.size else 0
    scheme = scheme_of(layout.scheme)
    if scheme.indexed:   # the index unit gathers every used row of a crossbar
        g = np.bincount(xb, weights=rows_used, minlength=nx).astype(np.int64)
        gather_rows = int(g.max()) if g.size else 0
    else:
        g = np.zeros(nx, dtype=np.int64)
        gather_rows = 0
    slices = cfg.slices_per_weight
    cells_unit = rows_used * cols_used * slices
    cells_xb = np.bincount(xb, weights=cells_unit, minlength=nx).astype(np.int64)
    rows_xb = scheme.rows_per_crossbar(layout, rows_used, nx, cfg)
    width_xb = _row_cells_per_crossbar(layout, rows_used, cols_used, nx, cfg)
    return LayerGeometry(
        name=layout.spec.name, scheme=layout.scheme, rows_k=int(k), cols_n=int(n),
        n_crossbars=int(nx), reads_per_chunk=int(fwd.max(initial=0)),
        reads_per_chunk_t=int(bwd.max(initial=0)),
        ou_reads_per_crossbar=tuple(int(r) for r in fwd),
        ou_reads_per_crossbar_t=tuple(int(r) for r in bwd), row_blocks=row_blocks,
        inputs_used=inputs_used, gather_rows=gather_rows, written_cells=int(cells_unit.sum()),
        rows_written=int(rows_xb.max()) if rows_xb.size else 0,
        cells_per_crossbar=tuple(int(c) for c in cells_xb),
        rows_per_crossbar=tuple(int(r) for r in rows_xb),
        conversions_per_crossbar=tuple(int(c) for c in conv_f),
        conversions_per_crossbar_t=tuple(int(c) for c in conv_t),
        gather_rows_per_crossbar=tuple(int(r) for r in g),
        row_cells_per_crossbar=tuple(int(w) for w in width_xb))


def _row_cells_per_crossbar(layout, rows_used: np.ndarray, cols_used: np.ndarray,
                            n_crossbars: int, cfg: Config) -> np.ndarray:
    """int64 [n_crossbars]: physical columns of each crossbar's widest used row: the units at one
    (crossbar, row offset) share physical rows, so their used columns (x columns_per_weight) add;
    the widest such group counts."""
    out = np.zeros(n_crossbars, dtype=np.int64)
    live = (rows_used > 0) & (cols_used > 0)
    if not live.any():
        return out
    xb = np.asarray(layout.crossbar, dtype=np.int64)[live]
    offs = np.asarray(layout.row_offset, dtype=np.int64)[live]
    key = xb * (cfg.crossbar.rows + 1) + offs
    groups, where = np.unique(key, return_inverse=True)
    width = np.bincount(where, weights=cols_used[live] * cfg.columns_per_weight).astype(np.int64)
    np.maximum.at(out, groups // (cfg.crossbar.rows + 1), width)
    return out


def _conversions_per_crossbar(plan, n_crossbars: int) -> np.ndarray:
    """int64 [n_crossbars]: ADC conversions of each crossbar per input chunk (each read converts
    every used output line's physical lines, one per column pair with analog subtraction; the
    per-crossbar split of ``ReadPlan.conversions_per_chunk``)."""
    per_unit = plan.conversions_per_unit()
    return np.bincount(plan.crossbar, weights=per_unit, minlength=n_crossbars).astype(np.int64)


PHASE_UNITS = ("edram", "bus", "index", "xbar", "adc", "shift_add", "tile_add", "act", "pool",
               "grad")
# The busy kind (``records.BUSY_KINDS``) each unit's cycles count as.
BUSY_OF_UNIT = {"edram": "edram", "bus": "bus", "index": "index", "xbar": "crossbar",
                "adc": "adc", "shift_add": "digital", "tile_add": "digital", "act": "digital",
                "pool": "digital", "grad": "digital"}
# Units of a crossbar layer's own hardware (one per copy); the others belong to its home tile.
LAYER_UNITS = ("index", "xbar", "adc", "shift_add", "grad")


@dataclass(frozen=True)
class Phase:
    """What one vector does on one component.

    ``cycles``: how long it holds the unit. ``lead``: ``-1``, the phase begins when the previous
    one ends; otherwise it streams behind the previous phase, beginning ``lead`` cycles after it
    begins and ending at least ``tail`` cycles after it ends (conversion behind the reads).
    ``work``: component-cycles it adds to the unit kind's busy time (its parallel identical units
    summed, e.g. every crossbar's reads, not only the busiest one's)."""

    unit: str
    cycles: int
    lead: int = -1
    tail: int = 0
    work: int = 0


def _phase(unit: str, cycles: int, work: int | None = None, lead: int = -1,
           tail: int = 0) -> Phase:
    return Phase(unit, int(cycles), lead, tail, int(cycles if work is None else work))


def pe_totals(per_crossbar, cfg: Config, shared: bool) -> int:
    """Busiest server of ``per_crossbar`` loads: each crossbar alone (``shared`` False) or the
    crossbars of one PE together (layer-local crossbar ``x`` on PE ``x // pe.crossbars``)."""
    arr = np.asarray(per_crossbar, dtype=np.int64)
    if arr.size == 0:
        return 0
    if not shared:
        return int(arr.max())
    pe = np.arange(arr.size) // cfg.pe.crossbars
    return int(np.bincount(pe, weights=arr).max())


def gather_cycles(geom: LayerGeometry, cfg: Config) -> int:
    """Index unit (one per crossbar): rows the busiest crossbar gathers / lookups per cycle."""
    rows = max(geom.gather_rows_per_crossbar, default=0)
    return math.ceil(rows / cfg.pe.index_lookups_per_cycle) if rows > 0 else 0


def _mvm_phases(reads, conversions, in_values: int, out_partials: int, reduce_ops: int,
                out_values: int, gather: int, cfg: Config) -> list[Phase]:
    bits = cfg.precision.input_bits
    chunks = cfg.input_cycles
    tr, tc = read_cycles(cfg), adc_cycles(cfg)
    reads = tuple(reads)
    r_max = max(reads, default=0)
    bank = pe_totals(reads, cfg, cfg.adc.sharing == "pe")
    conv_pe = pe_totals(conversions, cfg, True)
    phases = [_phase("edram", edram_cycles(in_values * bits, cfg)),
              _phase("bus", bus_cycles(in_values * bits, cfg))]
    if gather:
        phases.append(_phase("index", gather))
    if r_max:
        phases += [
            _phase("xbar", chunks * r_max * tr, chunks * sum(reads) * tr),
            _phase("adc", chunks * bank * tc, chunks * sum(reads) * tc, lead=tr, tail=tc),
            _phase("shift_add", digital_cycles(chunks * conv_pe, cfg.pe.shift_add_units, cfg),
                   lead=tc, tail=1)]
    phases += [_phase("bus", bus_cycles(out_partials * bits, cfg)),
               _phase("tile_add", digital_cycles(reduce_ops, cfg.tile.shift_add_units, cfg)),
               _phase("edram", edram_cycles(out_values * bits, cfg))]
    return [p for p in phases if p.cycles > 0]


def forward_phases(geom: LayerGeometry, cfg: Config) -> list[Phase]:
    """The phases of one forward vector (one MVM) of a crossbar layer (see the module
    docstring)."""
    return _mvm_phases(geom.ou_reads_per_crossbar, geom.conversions_per_crossbar,
                       geom.inputs_used, geom.row_blocks * geom.cols_n,
                       max(0, geom.row_blocks - 1) * geom.cols_n, geom.cols_n,
                       gather_cycles(geom, cfg), cfg)


def col_blocks(geom: LayerGeometry) -> int:
    """Crossbars sharing an input row (their partial errors are reduced in a transposed read)."""
    return max(1, math.ceil(geom.n_crossbars / max(1, geom.row_blocks)))


def transposed_phases(geom: LayerGeometry, cfg: Config) -> list[Phase]:
    """One transposed MVM (error back-propagation): the N output errors drive the columns and the
    rows are converted, with the transposed read plan's OU reads and conversions (one slice
    position of an OU column group per read); the ADCs are switched to the wordlines
    (PipeLayer-style), with the forward conversion rule; the column blocks sharing an input row
    are reduced."""
    cb = col_blocks(geom)
    return _mvm_phases(geom.ou_reads_per_crossbar_t, geom.conversions_per_crossbar_t,
                       geom.cols_n, cb * geom.inputs_used, max(0, cb - 1) * geom.inputs_used,
                       geom.inputs_used, gather_cycles(geom, cfg), cfg)


def gradient_phase(geom: LayerGeometry, n_tiles: int, cfg: Config) -> Phase:
    """The weight gradient of one output position (outer product input x error), streaming
    beside the error's back-propagation.

    ``digital``: one multiply-accumulate per *stored* weight on the layer's gradient unit (the
    shift-and-add units of its tiles, ``tile.shift_add_units`` per tile; pruned weights have no
    gradient); ``crossbar``: one forward read sequence on the layer's crossbars (the errors are
    written as a temporary operand, PipeLayer-style; that write is not timed)."""
    if cfg.training.gradient_unit == "crossbar":
        cyc = read_sequence_cycles(cfg.input_cycles * geom.reads_per_chunk, cfg)
        return _phase("xbar", cyc, lead=0)
    macs = stored_weights(geom, cfg)
    return _phase("grad", digital_cycles(macs, cfg.tile.shift_add_units * max(1, n_tiles), cfg),
                  lead=0)


def backward_phases(geom: LayerGeometry, n_tiles: int, fed_by_input: bool,
                    cfg: Config) -> list[Phase]:
    """One backward step of a crossbar layer: the transposed read of its error
    (:func:`transposed_phases`; for a layer fed by the network input, which passes no error on,
    only the error's load from the eDRAM) and, streaming beside it, the weight gradient on the
    layer's ``n_tiles`` tiles (:func:`gradient_phase`)."""
    if fed_by_input:
        load = edram_cycles(geom.cols_n * cfg.precision.input_bits, cfg)
        phases = [Phase("edram", load, -1, 0, load)] if load else []
    else:
        phases = transposed_phases(geom, cfg)
    grad = gradient_phase(geom, n_tiles, cfg)
    return phases + ([grad] if grad.cycles > 0 else [])


def digital_phase(op: str, values: int, pool_k: int, backward: bool, cfg: Config) -> list[Phase]:
    """A digital stage's vector on its tile's units: pooling (``pool_k`` values per output
    forward, one routed error per value backward), activation, residual add."""
    if op in ("maxpool", "avgpool"):
        cyc = digital_cycles(values * (1 if backward else pool_k), cfg.tile.maxpool_units, cfg)
        unit = "pool"
    elif op in ("relu", "softmax"):
        cyc, unit = digital_cycles(values, cfg.tile.sigmoid_units, cfg), "act"
    elif op == "add":
        cyc, unit = digital_cycles(values, cfg.tile.shift_add_units, cfg), "tile_add"
    else:
        return []      # input: no work on chip; flatten: a change of view
    return [_phase(unit, cyc)] if cyc > 0 else []


def phases_latency(phases: list[Phase]) -> int:
    """Cycles one vector takes through ``phases`` on idle units (the pipeline's fill per stage)."""
    start = end = 0
    for p in phases:
        if p.lead < 0:
            start = end
            end = start + p.cycles
        else:
            start = start + p.lead
            end = max(start + p.cycles, end + p.tail)
    return end


def phases_interval(phases: list[Phase]) -> int:
    """Initiation interval of a stream of vectors through ``phases`` when nothing else uses their
    units: the largest total a unit holds per vector (a unit used twice, the tile bus or eDRAM,
    holds the sum)."""
    per_unit: dict[str, int] = {}
    for p in phases:
        per_unit[p.unit] = per_unit.get(p.unit, 0) + p.cycles
    return max(per_unit.values(), default=0)


def update_pulses_per_cell(geom: LayerGeometry, cfg: Config,
                           measured_pulses: int | None = None) -> float:
    """Mean write pulses per written cell of one update.

    Without a measurement: an expected |level change| of 1 per written weight slice, moved by
    :func:`~rram_sim.crossbar.update.pv_pulses` (``cell.pulses_per_level`` pulses, plus under
    ``write_verify`` the expected corrective iterations), the rule ``kernels.update`` counts with
    (the change of 1 is an assumption; real gradients give fewer on most cells and more on some).
    With ``measured_pulses`` (the caller's count for the layer, e.g. ``kernels.update``'s): that
    total spread over the written cells."""
    if geom.written_cells == 0:
        return 0.0
    if measured_pulses is None:
        return float(pv_pulses(np.array(1), cfg))
    return measured_pulses / geom.written_cells


def write_batches_per_crossbar(geom: LayerGeometry, cfg: Config) -> np.ndarray:
    """int64 [n_crossbars]: pulse-slot batches a PE's write drivers need to write each crossbar
    once: its used rows one after another, a row's cells in batches of
    :func:`~rram_sim.crossbar.update.drivers_per_pe` (in column order, as
    :func:`~rram_sim.crossbar.update.write_schedule` batches them), every row counted as wide as
    the crossbar's widest (``rows x ceil(row_cells / drivers)``). With one driver per column, one
    batch per used row."""
    rows = np.asarray(geom.rows_per_crossbar, dtype=np.int64)
    width = np.asarray(geom.row_cells_per_crossbar, dtype=np.int64)
    per_row = np.maximum(1, -(-width // drivers_per_pe(cfg)))
    return rows * per_row


def batch_cells(geom: LayerGeometry, cfg: Config) -> int:
    """Written cells in one full batch of the layer's widest row: ``min(drivers, row cells)``
    physical columns, ``slices_per_weight / columns_per_weight`` of them written (one half of a
    differential pair changes)."""
    width = max(geom.row_cells_per_crossbar, default=0)
    span = min(drivers_per_pe(cfg), width)
    return -(-span * cfg.slices_per_weight // cfg.columns_per_weight)


def _write_cycles(batches, slots_per_batch: float, cfg: Config) -> np.ndarray:
    """Cycles of ``batches`` row batches (a number or an array) at ``slots_per_batch`` pulse
    slots each, rounded up to whole cycles (int64, the shape of ``batches``)."""
    return np.ceil(np.asarray(batches, dtype=np.float64) * slots_per_batch
                   * write_pulse_cycles(cfg) - 1e-9).astype(np.int64)


def write_pe_cycles(geom: LayerGeometry, cfg: Config, slots_per_batch: float) -> np.ndarray:
    """int64 [PEs of one copy]: cycles each PE of the layer writes for, its row batches
    (:func:`write_batches_per_crossbar`, layer-local crossbar ``x`` on PE ``x // pe.crossbars``)
    x ``slots_per_batch`` x :func:`write_pulse_cycles`, rounded up."""
    batches = write_batches_per_crossbar(geom, cfg)
    if batches.size == 0:
        return np.zeros(0, dtype=np.int64)
    pe = np.arange(batches.size) // cfg.pe.crossbars
    return _write_cycles(np.bincount(pe, weights=batches), slots_per_batch, cfg)


def max_writing_pes(cfg: Config) -> int:
    """PEs that may write at once under ``training.write_power_budget_w`` (0: no cap): the
    budget over one PE's write-driver power, ``drivers x cell.write_energy_pj /
    cell.write_latency_ns`` (every driver pulsing). A budget below one PE's power is refused."""
    budget_w = cfg.training.write_power_budget_w
    if budget_w <= 0 or cfg.cell.write_energy_pj <= 0:
        return 0
    if cfg.cell.write_latency_ns <= 0:
        raise ConfigError(f"training.write_power_budget_w={budget_w}: a write power cap needs "
                          f"cell.write_latency_ns > 0 (got {cfg.cell.write_latency_ns})")
    pe_w = driver_budget_mw(cfg, drivers_per_pe(cfg)) * 1e-3
    n = math.floor(budget_w / pe_w * (1 + 1e-12))
    if n < 1:
        raise ConfigError(
            f"training.write_power_budget_w={budget_w}: below one PE's write power "
            f"({drivers_per_pe(cfg)} drivers x {cfg.cell.write_energy_pj} pJ / "
            f"{cfg.cell.write_latency_ns} ns = {pe_w:.6g} W); raise it, lower pe.write_drivers, "
            f"or use 0 for no cap")
    return n


def update_row_batches(geom: LayerGeometry, cfg: Config) -> int:
    """Row batches the busiest PE's write drivers write in an update (``pe.write_drivers`` per
    PE: its crossbars one after another, row by row, a row's cells in batches of the drivers; the
    PEs of a layer and its copies in parallel)."""
    return pe_totals(write_batches_per_crossbar(geom, cfg), cfg, True)


def update_slots_per_batch(geom: LayerGeometry, cfg: Config,
                           measured_pulses: int | None = None) -> float:
    """Expected pulse slots of one batch of an update: without a measurement, its
    :func:`batch_cells` cells each moved one level,
    :func:`~rram_sim.crossbar.update.batch_slots` (``pulses_per_level``, plus under
    ``write_verify`` the expected largest corrective run among them); with ``measured_pulses``
    only the mean per cell is known: :func:`~rram_sim.crossbar.update.pulse_slots` of it."""
    if geom.written_cells == 0:
        return 0.0
    if measured_pulses is not None:
        return float(pulse_slots(update_pulses_per_cell(geom, cfg, measured_pulses)))
    return float(batch_slots(np.array(cfg.cell.pulses_per_level), np.array(batch_cells(geom, cfg)),
                             cfg))


def update_cycles(geom: LayerGeometry, cfg: Config, measured_pulses: int | None = None) -> int:
    """Weight update of one layer, limited by the write drivers: the busiest PE's row batches
    (:func:`update_row_batches`) one after another, the cells of a batch in parallel; each batch
    takes :func:`update_slots_per_batch` slots, each one ``write_latency`` pulse followed by a
    verify read under ``write_verify``; rounded up to whole cycles."""
    slots = update_slots_per_batch(geom, cfg, measured_pulses)
    batches = update_row_batches(geom, cfg)
    if slots <= 0 or batches == 0:
        return 0
    return int(_write_cycles(batches, slots, cfg))


def write_pulse_cycles(cfg: Config) -> int:
    """One write pulse on a batch of cells, plus its verify read under ``write_verify``."""
    per_pulse = ns_to_cycles(cfg.cell.write_latency_ns, cfg)
    if cfg.training.write_scheme == "write_verify":
        per_pulse += read_cycles(cfg)
    return per_pulse


def program_pulses_per_cell(cfg: Config) -> float:
    """Expected write pulses that program one cell from whatever the previous segment left in it
    to its new level: the full range, :func:`~rram_sim.crossbar.update.pv_pulses` of
    ``2**cell.bits - 1`` levels (open loop ``(2**cell.bits - 1) x pulses_per_level``, an upper
    bound; under ``write_verify`` plus the expected corrective iterations)."""
    return float(pv_pulses(np.array(2 ** cfg.cell.bits - 1), cfg))


def program_slots_per_batch(cfg: Config, cells: int | None = None) -> float:
    """Expected pulse slots of one batch of ``cells`` cells programmed over the full range
    (:func:`~rram_sim.crossbar.update.batch_slots`; ``cells`` None: a full batch of
    ``drivers_per_pe`` cells, the most a batch holds)."""
    n = (2 ** cfg.cell.bits - 1) * cfg.cell.pulses_per_level
    b = drivers_per_pe(cfg) if cells is None else cells
    return float(batch_slots(np.array(n), np.array(b), cfg))


def stored_weights(geom: LayerGeometry, cfg: Config) -> int:
    """Weights a layer stores (used row x used column positions of its units): a pruned or
    compacted-away weight has no gradient to compute and nothing to fetch."""
    return geom.written_cells // cfg.slices_per_weight


def weight_fetch_bits(geom: LayerGeometry, cfg: Config) -> int:
    """Bits of a layer's stored weights (:func:`stored_weights`, ``weight_bits`` each) that a
    reload fetches from off-chip memory before programming them (once per layer: its copies are
    programmed from the same data)."""
    return stored_weights(geom, cfg) * cfg.precision.weight_bits


def fetch_cycles(n_bits: int, cfg: Config) -> int:
    """``n_bits`` over the chip's off-chip links, split evenly (each link its share in parallel,
    at least one link)."""
    links = max(1, cfg.chip.offchip_links)
    return offchip_cycles(-(-n_bits // links), cfg)


def program_cycles(batches_on_busiest_pe: int, cfg: Config,
                   slots_per_batch: float | None = None) -> int:
    """Programming a layer's crossbars for a reload: every PE has ``pe.write_drivers`` write
    drivers, so a PE programs its crossbars one after another, row by row, a row's cells in
    batches of its drivers (:func:`write_batches_per_crossbar`), and all PEs work in parallel; the
    busiest PE, with ``batches_on_busiest_pe`` row batches over its crossbars, sets the time, at
    ``slots_per_batch`` slots a batch (default :func:`program_slots_per_batch` of a full batch);
    rounded up to whole cycles."""
    if batches_on_busiest_pe <= 0:
        return 0
    slots = program_slots_per_batch(cfg) if slots_per_batch is None else slots_per_batch
    return int(_write_cycles(batches_on_busiest_pe, slots, cfg))
