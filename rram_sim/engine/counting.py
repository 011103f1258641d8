"""The events a stage adds to its record (:class:`~rram_sim.engine.records.StageRecord`) beyond
the crossbar counts the kernels give: busy cycles of its holds, NoC flits and flit-hops,
off-chip bytes, digital ops, and the write pulses of programming and updating a layer. Pure: the
model (:mod:`rram_sim.engine.model`) books each stage's events once, for all vectors and images.
"""

from __future__ import annotations

import heapq

import numpy as np

from rram_sim.config import Config
from rram_sim.engine import timing as T
from rram_sim.engine.messages import Message
from rram_sim.engine.plan import Stage
from rram_sim.engine.records import StageRecord
from rram_sim.engine.work import Hold


def book_holds(rec: StageRecord, holds: list[Hold], times: int) -> None:
    """Busy component-cycles of a vector's holds (their ``work``: every parallel unit's share),
    ``times`` over."""
    for h in holds:
        if h.work > 0:
            rec.busy_cycles[h.busy] += h.work * times


def book_digital(rec: StageRecord, st: Stage, backward: bool, times: int) -> None:
    """Digital ops of one image of ``st`` (pooling compares or adds ``pool_k`` values per output
    forward, routes one error per value backward; activations and residual adds one per value),
    ``times`` over."""
    vals = st.values * times
    if st.op in ("maxpool", "avgpool"):
        rec.counts.pool_ops += vals * (1 if backward else st.pool_k)
        rec.counts.pool_windows += vals
    elif st.op in ("relu", "softmax"):
        rec.counts.activation_ops += vals
    elif st.op == "add":
        rec.counts.digital_adds += vals


def book_message(rec: StageRecord, m: Message, times: int) -> int:
    """A message sent ``times``: on chip its flits (once per destination router), flit-hops
    (once per link of the multicast) and NoC busy time; off chip its bytes and off-chip busy
    time. Returns the link-cycles it adds (``cycles x links``, for link utilization)."""
    if m.offchip:
        rec.busy_cycles["offchip"] += m.cycles * times
        rec.counts.offchip_bytes += m.units * times
        return 0
    rec.busy_cycles["noc"] += m.cycles * times
    rec.counts.noc_flits += m.units * m.destinations * times
    rec.counts.noc_flit_hops += m.units * len(m.links) * times
    return m.cycles * len(m.links) * times


def book_program(rec: StageRecord, st: Stage, cfg: Config) -> tuple[int, int]:
    """Programming layer ``st``'s crossbars into a reload segment: every written cell of every
    copy over the full level range (:func:`.timing.program_pulses_per_cell`, the expected pulses
    of :func:`~rram_sim.crossbar.update.pv_pulses`), with a verify read per pulse under
    ``write_verify``; timed on the busiest PE's row batches (``st.program_rows``). Returns
    (cycles, pulses)."""
    cyc = T.program_cycles(st.program_rows, cfg,
                           T.program_slots_per_batch(cfg, T.batch_cells(st.geom, cfg)))
    pulses = int(round(st.geom.written_cells * st.copies * T.program_pulses_per_cell(cfg)))
    _book_writes(rec, cyc, pulses, cfg)
    return cyc, pulses


def book_update(rec: StageRecord, st: Stage, cfg: Config,
                measured_pulses: int | None) -> tuple[int, int]:
    """The weight update of layer ``st`` after a training batch (``measured_pulses``: the
    pulses a real update of it needs, e.g. ``kernels.update``'s count; None: one level change per
    written cell, :func:`.timing.update_pulses_per_cell`). Returns (cycles, pulses)."""
    cyc = T.update_cycles(st.geom, cfg, measured_pulses)
    per_cell = T.update_pulses_per_cell(st.geom, cfg, measured_pulses)
    pulses = int(round(per_cell * st.geom.written_cells)) * st.copies
    _book_writes(rec, cyc, pulses, cfg)
    return cyc, pulses


WriteJob = tuple[str, np.ndarray, int, int]   # (layer, cycles of each PE of a copy, copies, cycles)


def update_job(st: Stage, cfg: Config, measured_pulses: int | None, cycles: int) -> WriteJob:
    """Layer ``st``'s update for :func:`write_windows` (``cycles``: its own, uncapped)."""
    slots = T.update_slots_per_batch(st.geom, cfg, measured_pulses)
    return st.name, T.write_pe_cycles(st.geom, cfg, slots), st.copies, cycles


def program_job(st: Stage, cfg: Config, cycles: int) -> WriteJob:
    """Layer ``st``'s reload programming for :func:`write_windows`."""
    slots = T.program_slots_per_batch(cfg, T.batch_cells(st.geom, cfg))
    return st.name, T.write_pe_cycles(st.geom, cfg, slots), st.copies, cycles


def write_windows(jobs: list[WriteJob], cfg: Config) -> dict[str, tuple[int, int]]:
    """When each layer writes, in cycles after a write phase (the update, or a segment's
    programming) begins, all layers together under ``training.write_power_budget_w``.

    No cap (0), or no more PEs writing than :func:`.timing.max_writing_pes` allows: every layer
    from 0 for its own cycles (all PEs in parallel). Otherwise every PE of every copy is a job of
    its own cycles (:func:`.timing.write_pe_cycles`), list-scheduled longest first (ties in layer,
    copy and PE order) on ``max_writing_pes`` slots, each starting when a slot frees (Graham's LPT
    rule, within 4/3 of the shortest schedule); a layer's window runs from its first PE's start to
    its last PE's end. Returns (start, end) per layer."""
    cap = T.max_writing_pes(cfg)
    writing = sum(int((c > 0).sum()) * k for _, c, k, _ in jobs)
    if cap == 0 or writing <= cap:
        return {name: (0, cyc) for name, _, _, cyc in jobs}
    items = sorted((-int(v), i, j, p) for i, (_, c, k, _) in enumerate(jobs)
                   for j in range(k) for p, v in enumerate(c.tolist()) if v > 0)
    free = [(0, slot) for slot in range(cap)]
    out: dict[str, tuple[int, int]] = {}
    for neg, i, _, _ in items:
        t, slot = heapq.heappop(free)
        end = t - neg
        heapq.heappush(free, (end, slot))
        lo, hi = out.get(jobs[i][0], (t, end))
        out[jobs[i][0]] = (min(lo, t), max(hi, end))
    for name, *_ in jobs:
        out.setdefault(name, (0, 0))
    return out


def _book_writes(rec: StageRecord, cycles: int, pulses: int, cfg: Config) -> None:
    rec.counts.cell_write_pulses += pulses
    if cfg.training.write_scheme == "write_verify":
        rec.counts.cell_verify_reads += pulses
    rec.busy_cycles["write"] += cycles
