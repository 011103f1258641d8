"""Crossbar kernels: the values a mapped layer computes and the events it takes, read by read.

A layer is stored as units (see :mod:`rram_sim.layout`). A **forward** read applies one input chunk
(``dac.bits`` bits of every input, two's complement, least significant chunk first; the most
significant chunk is sign-extended and signed) to the rows of one OU row group of one unit; every
active physical column sums ``chunk x level`` over those rows; the ADC (:mod:`rram_sim.adc`)
converts each sum; shift-and-add weighs each code by its chunk's place value ``2**(dac.bits*j)``
(negative value for the signed top chunk) and its slice's place value ``2**(cell.bits*p)``; row
groups and units are summed digitally; the ``offset`` scheme subtracts ``2**(weight_bits-1)`` times
the sum of the unit's inputs; ``differential`` subtracts the negative slices (negative place
values); the index unit scatters each logical column into its output. With an exact ADC the result
is exactly ``xq @ unmap(layout)``.

A **transposed** read (error back-propagation) drives the chunks of the errors on the physical
columns of *one slice position* of one OU column group and senses the row sums: slices have
different place values, so driving them together would add them with equal weight. Each slice is a
separate read; the row sums go through the same ADC and shift-and-add.

Three paths compute the same values; the counts are always those of the reads above.

- **Exact ADC** (lossless, or full-scale with step 1 and no clipping possible): a conversion
  returns its sum, so the reads add up to ``q @ W_eff`` with ``W_eff`` the integer weight the
  datapath applies from each input to each output (slices, place values, offset correction and
  index tables folded in, :func:`_effective_weights`). The values come from that one GEMM, in
  float32 when ``max|q| x max_n sum_k |W_eff[k, n]| < 2**24``, else in float64 when it is below
  ``2**53`` (every partial sum is then an exactly representable integer, in any summation order).
- **Lossy ADC** (conversion tables up to ``ADC_TABLE_MAX``): every read's line sums are exact
  integers computed from bit planes, ``sum_a sum_c 2**(a+c) popcount(chunk bit plane a AND level
  bit plane c)`` over 64 lines per word (:func:`_bitplane_reads`, one Numba pass per batch chunk),
  each converted by a lookup into a table made by :meth:`AdcModel.convert` and shift-added in the
  same order as the GEMM path, so the results are bit-identical to it.
- **Otherwise** (an exact ADC beyond ``2**53``, or an ADC table too large): a Numba gather of each
  unit's input chunks, one float32 BLAS GEMM per (batch chunk, input chunk) over all units at once
  (``np.matmul`` on stacks; every partial sum is an integer below ``2**24``, so float32 is exact),
  then a Numba pass doing ADC, shift-and-add and scatter. Units with identical input tables (the
  row blocks of a dense layout) share one gather and one wide GEMM. With an exact ADC the row
  groups of a unit are summed inside the GEMM (the sum of exact conversions is the conversion of
  the sum); the counts still count one read per row group.

Counts are closed-form functions of the layout (see :func:`forward_counts`), except with
``skip_zero_inputs`` (a read whose input chunk is zero on all its rows is skipped) and
``adc_clipped``, which depend on the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from rram_sim.adc import AdcModel, adc_model
from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.datapath import index_lookups_per_vector, unit_tables
from rram_sim.errors import ConfigError, LayoutError, MappingError
from rram_sim.layout import LayerLayout
from rram_sim.quant import n_slices, qmax, quantize, slice_weights

FLOAT32_EXACT = 1 << 24      # integers below this are exact in float32
FLOAT64_EXACT = 1 << 53      # integers below this are exact in float64
ADC_TABLE_MAX = 1 << 20      # largest read sum for which the ADC is a lookup table (16 MB)
CHUNK_FLOATS = 1 << 25       # elements of the GEMM output per batch chunk (128 MB of float32)


@dataclass
class KernelResult:
    """Values in the integer domain (float64) and the events that produced them."""

    values: np.ndarray
    counts: Counts


@dataclass
class UpdateResult:
    """A weight update: the new layout, its write events and how many weights saturated."""

    layout: LayerLayout
    counts: Counts
    saturated: int


# ---------------------------------------------------------------------------------------------
# Numba kernels
# ---------------------------------------------------------------------------------------------

@intrinsic
def _popcount(typingctx, x):
    """Set bits of a uint64 (LLVM ``ctpop``: one POPCNT instruction on x86-64)."""
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.ctpop.i64")
        return builder.call(fn, args)

    return sig, codegen


@nb.njit(cache=True, inline="always")
def _chunk(x, j, db, t):
    s = x >> (j * db)
    if j == t - 1:
        return s  # arithmetic shift: the signed, sign-extended top chunk
    return s & ((1 << db) - 1)


@nb.njit(cache=True, parallel=True)
def _gather(xq, b0, idx, j, db, t, gl, xg, nz):
    """xg[ug, g, b, r] = chunk j of the input feeding line g*Rc + r; nz[ug, gp, b] = any nonzero."""
    n_ug, n_gc, bc, rc = xg.shape
    n_lines = idx.shape[1]
    for b in nb.prange(bc):
        for ug in range(n_ug):
            for gp in range(nz.shape[1]):
                nz[ug, gp, b] = 0
            for i in range(n_lines):
                k = idx[ug, i]
                v = 0
                if k >= 0:
                    v = _chunk(xq[b0 + b, k], j, db, t)
                xg[ug, i // rc, b, i % rc] = v
                if v != 0:
                    nz[ug, i // gl, b] = 1


@nb.njit(cache=True, parallel=True)
def _input_sums(xq, b0, bc, idx, out):
    """out[b, ug] = sum of the (integer) inputs of unit group ug (offset-scheme correction)."""
    for b in nb.prange(bc):
        for ug in range(idx.shape[0]):
            s = 0
            for i in range(idx.shape[1]):
                k = idx[ug, i]
                if k >= 0:
                    s += xq[b0 + b, k]
            out[b, ug] = s


@nb.njit(cache=True, parallel=True)
def _adc_accumulate(s_arr, unit_of, out_used, nz, gact, skip, fused, cpv, spv, exact, lo, step,
                    max_code, acc, clipped):
    """ADC-convert every active line sum and shift-add it into acc[b, u, o]."""
    n_ug, n_gc, bc, _ = s_arr.shape
    m = unit_of.shape[1]
    n_out = out_used.shape[1]
    n_p = spv.shape[0]
    for b in nb.prange(bc):
        nclip = 0
        for ug in range(n_ug):
            for g in range(n_gc):
                if not fused:
                    if gact[ug, g] == 0:
                        continue
                    if skip and nz[ug, g, b] == 0:
                        continue
                for slot in range(m):
                    u = unit_of[ug, slot]
                    if u < 0:
                        continue
                    base = slot * n_out * n_p
                    for o in range(n_out):
                        if out_used[u, o] == 0:
                            continue
                        a = 0.0
                        for p in range(n_p):
                            s = np.float64(s_arr[ug, g, b, base + o * n_p + p])
                            if exact:
                                v = s
                            else:
                                code = np.rint((s - lo) / step)
                                if code < 0.0:
                                    code = 0.0
                                    nclip += 1
                                elif code > max_code:
                                    code = np.float64(max_code)
                                    nclip += 1
                                v = lo + code * step
                            a += spv[p] * v
                        acc[b, u, o] += cpv * a
        clipped[b] += nclip


@nb.njit(cache=True, parallel=True)
def _scatter(acc, insum, ug_of, bias, out_index, b0, out):
    """out[b, out_index[u, o]] += acc[b, u, o] - bias * insum[b, ug_of[u]]."""
    bc, n_u, n_out = acc.shape
    for b in nb.prange(bc):
        for u in range(n_u):
            corr = bias * insum[b, ug_of[u]]
            for o in range(n_out):
                k = out_index[u, o]
                if k >= 0:
                    out[b0 + b, k] += acc[b, u, o] - corr


@nb.njit(cache=True)
def _pack_levels(cells, gl, planes):
    """planes[u, g, c, w, o*P + p] holds, at bit r % 64 of word w = r // 64, bit c of the level of
    input line g*gl + r at output line o, slice p (one bit plane per cell bit and line group;
    output lines innermost so the popcount loop runs over contiguous words)."""
    n_u, n_i, n_o, n_p = cells.shape
    cb = planes.shape[2]
    for u in range(n_u):
        for i in range(n_i):
            g = i // gl
            r = i % gl
            w = r // 64
            bit = np.uint64(1) << np.uint64(r % 64)
            for o in range(n_o):
                for p in range(n_p):
                    lvl = cells[u, i, o, p]
                    for c in range(cb):
                        if (lvl >> c) & 1:
                            planes[u, g, c, w, o * n_p + p] |= bit


@nb.njit(cache=True, parallel=True)
def _bitplane_reads(q, b0, idx, unit_of, out_used, gact, skip, planes, t, db, gl, table, tclip,
                    off, count_clips, acc, clipped):
    """Every read of a lossy-ADC plan for vectors b0 .. b0 + len(acc): each line sum is
    ``sum_a sum_c 2**(a+c) popcount(input chunk bit plane a AND level bit plane c)`` (the top bit
    of the signed chunk weighs ``-2**(dac.bits-1)``), an exact integer ``s``;
    ``table[signed, p, s + off]`` is slice p's place value times the ADC's reconstruction of ``s``
    and ``tclip[signed, s + off]`` whether it clipped (read only if ``count_clips``); shift-and-add
    into acc[b, u, o]. Per (b, u, o) the additions run slice by slice, then chunk by chunk and row
    group by row group, in the GEMM path's order, so the float64 results are bit-identical."""
    bc = acc.shape[0]
    n_ug, n_lines = idx.shape
    n_gp = planes.shape[1]
    cb = planes.shape[2]
    nw = planes.shape[3]
    n_col = planes.shape[4]
    m = unit_of.shape[1]
    n_out = out_used.shape[1]
    n_p = table.shape[1]
    mask = (1 << db) - 1
    for b in nb.prange(bc):
        xb = np.zeros((t, n_gp, db, nw), dtype=np.uint64)
        sums = np.zeros(n_col, dtype=np.int64)
        nclip = 0
        for ug in range(n_ug):
            xb[:] = 0
            for i in range(n_lines):
                k = idx[ug, i]
                if k < 0:
                    continue
                x = q[b0 + b, k]
                g = i // gl
                r = i % gl
                bit = np.uint64(1) << np.uint64(r % 64)
                for j in range(t):
                    c = _chunk(x, j, db, t) & mask   # two's complement bits of the chunk
                    for a in range(db):
                        if (c >> a) & 1:
                            xb[j, g, a, r // 64] |= bit
            for j in range(t):
                sg = 1 if j == t - 1 else 0
                cpv = float(1 << (j * db))
                for g in range(n_gp):
                    if gact[ug, g] == 0:
                        continue
                    if skip:
                        any_nz = False
                        for a in range(db):
                            for w in range(nw):
                                if xb[j, g, a, w] != 0:
                                    any_nz = True
                        if not any_nz:
                            continue
                    for slot in range(m):
                        u = unit_of[ug, slot]
                        if u < 0:
                            continue
                        sums[:] = 0
                        for a in range(db):
                            neg = sg == 1 and a == db - 1
                            for c in range(cb):
                                sh = a + c
                                for w in range(nw):
                                    xw = xb[j, g, a, w]
                                    if xw == 0:
                                        continue
                                    pl = planes[u, g, c, w]
                                    if neg:
                                        for col in range(n_col):
                                            sums[col] -= _popcount(xw & pl[col]) << sh
                                    else:
                                        for col in range(n_col):
                                            sums[col] += _popcount(xw & pl[col]) << sh
                        for o in range(n_out):
                            if out_used[u, o] == 0:
                                continue
                            acc_o = 0.0
                            if count_clips:
                                for p in range(n_p):
                                    e = sums[o * n_p + p] + off
                                    nclip += tclip[sg, e]
                                    acc_o += table[sg, p, e]
                            else:
                                for p in range(n_p):
                                    acc_o += table[sg, p, sums[o * n_p + p] + off]
                            acc[b, u, o] += cpv * acc_o
        clipped[b] += nclip


@nb.njit(cache=True)
def _effective_weights(cells, in_index, out_index, spv, bias, w):
    """w[k, n] += sum_p spv[p] * cells[u, i, o, p] - bias for every used line pair i -> k, o -> n.

    With an exact ADC this is the weight the datapath applies from input k to output n (offset
    correction included), so one GEMM with it gives every value the reads would."""
    n_u, n_i, n_o, n_p = cells.shape
    for u in range(n_u):
        for i in range(n_i):
            k = in_index[u, i]
            if k < 0:
                continue
            for o in range(n_o):
                n = out_index[u, o]
                if n < 0:
                    continue
                v = -bias
                for p in range(n_p):
                    v += spv[p] * cells[u, i, o, p]
                w[k, n] += v


@nb.njit(cache=True, parallel=True)
def _update_cells(cells, row_index, col_index, delta, wb, cb, differential, lim, pulses_per_level,
                  new_cells, pulses, sat):
    n_u, n_r, n_c, n_p = cells.shape
    s_n = (wb + cb - 1) // cb
    mask = (1 << cb) - 1
    for u in nb.prange(n_u):
        npulse = 0
        nsat = 0
        for r in range(n_r):
            k = row_index[u, r]
            for c in range(n_c):
                n = col_index[u, c]
                if k < 0 or n < 0:
                    continue  # nothing stored here: never written
                w = 0
                for p in range(s_n):
                    w += np.int64(cells[u, r, c, p]) << (cb * p)
                if differential:
                    for p in range(s_n):
                        w -= np.int64(cells[u, r, c, s_n + p]) << (cb * p)
                else:
                    w -= 1 << (wb - 1)
                target = w + delta[k, n]
                if target > lim:
                    target = lim
                    nsat += 1
                elif target < -lim:
                    target = -lim
                    nsat += 1
                for p in range(n_p):
                    if differential:
                        if p < s_n:
                            v = target if target > 0 else 0
                            lvl = (v >> (cb * p)) & mask
                        else:
                            v = -target if target < 0 else 0
                            lvl = (v >> (cb * (p - s_n))) & mask
                    else:
                        lvl = ((target + (1 << (wb - 1))) >> (cb * p)) & mask
                    old = np.int64(cells[u, r, c, p])
                    new_cells[u, r, c, p] = lvl
                    npulse += abs(lvl - old) * pulses_per_level
        pulses[u] = npulse
        sat[u] = nsat


# ---------------------------------------------------------------------------------------------
# Plans: a layer seen as input lines -> output lines, grouped for gather and GEMM
# ---------------------------------------------------------------------------------------------

@dataclass
class _Plan:
    in_index: np.ndarray     # int64 [U, I] input feeding each input line (live units only)
    out_index: np.ndarray    # int64 [U, O] output each output line feeds
    crossbar: np.ndarray     # int64 [U]
    cells_o: np.ndarray      # uint8 [U, I, O, P] cells, oriented input line x output line
    group_lines: int         # input lines driven by one read
    reads_per_group: int     # 1 forward; P transposed (one slice position per read)
    ou_per_group: np.ndarray  # int64 [U] OU activations per group read
    adc: AdcModel
    spv: np.ndarray          # float64 [P] signed slice place values
    bias: int                # offset-scheme bias (0 for differential)
    n_in: int                # length of the input vectors
    n_out: int               # length of the output vectors


def _check(layout: LayerLayout, cfg: Config) -> None:
    pcw = cfg.columns_per_weight
    if layout.cells.ndim != 4 or layout.cells.shape[3] != pcw:
        raise LayoutError(f"layer '{layout.spec.name}': cells have {layout.cells.shape[-1]} "
                          f"physical columns per weight, the chip needs {pcw} "
                          f"(weight_bits/cell.bits/signed_scheme differ from the mapping)")


def _plan(layout: LayerLayout, cfg: Config, index_unit: bool, transposed: bool) -> _Plan:
    _check(layout, cfg)
    rows, cols = unit_tables(layout, index_unit)
    cells = layout.cells
    p_n = cells.shape[3]
    live = (rows >= 0).any(1) & (cols >= 0).any(1)
    rows, cols, cells = rows[live], cols[live], cells[live]
    xbar = layout.crossbar.astype(np.int64)[live]
    k, n = layout.spec.matrix_shape
    s_n = n_slices(cfg.precision.weight_bits, cfg.cell.bits)
    pv = slice_weights(cfg.cell.bits, s_n).astype(np.float64)
    diff = cfg.crossbar.signed_scheme == "differential"
    spv = np.concatenate([pv, -pv]) if diff else pv
    bias = 0 if diff else 1 << (cfg.precision.weight_bits - 1)
    if not transposed:
        gl = min(cfg.ou.rows, layout.unit_rows)
        # OU column groups holding at least one used physical column
        used_phys = np.repeat(cols >= 0, p_n, axis=1)
        nphys = used_phys.shape[1]
        pad = (-nphys) % cfg.ou.cols
        used_phys = np.pad(used_phys, ((0, 0), (0, pad)))
        n_grp = used_phys.shape[1] // cfg.ou.cols
        ou_pg = used_phys.reshape(len(rows), n_grp, cfg.ou.cols).any(2).sum(1).astype(np.int64)
        return _Plan(rows, cols, xbar, cells, gl, 1, ou_pg, adc_model(cfg, gl), spv, bias, k, n)
    gl = min(layout.unit_cols, max(1, cfg.ou.cols // p_n))
    ou_pg = np.full(len(rows), p_n, dtype=np.int64)
    return _Plan(cols, rows, xbar, cells.transpose(0, 2, 1, 3), gl, p_n, ou_pg,
                 adc_model(cfg, gl), spv, bias, n, k)


@dataclass
class _Groups:
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


def _groups(plan: _Plan, cfg: Config, with_weights: bool = True) -> _Groups:
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
    return _Groups(np.ascontiguousarray(uniq, dtype=np.int64), unit_of, inv.astype(np.int64),
                   weights, (active_lines > 0).astype(np.uint8), active_lines, fused, n_gc, rc,
                   n_gp)


def _acc_bytes(cfg: Config, lines: int) -> int:
    bits = cfg.precision.input_bits + cfg.precision.weight_bits + math.ceil(
        math.log2(max(2, lines)))
    return -(-bits // 8)


def _plan_counts(plan: _Plan, cfg: Config, layout: LayerLayout, n_vectors: int,
                 index_unit: bool) -> Counts:
    """Closed-form counts of ``n_vectors`` vectors through ``plan`` (no skipping)."""
    if len(plan.in_index) == 0:
        return Counts()   # nothing stored: nothing is read
    p_n = plan.cells_o.shape[3]
    gl = plan.group_lines
    i_n = plan.in_index.shape[1]
    i_pad = -(-i_n // gl) * gl
    used_in = plan.in_index >= 0
    lines = np.pad(used_in, ((0, 0), (0, i_pad - i_n))).reshape(len(used_in), i_pad // gl, gl)
    n_ag = lines.any(2).sum(1).astype(np.int64)            # active input groups per unit
    n_in = used_in.sum(1).astype(np.int64)
    n_out = (plan.out_index >= 0).sum(1).astype(np.int64)
    t = cfg.input_cycles
    rp = plan.reads_per_group
    per_chunk = Counts(
        crossbar_activations=int(len(np.unique(plan.crossbar))) * rp,
        ou_activations=int((n_ag * plan.ou_per_group).sum()),
        dac_drives=int(n_in.sum()) * rp,
        sample_holds=int((n_ag * n_out).sum()) * p_n,
        adc_conversions=int((n_ag * n_out).sum()) * p_n,
        shift_adds=int((n_ag * n_out).sum()) * p_n,
    )
    c = per_chunk.scaled(t * n_vectors)
    in_bytes = -(-cfg.precision.input_bits // 8)
    digital = int((n_out * (n_ag + 1)).sum()) + (int(n_in.sum()) if plan.bias else 0)
    c.digital_adds = digital * n_vectors
    c.index_lookups = index_lookups_per_vector(layout, index_unit) * n_vectors
    c.input_register_bytes = int(n_in.sum()) * in_bytes * n_vectors
    c.output_register_bytes = int(n_out.sum()) * _acc_bytes(cfg, i_n) * n_vectors
    return c


def forward_counts(layout: LayerLayout, cfg: Config, n_vectors: int, *,
                   index_unit: bool = True) -> Counts:
    """Counts of :func:`forward` on ``n_vectors`` vectors, without computing values.

    Per vector and input chunk, every live unit (one with used rows and columns) is read once per
    OU row group holding used rows: ``ou_activations`` += OU column groups with used columns,
    ``dac_drives`` += used rows, ``adc_conversions`` = ``sample_holds`` = ``shift_adds`` += used
    physical columns; ``crossbar_activations`` += distinct crossbars. Per vector,
    ``digital_adds`` += used logical columns x (row groups read + 1 scatter) + the signed correction
    (offset: one per used column plus the used rows' input sum; differential: one subtraction per
    used column). ``adc_clipped`` is data-dependent and reported as 0 here.
    """
    return _plan_counts(_plan(layout, cfg, index_unit, False), cfg, layout, n_vectors, index_unit)


def transposed_counts(layout: LayerLayout, cfg: Config, n_vectors: int, *,
                      index_unit: bool = True) -> Counts:
    """Counts of :func:`transposed` on ``n_vectors`` vectors (the formulas of
    :func:`forward_counts` with rows and columns swapped; each OU column group is read once per
    slice position, so reads, DAC drives and crossbar activations are multiplied by the slices)."""
    return _plan_counts(_plan(layout, cfg, index_unit, True), cfg, layout, n_vectors, index_unit)


# ---------------------------------------------------------------------------------------------
# Running a plan
# ---------------------------------------------------------------------------------------------

def _check_inputs(q: np.ndarray, length: int, cfg: Config, what: str, name: str) -> np.ndarray:
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


def _exact_values(plan: _Plan, q: np.ndarray) -> np.ndarray | None:
    """Values of a plan whose ADC is exact, as one GEMM ``q @ W`` (``W`` from
    :func:`_effective_weights`), or None when float64 cannot hold every partial sum exactly.

    Exactness: every partial sum of the GEMM, in any summation order, is an integer of magnitude
    at most ``max|q| x max_n sum_k |W[k, n]|``; below 2**24 float32 holds it exactly, below 2**53
    float64 does. The result then equals the exact integer product, which is what the per-read
    path computes (the sum of exact conversions is the conversion of the sum)."""
    w = np.zeros((plan.n_in, plan.n_out), dtype=np.float64)
    _effective_weights(plan.cells_o, plan.in_index, plan.out_index, plan.spv, float(plan.bias), w)
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


def _run(plan: _Plan, cfg: Config, q: np.ndarray, skip: bool, layout: LayerLayout,
         index_unit: bool) -> tuple[np.ndarray, Counts, int]:
    bsz = q.shape[0]
    out = np.zeros((bsz, plan.n_out), dtype=np.float64)
    u_n, _, o_n, p_n = plan.cells_o.shape
    if u_n == 0 or bsz == 0:
        return out, _plan_counts(plan, cfg, layout, bsz, index_unit), 0
    counts = _plan_counts(plan, cfg, layout, bsz, index_unit)
    exact = _exact_values(plan, q) if plan.adc.exact else None
    if exact is not None and not skip:
        return exact, counts, 0      # the counts are closed-form, the values one GEMM
    adc = plan.adc
    bits = exact is None and not adc.exact and adc.max_sum <= ADC_TABLE_MAX
    grp = _groups(plan, cfg, with_weights=exact is None and not bits)
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
            _input_sums(q, b0, nb_, grp.idx, insum)
        for j in range(t):
            _gather(q, b0, grp.idx, j, db, t, plan.group_lines, xg, nz)
            if exact is None:
                np.matmul(xg, grp.weights, out=s_arr)
                signed = j == t - 1
                cpv = float(1 << (j * db))  # the top chunk's sign is in its (signed) value
                lo = adc.lo_signed if signed else adc.lo_unsigned
                _adc_accumulate(s_arr, grp.unit_of, out_used, nz, grp.gact, skip, grp.fused, cpv,
                                plan.spv, adc.exact, lo, adc.step, adc.max_code, acc, clipped)
            if tally is not None:
                tally.add(nz)
        if exact is None:
            _scatter(acc, insum, grp.ug_of, float(plan.bias), plan.out_index, b0, out)
    if tally is not None:
        _skip_counts(counts, plan, grp, tally.reads, tally.xb_reads)
    return (out if exact is None else exact), counts, int(clipped.sum())


class _SkipTally:
    """The reads actually made with ``skip_zero_inputs``, from each chunk's nonzero flags."""

    def __init__(self, plan: _Plan, grp: _Groups) -> None:
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


def _run_bitplanes(plan: _Plan, cfg: Config, q: np.ndarray, skip: bool, grp: _Groups,
                   counts: Counts) -> tuple[np.ndarray, Counts, int]:
    """A lossy ADC: every read's line sums from bit planes (:func:`_bitplane_reads`), converted by
    table lookup, shift-added, scattered. No float GEMM: an exact integer sum costs
    ``dac.bits x cell.bits x ceil(lines/64)`` POPCNTs instead of ``lines`` multiply-adds."""
    bsz = q.shape[0]
    u_n, i_n, o_n, p_n = plan.cells_o.shape
    gl = plan.group_lines
    nw = -(-gl // 64)
    planes = np.zeros((u_n, grp.n_gp, cfg.cell.bits, nw, o_n * p_n), dtype=np.uint64)
    _pack_levels(plan.cells_o, gl, planes)
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
            _input_sums(q, b0, nb_, grp.idx, insum)
        _bitplane_reads(q, b0, grp.idx, grp.unit_of, out_used, grp.gact, skip, planes, t, db, gl,
                        table, tclip, plan.adc.max_sum, count_clips, acc, clipped)
        _scatter(acc, insum, grp.ug_of, float(plan.bias), plan.out_index, b0, out)
    if skip:
        tally = _SkipTally(plan, grp)
        xg = np.empty((len(grp.idx), grp.n_gp, bc, gl), dtype=np.float32)
        nz = np.empty((len(grp.idx), grp.n_gp, bc), dtype=np.uint8)
        for b0 in range(0, bsz, bc):
            nb_ = min(bc, bsz - b0)
            for j in range(t):
                _gather(q, b0, grp.idx, j, db, t, gl, xg[:, :, :nb_], nz[:, :, :nb_])
                tally.add(nz[:, :, :nb_])
        _skip_counts(counts, plan, grp, tally.reads, tally.xb_reads)
    return out, counts, int(clipped.sum())


def _skip_counts(counts: Counts, plan: _Plan, grp: _Groups, reads: np.ndarray,
                 xb_reads: int) -> None:
    """Replace the read-dependent counts by those of the reads actually made."""
    p_n = plan.cells_o.shape[3]
    rp = plan.reads_per_group
    n_out = (plan.out_index >= 0).sum(1).astype(np.int64)
    out_per_ug = np.bincount(grp.ug_of, weights=n_out, minlength=len(grp.idx)).astype(np.int64)
    ou_per_ug = np.bincount(grp.ug_of, weights=plan.ou_per_group,
                            minlength=len(grp.idx)).astype(np.int64)
    units_per_ug = np.bincount(grp.ug_of, minlength=len(grp.idx)).astype(np.int64)
    group_reads = reads.sum(1)
    counts.crossbar_activations = xb_reads * rp
    counts.ou_activations = int((group_reads * ou_per_ug).sum())
    counts.dac_drives = int((reads * grp.active_lines * units_per_ug[:, None]).sum()) * rp
    conv = int((group_reads * out_per_ug).sum()) * p_n
    counts.sample_holds = counts.adc_conversions = counts.shift_adds = conv


def _execute(layout: LayerLayout, cfg: Config, q: np.ndarray, index_unit: bool, transposed: bool,
             skip: bool) -> KernelResult:
    plan = _plan(layout, cfg, index_unit, transposed)
    values, counts, clipped = _run(plan, cfg, q, skip, layout, index_unit)
    counts.adc_clipped = clipped
    return KernelResult(values, counts)


def forward(layout: LayerLayout, xq: np.ndarray, cfg: Config, *, index_unit: bool = True,
            skip_zero_inputs: bool = False) -> KernelResult:
    """``xq`` int64 [B, K] quantized inputs -> values float64 [B, N] (integer domain), counts.

    With an exact ADC the values equal ``xq @ unmap(layout, cfg)`` exactly (while below 2**53).
    """
    k, _ = layout.spec.matrix_shape
    q = _check_inputs(xq, k, cfg, "xq", layout.spec.name)
    return _execute(layout, cfg, q, index_unit, False, skip_zero_inputs)


def transposed(layout: LayerLayout, eq: np.ndarray, cfg: Config, *,
               index_unit: bool = True) -> KernelResult:
    """``eq`` int64 [B, N] quantized errors -> values [B, K] = ``eq @ unmap(layout).T`` (exact
    ADC), read one slice position at a time (see the module docstring)."""
    _, n = layout.spec.matrix_shape
    q = _check_inputs(eq, n, cfg, "eq", layout.spec.name)
    return _execute(layout, cfg, q, index_unit, True, False)


# ---------------------------------------------------------------------------------------------
# Error bound of a lossy ADC
# ---------------------------------------------------------------------------------------------

def adc_error_bound(layout: LayerLayout, cfg: Config, *, index_unit: bool = True) -> np.ndarray:
    """Largest |error| of each forward output (integer domain, float64 [N]) caused by ADC rounding,
    as long as no conversion clips: every conversion errs by at most ``step/2``, weighted by its
    chunk and slice place values and summed over all reads feeding the output:

        bound[n] = step/2 x sum_{units u, columns c -> n} groups_read(u) x sum_j 2**(dac.bits*j)
                   x sum_p |place value of slice p|

    0 for an exact ADC.
    """
    plan = _plan(layout, cfg, index_unit, False)
    _, n = layout.spec.matrix_shape
    bound = np.zeros(n, dtype=np.float64)
    if plan.adc.exact or len(plan.in_index) == 0:
        return bound
    gl = plan.group_lines
    i_n = plan.in_index.shape[1]
    i_pad = -(-i_n // gl) * gl
    used = np.pad(plan.in_index >= 0, ((0, 0), (0, i_pad - i_n))).reshape(len(plan.in_index),
                                                                          -1, gl)
    n_ag = used.any(2).sum(1).astype(np.float64)
    chunk_sum = float(sum(1 << (j * cfg.dac.bits) for j in range(cfg.input_cycles)))
    per_col = plan.adc.step / 2 * chunk_sum * float(np.abs(plan.spv).sum())
    w = np.repeat(n_ag * per_col, plan.out_index.shape[1])
    idx = plan.out_index.reshape(-1)
    ok = idx >= 0
    np.add.at(bound, idx[ok], w[ok])
    return bound


# ---------------------------------------------------------------------------------------------
# Whole layers with real-valued inputs
# ---------------------------------------------------------------------------------------------

def _layer_inputs(layout: LayerLayout, x: np.ndarray, cfg: Config) -> tuple[np.ndarray, float]:
    from rram_sim.mapping import im2col

    spec = layout.spec
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or tuple(x.shape[1:]) != tuple(spec.input_shape):
        raise MappingError(f"layer '{spec.name}': input must have shape [B, "
                           f"{', '.join(map(str, spec.input_shape))}], got {list(x.shape)}")
    # Quantize the layer input itself (as the golden reference does), then unroll it.
    xq, sx = quantize(x, cfg.precision.input_bits)
    return np.ascontiguousarray(im2col(xq, spec)), sx


def _to_output(layout: LayerLayout, values: np.ndarray, bsz: int) -> np.ndarray:
    spec = layout.spec
    if spec.kind == "conv":
        n, oh, ow = spec.output_shape
        return values.reshape(bsz, oh, ow, n).transpose(0, 3, 1, 2)
    return values.reshape(bsz, -1)


def run_layer_with_bound(layout: LayerLayout, x: np.ndarray, cfg: Config, *,
                         index_unit: bool = True) -> tuple[np.ndarray, Counts, np.ndarray]:
    """:func:`run_layer` plus the per-output ADC error bound in real units (shape of the output)."""
    xq, sx = _layer_inputs(layout, x, cfg)
    res = forward(layout, xq, cfg, index_unit=index_unit)
    scale = sx * layout.weight_scale
    vals = res.values * scale
    if layout.bias is not None:
        vals = vals + np.asarray(layout.bias, dtype=np.float64)[None, :]
    bsz = x.shape[0]
    bound = adc_error_bound(layout, cfg, index_unit=index_unit) * scale
    bound = np.broadcast_to(bound[None, :], res.values.shape)
    return _to_output(layout, vals, bsz), res.counts, _to_output(layout, bound, bsz)


def run_layer(layout: LayerLayout, x: np.ndarray, cfg: Config, *,
              index_unit: bool = True) -> tuple[np.ndarray, Counts]:
    """Float input [B, *input_shape] -> im2col -> quantize (per tensor, over the batch) ->
    :func:`forward` -> dequantize (x input scale x weight scale) + bias -> [B, *output_shape]."""
    y, counts, _ = run_layer_with_bound(layout, x, cfg, index_unit=index_unit)
    return y, counts


# ---------------------------------------------------------------------------------------------
# Weight update
# ---------------------------------------------------------------------------------------------

def update(layout: LayerLayout, delta_q: np.ndarray, cfg: Config) -> UpdateResult:
    """Add ``delta_q`` (int64 [K, N], integer weight units) to the stored weights.

    Each stored weight moves to ``clip(w + delta, -qmax, qmax)`` (``qmax = 2**(weight_bits-1)-1``;
    a clipped weight counts as saturated) and its cells are rewritten to that weight's encoding.
    ``cell_write_pulses`` = sum of |level change| x ``cell.pulses_per_level``; with
    ``training.write_scheme == 'write_verify'`` every pulse is followed by a verify read. Positions
    whose row or column holds nothing (pruned or compacted away) are never written.
    """
    k, n = layout.spec.matrix_shape
    d = np.asarray(delta_q)
    if d.shape != (k, n) or d.dtype.kind not in "iu":
        raise MappingError(f"layer '{layout.spec.name}': delta_q must be integers of shape "
                           f"[{k}, {n}], got {d.dtype} {list(d.shape)}")
    _check(layout, cfg)
    wb, cb = cfg.precision.weight_bits, cfg.cell.bits
    new = layout.cells.copy()  # positions never written keep their levels
    pulses = np.zeros(layout.n_units, dtype=np.int64)
    sat = np.zeros(layout.n_units, dtype=np.int64)
    _update_cells(layout.cells, layout.row_index.astype(np.int64),
                  layout.col_index.astype(np.int64), np.ascontiguousarray(d, dtype=np.int64),
                  wb, cb, cfg.crossbar.signed_scheme == "differential", qmax(wb),
                  cfg.cell.pulses_per_level, new, pulses, sat)
    total = int(pulses.sum())
    counts = Counts(cell_write_pulses=total,
                    cell_verify_reads=total if cfg.training.write_scheme == "write_verify" else 0)
    return UpdateResult(replace(layout, cells=new), counts, int(sat.sum()))


__all__ = ["KernelResult", "UpdateResult", "forward", "transposed", "update", "run_layer",
           "run_layer_with_bound", "forward_counts", "transposed_counts", "adc_error_bound"]
