"""The weight update: stored weights moved by an integer delta, cells rewritten, write pulses
counted from each cell's actual level change, and scheduled on the PE's write drivers.

Pulses per level change (:func:`pv_pulses`):

- ``single_pulse`` (open loop): ``|level change| x cell.pulses_per_level`` identical pulses, the
  identical-pulse scheme of NeuroSim (MLP_NeuroSim_V3.0, ``Cell.cpp``, ``RealDevice::Write``:
  ``numPulse`` = the level change, write latency ``numPulse x writePulseWidth``);
- ``write_verify`` (program and verify): the same pulses, each followed by a verify read, then
  corrective pulse + verify iterations while the cell is more than half a level from its target.
  The landing error after ``n`` pulses is Gaussian with sigma = ``CTOC_SIGMA_OF_RANGE`` x range x
  sqrt(n), NeuroSim's cycle-to-cycle variation (``Cell.cpp``: ``sigmaCtoC = 0.005 x (Gmax -
  Gmin)``, added as ``sigmaCtoC x sqrt(numPulse)``); a miss has probability
  ``q(n) = erfc(h / (sigma_n sqrt 2))`` with ``h`` half the level spacing ``range / (2**bits - 1)``,
  and each corrective pulse lands with ``q(1)``, so a change needing ``n`` pulses takes
  ``n + q(n) / (1 - q(1))`` iterations on average. For 2-bit cells the correction is nil
  (h = 16.7 % of the range against sigma 0.5 %); for 4-bit cells a 15-level jump adds 0.085.

Write drivers (:func:`write_schedule`): each PE has ``drivers`` write drivers (default
:func:`drivers_per_pe`: ``pe.write_drivers``, 0 meaning ``crossbar.cols``, one crossbar row at a
time; the engine's update and programming timing use the same count), each driving one cell per
pulse slot. A PE writes its crossbars' rows one after another, a row's written cells in batches of
``drivers`` (in column order), each batch for as many pulse slots as its slowest cells need
(:func:`batch_slots`: under ``write_verify`` the expected largest corrective run among them). So
at most ``drivers`` cells of a PE are pulsed at once and the PE's write power never exceeds its
driver budget ``drivers x cell.write_energy_pj / cell.write_latency_ns``.
Units are assumed packed ``pe.crossbars`` to a PE in order (the mapping's packing order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.crossbar.numba_kernels import update_cells
from rram_sim.crossbar.readplan import check_layout
from rram_sim.errors import MappingError
from rram_sim.layout import LayerLayout
from rram_sim.quant import qmax

# NeuroSim's cycle-to-cycle write variation, as a fraction of the conductance range per pulse
# (MLP_NeuroSim_V3.0, Cell.cpp, RealDevice: sigmaCtoC = 0.005 * (maxConductance - minConductance))
CTOC_SIGMA_OF_RANGE = 0.005


def _miss(pulses: float, cfg: Config) -> float:
    """Probability that a cell is more than half a level off its target after ``pulses`` pulses
    (``q(n)``, module docstring)."""
    h = 0.5 / (2 ** cfg.cell.bits - 1)        # half a level, as a fraction of the range
    return math.erfc(h / (CTOC_SIGMA_OF_RANGE * math.sqrt(pulses) * math.sqrt(2)))


def pv_pulses(level_change: np.ndarray, cfg: Config) -> np.ndarray:
    """Expected write pulses (float) to move a cell by ``level_change`` levels (any integer
    array), under ``training.write_scheme`` (module docstring); 0 for no change."""
    d = np.abs(np.asarray(level_change, dtype=np.int64))
    n = d * cfg.cell.pulses_per_level
    if cfg.training.write_scheme != "write_verify":
        return n.astype(np.float64)
    q1 = _miss(1.0, cfg)
    # one value per distinct level change (at most 2**cell.bits of them), not per cell
    values, where = np.unique(n, return_inverse=True)
    extra = np.array([_miss(float(v), cfg) / (1.0 - q1) if v > 0 else 0.0 for v in values])
    return n + extra[where].reshape(n.shape)


def _expected_max_extra(n: int, cells: int, cfg: Config) -> float:
    """Expected largest number of corrective iterations among ``cells`` cells that each needed
    ``n`` pulses: ``P(K >= k) = q(n) q(1)**(k-1)`` per cell, so ``E[max] = sum over k >= 1 of
    1 - (1 - q(n) q(1)**(k-1))**cells`` (summed until a term is below 1e-12)."""
    if n <= 0 or cells <= 0:
        return 0.0
    qn, q1 = _miss(float(n), cfg), _miss(1.0, cfg)
    total, p = 0.0, qn
    for _ in range(100_000):
        term = -math.expm1(cells * math.log1p(-p)) if p < 1.0 else 1.0
        total += term
        p *= q1
        if term < 1e-12:
            break
    return total


def batch_slots(max_pulses: np.ndarray, cells_at_max: np.ndarray, cfg: Config) -> np.ndarray:
    """Expected pulse slots (float) of a batch of cells pulsed together, from its slowest cells:
    ``max_pulses`` (int, ``|level change| x cell.pulses_per_level`` of its largest change) and
    ``cells_at_max`` (how many of its cells need that many). Open loop: ``max_pulses``. Under
    ``write_verify`` plus the expected largest corrective run among those cells
    (:func:`_expected_max_extra`; with one cell that is :func:`pv_pulses`' expected correction;
    cells with smaller changes are taken to land within the batch, exact to ``q(1)``, below 3e-11
    for cells of up to 4 bits). A batch waits for its slowest cell."""
    n = np.asarray(max_pulses, dtype=np.int64)
    b = np.asarray(cells_at_max, dtype=np.int64)
    out = n.astype(np.float64)
    if cfg.training.write_scheme != "write_verify" or n.size == 0:
        return out
    # one value per distinct (pulses, cells) pair, not per batch
    pairs, where = np.unique(np.stack([n.ravel(), b.ravel()]), axis=1, return_inverse=True)
    extra = np.array([_expected_max_extra(int(v), int(c), cfg) for v, c in pairs.T])
    return out + extra[where.ravel()].reshape(n.shape)


def pulse_slots(expected_pulses: np.ndarray | float) -> np.ndarray:
    """Pulse slots (int64) a batch holds its drivers for when only the mean pulses per cell are
    known (a measured count): the next whole pulse."""
    return np.ceil(np.asarray(expected_pulses, dtype=np.float64) - 1e-9).astype(np.int64)


def drivers_per_pe(cfg: Config) -> int:
    """Write drivers of one PE: ``pe.write_drivers``, or ``crossbar.cols`` when it is 0."""
    return cfg.pe.write_drivers or cfg.crossbar.cols


@dataclass
class WriteSchedule:
    """An update's writes on the PEs' write drivers (:func:`write_schedule`)."""

    drivers: int                  # write drivers per PE (cells pulsed at once)
    slots_per_pe: np.ndarray      # float [PEs]: expected pulse slots each PE needs
    pulses_per_pe: np.ndarray     # float [PEs]: write pulses each PE applies
    max_cells_at_once: int        # the most cells any PE pulses in one slot
    slot_ns: float                # one pulse (+ its verify read under write_verify)
    pulses: float                 # all write pulses (expected, pv_pulses)
    energy_pj: float              # pulses x cell.write_energy_pj

    @property
    def time_ns(self) -> float:
        """The update's duration: the busiest PE (PEs write in parallel)."""
        return float(self.slots_per_pe.max(initial=0)) * self.slot_ns

    def pe_power_mw(self, cfg: Config) -> np.ndarray:
        """Average write power of each PE over its own write time (mW = pJ / ns)."""
        t = self.slots_per_pe * cfg.cell.write_latency_ns
        with np.errstate(divide="ignore", invalid="ignore"):
            p = self.pulses_per_pe * cfg.cell.write_energy_pj / t
        return np.where(t > 0, p, 0.0)


