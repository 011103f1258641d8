"""The values a mapped layer computes, read by read, and the counts of the reads actually made.

A **forward** read applies one input chunk (``dac.bits`` bits of every input, two's complement,
least significant chunk first; the most significant chunk is sign-extended and signed) to the rows
of one OU row group of one unit; every active physical column sums ``chunk x level`` over those
rows; the ADC (:mod:`rram_sim.adc`) converts each sum; shift-and-add weighs each code by its
chunk's place value ``2**(dac.bits*j)`` (negative value for the signed top chunk) and its slice's
place value ``2**(cell.bits*p)``; row groups and units are summed digitally; the ``offset`` scheme
subtracts ``2**(weight_bits-1)`` times the sum of the unit's inputs; ``differential`` subtracts the
negative slices (negative place values); the index unit scatters each logical column into its
output. With an exact ADC the result is exactly ``xq @ unmap(layout)``.

A **transposed** read (error back-propagation) drives the chunks of the errors on the physical
columns of *one slice position* of one OU column group and senses the row sums: slices have
different place values, so driving them together would add them with equal weight. Each slice is
a separate read; the row sums go through the same ADC and shift-and-add.

Which reads happen is the :class:`~rram_sim.crossbar.readplan.ReadPlan`'s business; three paths
compute the same values from it:

- **Exact ADC** (lossless, or full-scale with step 1 and no clipping possible): a conversion
  returns its sum, so the reads add up to ``q @ W_eff`` with ``W_eff`` the integer weight the
  datapath applies from each input to each output (slices, place values, offset correction and
  index tables folded in, :func:`~rram_sim.crossbar.numba_kernels.effective_weights`). The values
  come from that one GEMM, in float32 when ``max|q| x max_n sum_k |W_eff[k, n]| < 2**24``, else in
  float64 when it is below ``2**53`` (every partial sum is then an exactly representable integer,
  in any summation order).
- **Lossy ADC** (conversion tables up to ``ADC_TABLE_MAX``): every read's line sums are exact
  integers computed from bit planes (:func:`~rram_sim.crossbar.numba_kernels.bitplane_reads`, one
  Numba pass per batch chunk), each converted by a lookup into a table made by
  :meth:`AdcModel.convert` and shift-added in the same order as the GEMM path, so the results are
  bit-identical to it.
- **Otherwise** (an exact ADC beyond ``2**53``, or an ADC table too large): a Numba gather of each
  unit's input chunks, one float32 BLAS GEMM per (batch chunk, input chunk) over all units at once
  (every partial sum is an integer below ``2**24``, so float32 is exact), then a Numba pass doing
  ADC, shift-and-add and scatter. Units with identical input tables (the row blocks of a dense
  layout) share one gather and one wide GEMM. With an exact ADC the row groups of a unit are summed
  inside the GEMM (the sum of exact conversions is the conversion of the sum); the counts still
  count one read per row group.

Counts are the plan's closed form (:meth:`ReadPlan.counts`), except with ``skip_zero_inputs`` (a
read whose input chunk is zero on all its rows is skipped: the reads actually made are tallied)
and ``adc_clipped``, which depend on the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.crossbar.numba_kernels import (
    adc_accumulate,
    bitplane_reads,
    effective_weights,
    gather,
    input_sums,
    pack_levels,
    scatter,
)
from rram_sim.crossbar.readplan import ReadPlan, read_plan
from rram_sim.errors import ConfigError, MappingError
from rram_sim.layout import LayerLayout

FLOAT32_EXACT = 1 << 24      # integers below this are exact in float32
FLOAT64_EXACT = 1 << 53      # integers below this are exact in float64
ADC_TABLE_MAX = 1 << 20      # largest read sum for which the ADC is a lookup table (16 MB)
CHUNK_FLOATS = 1 << 25       # elements of the GEMM output per batch chunk (128 MB of float32)


@dataclass
class Groups:
    idx: np.ndarray       # int64 [Ug, I_pad] input table of each unit group
    unit_of: np.ndarray   # int64 [Ug, m] units of each group (-1 = empty slot)
    ug_of: np.ndarray     # int64 [U]
    weights: np.ndarray   # float32 [Ug, Gc, Rc, m*O*P]
    gact: np.ndarray      # uint8 [Ug, Gp] group has used input lines
    active_lines: np.ndarray  # int64 [Ug, Gp]
    fused: bool
    n_gc: int
    rc: int
    n_gp: int


def groups(plan: ReadPlan, cfg: Config, with_weights: bool = True) -> Groups:
    u_n, i_n, o_n, p_n = plan.cells_o.shape
    gl = plan.group_lines
    i_pad = -(-i_n // gl) * gl
    idx = np.pad(plan.in_index, ((0, 0), (0, i_pad - i_n)), constant_values=-1)
    cells = np.pad(plan.cells_o, ((0, 0), (0, i_pad - i_n), (0, 0), (0, 0)))
    if u_n:
        uniq, inv = np.unique(idx, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        sizes = np.bincount(inv)
        m = int(sizes.max())
        if len(uniq) * m > 2 * u_n:   # too ragged to pad: one unit per group
            uniq, inv, m = idx, np.arange(u_n), 1
    else:
        uniq, inv, m = idx[:0], np.zeros(0, dtype=np.int64), 1
    n_ug = len(uniq)
    order = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[order], np.arange(n_ug))
    slot = np.empty(u_n, dtype=np.int64)
    slot[order] = np.arange(u_n) - starts[inv[order]]
    unit_of = np.full((n_ug, m), -1, dtype=np.int64)
    unit_of[inv, slot] = np.arange(u_n)
    max_chunk = (1 << cfg.dac.bits) - 1
    max_level = (1 << cfg.cell.bits) - 1
    fused = plan.adc.exact and i_pad * max_chunk * max_level < FLOAT32_EXACT
    if not fused and gl * max_chunk * max_level >= FLOAT32_EXACT:
        raise ConfigError(f"ou.cols={cfg.ou.cols}: a transposed read drives {gl} columns; its "
                          f"largest row sum must stay below 2**24 (exact in float32)")
    rc = i_pad if fused else gl
    n_gc = i_pad // rc
    n_gp = i_pad // gl
    if with_weights:
        w5 = np.zeros((n_ug, m, i_pad, o_n * p_n), dtype=np.float32)
        w5[inv, slot] = cells.reshape(u_n, i_pad, o_n * p_n)
        weights = np.ascontiguousarray(
            w5.reshape(n_ug, m, n_gc, rc, o_n * p_n).transpose(0, 2, 3, 1, 4)
        ).reshape(n_ug, n_gc, rc, m * o_n * p_n)
    else:   # values come from elsewhere (the exact path): only the read structure is needed
        weights = np.zeros((n_ug, n_gc, rc, 0), dtype=np.float32)
    lines = (uniq >= 0).reshape(n_ug, n_gp, gl)
    active_lines = lines.sum(2).astype(np.int64)
    return Groups(np.ascontiguousarray(uniq, dtype=np.int64), unit_of, inv.astype(np.int64),
                   weights, (active_lines > 0).astype(np.uint8), active_lines, fused, n_gc, rc,
                   n_gp)


def check_inputs(q: np.ndarray, length: int, cfg: Config, what: str, name: str) -> np.ndarray:
    q = np.asarray(q)
    if q.ndim != 2 or q.shape[1] != length:
        raise MappingError(f"layer '{name}': {what} must have shape [B, {length}], "
                           f"got {list(q.shape)}")
    if q.dtype.kind not in "iu":
        raise MappingError(f"layer '{name}': {what} must be integers (quantized), got {q.dtype}")
    q = np.ascontiguousarray(q, dtype=np.int64)
    ib = cfg.precision.input_bits
    if q.size and (q.min() < -(1 << (ib - 1)) or q.max() > (1 << (ib - 1)) - 1):
        raise MappingError(f"layer '{name}': {what} must fit {ib}-bit two's complement "
                           f"(precision.input_bits)")
    return q


def exact_values(plan: ReadPlan, q: np.ndarray) -> np.ndarray | None:
    """Values of a plan whose ADC is exact, as one GEMM ``q @ W`` (``W`` from
    :func:`effective_weights`), or None when float64 cannot hold every partial sum exactly.

    Exactness: every partial sum of the GEMM, in any summation order, is an integer of magnitude
    at most ``max|q| x max_n sum_k |W[k, n]|``; below 2**24 float32 holds it exactly, below 2**53
    float64 does. The result then equals the exact integer product, which is what the per-read
    path computes (the sum of exact conversions is the conversion of the sum)."""
    w = np.zeros((plan.n_in, plan.n_out), dtype=np.float64)
    effective_weights(plan.cells_o, plan.in_index, plan.out_index, plan.spv, float(plan.bias), w)
    wi = w.astype(np.int64)
    assert np.array_equal(wi, w), "effective weights must be integers"
    bound = int(np.abs(q).max(initial=0)) * int(np.abs(wi).sum(0).max(initial=0))
    if bound >= FLOAT64_EXACT:
        return None
    dt = np.float32 if bound < FLOAT32_EXACT else np.float64
    w = w.astype(dt)
    out = np.empty((q.shape[0], plan.n_out), dtype=np.float64)
    bc = max(1, CHUNK_FLOATS // 4 // max(plan.n_in + plan.n_out, 1))   # bounded temporaries
    for b0 in range(0, q.shape[0], bc):
        out[b0:b0 + bc] = q[b0:b0 + bc].astype(dt) @ w
    return out


def _run(plan: ReadPlan, cfg: Config, q: np.ndarray,
         skip: bool) -> tuple[np.ndarray, Counts, int]:
    bsz = q.shape[0]
    out = np.zeros((bsz, plan.n_out), dtype=np.float64)
    u_n, _, o_n, p_n = plan.cells_o.shape
    if u_n == 0 or bsz == 0:
        return out, plan.counts(cfg, bsz), 0
    counts = plan.counts(cfg, bsz)
    exact = exact_values(plan, q) if plan.adc.exact else None
    if exact is not None and not skip:
        return exact, counts, 0      # the counts are closed-form, the values one GEMM
    adc = plan.adc
    bits = exact is None and not adc.exact and adc.max_sum <= ADC_TABLE_MAX
    grp = groups(plan, cfg, with_weights=exact is None and not bits)
    n_ug, m = grp.unit_of.shape
    if bits:
        return _run_bitplanes(plan, cfg, q, skip, grp, counts)
    width = m * o_n * p_n if exact is None else 0
    per_b = n_ug * grp.n_gc * (width + grp.rc)
    bc = int(max(1, min(bsz, CHUNK_FLOATS // max(per_b, 1))))
    t, db = cfg.input_cycles, cfg.dac.bits
    out_used = (plan.out_index >= 0).astype(np.uint8)
    clipped = np.zeros(bc, dtype=np.int64)
    tally = _SkipTally(plan, grp) if skip else None
    for b0 in range(0, bsz, bc):
        nb_ = min(bc, bsz - b0)
        xg = np.empty((n_ug, grp.n_gc, nb_, grp.rc), dtype=np.float32)
        nz = np.empty((n_ug, grp.n_gp, nb_), dtype=np.uint8)
        s_arr = np.empty((n_ug, grp.n_gc, nb_, width), dtype=np.float32)
        acc = np.zeros((nb_, u_n, o_n), dtype=np.float64)
        insum = np.zeros((nb_, n_ug), dtype=np.float64)
        if plan.bias and exact is None:
            input_sums(q, b0, nb_, grp.idx, insum)
        for j in range(t):
            gather(q, b0, grp.idx, j, db, t, plan.group_lines, xg, nz)
            if exact is None:
                np.matmul(xg, grp.weights, out=s_arr)
                signed = j == t - 1
                cpv = float(1 << (j * db))  # the top chunk's sign is in its (signed) value
                lo = adc.lo_signed if signed else adc.lo_unsigned
                adc_accumulate(s_arr, grp.unit_of, out_used, nz, grp.gact, skip, grp.fused, cpv,
                                plan.spv, adc.exact, lo, adc.step, adc.max_code, acc, clipped)
            if tally is not None:
                tally.add(nz)
        if exact is None:
            scatter(acc, insum, grp.ug_of, float(plan.bias), plan.out_index, b0, out)
    if tally is not None:
        _skip_counts(counts, plan, grp, tally.reads, tally.xb_reads)
    return (out if exact is None else exact), counts, int(clipped.sum())


class _SkipTally:
    """The reads actually made with ``skip_zero_inputs``, from each chunk's nonzero flags."""

    def __init__(self, plan: ReadPlan, grp: Groups) -> None:
        self.grp = grp
        self.reads = np.zeros((len(grp.idx), grp.n_gp), dtype=np.int64)
        self.xb_reads = 0
        xb_ids, xb_of = np.unique(plan.crossbar, return_inverse=True)
        self.onehot = np.zeros((len(plan.crossbar), len(xb_ids)), dtype=np.float32)
        self.onehot[np.arange(len(plan.crossbar)), xb_of.reshape(-1)] = 1.0

    def add(self, nz: np.ndarray) -> None:
        live = nz * self.grp.gact[:, :, None]
        self.reads += live.sum(2, dtype=np.int64)
        unit_read = live.any(1).T[:, self.grp.ug_of].astype(np.float32)   # [b, U]
        self.xb_reads += int(((unit_read @ self.onehot) > 0).sum())


