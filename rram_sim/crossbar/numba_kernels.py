"""The Numba kernels of the crossbar model: gathers, ADC accumulation, bit-plane reads, scatter,
effective weights and the cell update. Pure array code; what they compute and why is described in
:mod:`rram_sim.crossbar.values` (value paths) and :mod:`rram_sim.crossbar.update`."""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic


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
def gather(xq, b0, idx, j, db, t, gl, xg, nz):
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
def input_sums(xq, b0, bc, idx, out):
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
def adc_accumulate(s_arr, unit_of, out_used, nz, gact, skip, fused, cpv, spv, exact, lo, step,
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
def scatter(acc, insum, ug_of, bias, out_index, b0, out):
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
def pack_levels(cells, gl, planes):
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
def bitplane_reads(q, b0, idx, unit_of, out_used, gact, skip, planes, t, db, gl, table, tclip,
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
def effective_weights(cells, in_index, out_index, spv, bias, w):
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
def update_cells(cells, row_index, col_index, delta, wb, cb, differential, lim, pulses_per_level,
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