def driver_budget_mw(cfg: Config, drivers: int) -> float:
    """Write power of a PE whose ``drivers`` all pulse at once (mW)."""
    return drivers * cfg.cell.write_energy_pj / cfg.cell.write_latency_ns


def write_schedule(layout: LayerLayout, new_cells: np.ndarray, cfg: Config,
                   drivers: int | None = None) -> WriteSchedule:
    """Schedule rewriting ``layout.cells`` to ``new_cells`` on each PE's ``drivers`` write drivers
    (default :func:`drivers_per_pe`); each batch :func:`batch_slots` of its slowest cells."""
    n_drv = drivers_per_pe(cfg) if drivers is None else drivers
    if isinstance(n_drv, bool) or not isinstance(n_drv, int) or n_drv < 1:
        raise MappingError(f"drivers={drivers!r}: must be an integer >= 1 (write drivers per PE)")
    old = layout.cells.astype(np.int64)
    new = np.asarray(new_cells).astype(np.int64)
    if new.shape != old.shape:
        raise MappingError(f"layer '{layout.spec.name}': new_cells must have shape "
                           f"{list(old.shape)}, got {list(new.shape)}")
    n_u, n_r, n_c, n_p = old.shape
    change = (new - old).reshape(n_u, n_r, n_c * n_p)                 # a row's physical cells
    pulses = pv_pulses(change, cfg)
    base = np.abs(change) * cfg.cell.pulses_per_level                  # open-loop pulses
    # batches of `drivers` cells along each row, each as long as its slowest cells
    width = -(-(n_c * n_p) // n_drv) * n_drv
    pad = ((0, 0), (0, 0), (0, width - n_c * n_p))
    batches = np.pad(base, pad).reshape(n_u, n_r, width // n_drv, n_drv)
    slowest = batches.max(axis=3)
    at_max = (batches == slowest[..., None]).sum(axis=3)
    unit_slots = batch_slots(slowest, at_max, cfg).sum(axis=(1, 2))
    at_once = int((batches > 0).sum(axis=3).max(initial=0))
    per_pe = cfg.pe.crossbars
    n_pe = -(-n_u // per_pe)
    pe_of = np.arange(n_u) // per_pe
    slots_pe = np.bincount(pe_of, weights=unit_slots, minlength=n_pe)
    pulses_pe = np.bincount(pe_of, weights=pulses.sum(axis=(1, 2)), minlength=n_pe)
    slot_ns = cfg.cell.write_latency_ns
    if cfg.training.write_scheme == "write_verify":
        slot_ns += cfg.crossbar.read_latency_ns
    total = float(pulses.sum())
    return WriteSchedule(n_drv, slots_pe, pulses_pe, at_once, slot_ns, total,
                         total * cfg.cell.write_energy_pj)


@dataclass
class UpdateResult:
    """A weight update: the new layout, its write events, how many weights saturated, and the
    writes scheduled on each PE's write drivers (:func:`drivers_per_pe`)."""

    layout: LayerLayout
    counts: Counts
    saturated: int
    schedule: WriteSchedule


def update(layout: LayerLayout, delta_q: np.ndarray, cfg: Config,
           drivers: int | None = None) -> UpdateResult:
    """Add ``delta_q`` (int64 [K, N], integer weight units) to the stored weights.

    Each stored weight moves to ``clip(w + delta, -qmax, qmax)`` (``qmax = 2**(weight_bits-1)-1``;
    a clipped weight counts as saturated) and its cells are rewritten to that weight's encoding.
    ``cell_write_pulses`` = the sum over cells of :func:`pv_pulses` of the cell's actual level
    change (``|level change| x cell.pulses_per_level`` open loop; plus the expected corrective
    iterations under ``training.write_scheme == 'write_verify'``, where every pulse is followed by a
    verify read), rounded to an integer. Positions whose row or column holds nothing (pruned or
    compacted away) are never written. ``schedule``: :func:`write_schedule` on ``drivers`` write
    drivers per PE (default :func:`drivers_per_pe`).
    """
    k, n = layout.spec.matrix_shape
    d = np.asarray(delta_q)
    if d.shape != (k, n) or d.dtype.kind not in "iu":
        raise MappingError(f"layer '{layout.spec.name}': delta_q must be integers of shape "
                           f"[{k}, {n}], got {d.dtype} {list(d.shape)}")
    check_layout(layout, cfg)
    wb, cb = cfg.precision.weight_bits, cfg.cell.bits
    new = layout.cells.copy()  # positions never written keep their levels
    pulses = np.zeros(layout.n_units, dtype=np.int64)
    sat = np.zeros(layout.n_units, dtype=np.int64)
    update_cells(layout.cells, layout.row_index.astype(np.int64),
                  layout.col_index.astype(np.int64), np.ascontiguousarray(d, dtype=np.int64),
                  wb, cb, cfg.crossbar.signed_scheme == "differential", qmax(wb),
                  cfg.cell.pulses_per_level, new, pulses, sat)
    schedule = write_schedule(layout, new, cfg, drivers)
    verify = cfg.training.write_scheme == "write_verify"
    # open loop: exactly |level change| x pulses_per_level (the kernel's count)
    total = int(round(schedule.pulses)) if verify else int(pulses.sum())
    counts = Counts(cell_write_pulses=total, cell_verify_reads=total if verify else 0)
    return UpdateResult(replace(layout, cells=new), counts, int(sat.sum()), schedule)