def _run_bitplanes(plan: ReadPlan, cfg: Config, q: np.ndarray, skip: bool, grp: Groups,
                   counts: Counts) -> tuple[np.ndarray, Counts, int]:
    """A lossy ADC: every read's line sums from bit planes (:func:`bitplane_reads`), converted by
    table lookup, shift-added, scattered. No float GEMM: an exact integer sum costs
    ``dac.bits x cell.bits x ceil(lines/64)`` POPCNTs instead of ``lines`` multiply-adds."""
    bsz = q.shape[0]
    u_n, i_n, o_n, p_n = plan.cells_o.shape
    gl = plan.group_lines
    nw = -(-gl // 64)
    planes = np.zeros((u_n, grp.n_gp, cfg.cell.bits, nw, o_n * p_n), dtype=np.uint64)
    pack_levels(plan.cells_o, gl, planes)
    values, tclip = plan.adc.lookup()
    # slice place value x reconstruction: the same float64 product the per-sum path computes
    table = np.ascontiguousarray(values[:, None, :] * plan.spv[None, :, None])
    # sums a read can produce: [0, M] unsigned; [-2**(db-1) x G, (2**(db-1)-1) x G] for the signed
    # chunk (G = lines x largest level); if none of them clips, clip counting is skipped
    m_sum, g_sum = plan.adc.max_sum, gl * ((1 << cfg.cell.bits) - 1)
    half = 1 << (cfg.dac.bits - 1)
    count_clips = bool(tclip[0, m_sum:2 * m_sum + 1].any()
                       or tclip[1, m_sum - half * g_sum:m_sum + (half - 1) * g_sum + 1].any())
    out_used = (plan.out_index >= 0).astype(np.uint8)
    bc = int(max(1, min(bsz, CHUNK_FLOATS // 4 // max(u_n * o_n, 1))))
    clipped = np.zeros(bc, dtype=np.int64)
    out = np.zeros((bsz, plan.n_out), dtype=np.float64)
    t, db = cfg.input_cycles, cfg.dac.bits
    for b0 in range(0, bsz, bc):
        nb_ = min(bc, bsz - b0)
        acc = np.zeros((nb_, u_n, o_n), dtype=np.float64)
        insum = np.zeros((nb_, len(grp.idx)), dtype=np.float64)
        if plan.bias:
            input_sums(q, b0, nb_, grp.idx, insum)
        bitplane_reads(q, b0, grp.idx, grp.unit_of, out_used, grp.gact, skip, planes, t, db, gl,
                        table, tclip, plan.adc.max_sum, count_clips, acc, clipped)
        scatter(acc, insum, grp.ug_of, float(plan.bias), plan.out_index, b0, out)
    if skip:
        tally = _SkipTally(plan, grp)
        xg = np.empty((len(grp.idx), grp.n_gp, bc, gl), dtype=np.float32)
        nz = np.empty((len(grp.idx), grp.n_gp, bc), dtype=np.uint8)
        for b0 in range(0, bsz, bc):
            nb_ = min(bc, bsz - b0)
            for j in range(t):
                gather(q, b0, grp.idx, j, db, t, gl, xg[:, :, :nb_], nz[:, :, :nb_])
                tally.add(nz[:, :, :nb_])
        _skip_counts(counts, plan, grp, tally.reads, tally.xb_reads)
    return out, counts, int(clipped.sum())


def _skip_counts(counts: Counts, plan: ReadPlan, grp: Groups, reads: np.ndarray,
                 xb_reads: int) -> None:
    """Replace the read-dependent counts by those of the reads actually made."""
    rp = plan.reads_per_group
    n_out = (plan.out_index >= 0).sum(1).astype(np.int64)
    out_per_ug = np.bincount(grp.ug_of, weights=n_out, minlength=len(grp.idx)).astype(np.int64)
    ou_per_ug = np.bincount(grp.ug_of, weights=plan.ou_per_group,
                            minlength=len(grp.idx)).astype(np.int64)
    # every OU activation of a read drives the lines it spans
    drives_per_ug = np.bincount(grp.ug_of, weights=plan.activations_per_line,
                                minlength=len(grp.idx)).astype(np.int64)
    group_reads = reads.sum(1)
    counts.crossbar_activations = xb_reads * rp
    counts.ou_activations = int((group_reads * ou_per_ug).sum())
    counts.dac_drives = int((reads * grp.active_lines * drives_per_ug[:, None]).sum()) * rp
    conv = int((group_reads * out_per_ug).sum()) * plan.conversions_per_line
    counts.sample_holds = counts.adc_conversions = counts.shift_adds = conv


def execute(layout: LayerLayout, cfg: Config, q: np.ndarray, index_unit: bool, transposed: bool,
             skip: bool) -> tuple[np.ndarray, Counts]:
    """Values (integer domain, float64) and counts of ``q`` through one pass of ``layout``."""
    plan = read_plan(layout, cfg, transposed=transposed, index_unit=index_unit)
    values, counts, clipped = _run(plan, cfg, q, skip)
    counts.adc_clipped = clipped
    return values, counts
