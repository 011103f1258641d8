"""Kernel benchmark: the crossbar forward kernel against the GEMM bound and a numpy reference.

For each representative layer (dense mapping, 1024 input vectors) it measures, in one run:

- ``kernel``: :func:`rram_sim.kernels.forward`, on whichever path the ADC selects (``one GEMM``
  for an exact ADC, ``bit planes`` for a lossy one; see the :mod:`rram_sim.kernels` docstring);
- ``gemm_bound``: the work of a per-read model, one float32 GEMM ``[1024, K] @ [K, N]`` per
  (input chunk x weight slice): one such GEMM timed (best of 3) times ``input_cycles x slices``;
- ``numpy_ref``: a straightforward numpy model (per input chunk, weight slice and row block a
  float64 GEMM of the bit-sliced matrices, ADC, shift-and-add).

``numpy_ref`` runs on the first ``REF_B`` vectors and is scaled to 1024 (its cost is linear in
the vectors) to keep the benchmark short. On ``CHECK_B`` vectors the kernel is checked against the
reference and, bit for bit and count for count, against its own per-read GEMM path (the path it
takes when neither fast path applies). Kernel and bound are timed side by
side, alternating, ``REPEAT`` times, best of each; both wall time and process CPU time (all
threads) are reported, since CPU time is less disturbed by other processes sharing the cores.
``conversions`` is the ADC conversions of the layer (:func:`rram_sim.kernels.forward_counts`) and
``cpu_ns/conv`` the kernel's CPU time per conversion. Ratios only; times differ by machine.
Run: ``.venv/bin/python benchmarks/bench_kernels.py``.
"""

from __future__ import annotations

import time

import numpy as np

from rram_sim import config, kernels
from rram_sim.adc import adc_model
from rram_sim.crossbar import values
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer, unmap
from rram_sim.quant import encode_cells, n_slices, slice_weights

B = 1024
REF_B = 128
CHECK_B = 16
REPEAT = 5


def cases():
    isaac, edge = config.preset("isaac"), config.preset("edge")
    crosssim = isaac.replace(**{"adc.bits": 9, "adc.range_policy": "full_scale"})
    lossy = isaac.replace(**{"adc.range_policy": "full_scale"})
    edge_lossy = edge.replace(**{"adc.bits": 5})
    return [("isaac", isaac, 1152, 256), ("isaac", isaac, 4608, 512),
            ("edge", edge, 1152, 256), ("edge", edge, 4608, 512),
            ("crosssim-isaac", crosssim, 1152, 256),
            ("isaac 8-bit ADC (lossy)", lossy, 1152, 256),
            ("edge 5-bit ADC (lossy)", edge_lossy, 1152, 256)]


def timed(fn, *args):
    """(wall seconds, process CPU seconds) of one call."""
    w, c = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - w, time.process_time() - c


def numpy_reference(q, wq, cfg):
    """Per input chunk, weight slice and row block (OU rows): GEMM, ADC, shift-and-add."""
    wb, cb, db = cfg.precision.weight_bits, cfg.cell.bits, cfg.dac.bits
    s = n_slices(wb, cb)
    cells = encode_cells(wq, wb, cb, "offset").astype(np.float64)         # [K, N, S]
    pv = slice_weights(cb, s)
    rows = cfg.ou.rows
    adc = adc_model(cfg, rows)
    t = cfg.input_cycles
    out = np.zeros((q.shape[0], wq.shape[1]))
    for j in range(t):
        ch = q >> (j * db)
        if j < t - 1:
            ch = ch & ((1 << db) - 1)
        ch = ch.astype(np.float64)
        for p in range(s):
            for r0 in range(0, q.shape[1], rows):
                sums = ch[:, r0:r0 + rows] @ cells[r0:r0 + rows, :, p]
                v, _ = adc.convert(sums, j == t - 1)
                out += float(1 << (j * db)) * float(pv[p]) * v
    return out - (1 << (wb - 1)) * q.sum(1, keepdims=True).astype(np.float64)


def per_read(lay, q, cfg):
    """The kernel forced onto its per-read GEMM path (no single-GEMM values, no ADC table)."""
    saved = values.exact_values, values.ADC_TABLE_MAX
    values.exact_values, values.ADC_TABLE_MAX = (lambda plan, q: None), -1
    try:
        return kernels.forward(lay, q, cfg)
    finally:
        values.exact_values, values.ADC_TABLE_MAX = saved


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'setting':<24} {'weights':>9} {'path':>10} {'kernel_s':>9} {'gemm_bound_s':>13} "
          f"{'kernel/bound':>13} {'cpu ratio':>10} {'numpy_ref_s':>12} "
          f"{'ref/kernel':>11} {'conversions':>12} {'cpu_ns/conv':>12}")
    for name, cfg, k, n in cases():
        spec = LayerSpec("l", "linear", (n, k), (k,))
        lay = map_layer(spec, rng.normal(size=(n, k)), cfg, "dense")
        lim = 1 << (cfg.precision.input_bits - 1)
        q = rng.integers(-lim + 1, lim, size=(B, k))
        a = rng.integers(0, 2, size=(B, k)).astype(np.float32)
        w = rng.integers(0, 4, size=(k, n)).astype(np.float32)
        reads = cfg.input_cycles * n_slices(cfg.precision.weight_bits, cfg.cell.bits)
        kernels.forward(lay, q[:8], cfg)                                  # compile / warm up
        kern, bound = [], []
        for _ in range(REPEAT):                 # side by side: the same load on both
            kern.append(timed(kernels.forward, lay, q, cfg))
            bound.append(min((timed(np.matmul, a, w) for _ in range(3)), key=lambda x: x[0]))
        t_kernel, c_kernel = min(x[0] for x in kern), min(x[1] for x in kern)
        t_bound, c_bound = min(x[0] for x in bound) * reads, min(x[1] for x in bound) * reads
        t0 = time.perf_counter()
        ref = numpy_reference(q[:REF_B], unmap(lay, cfg), cfg)
        t_ref = (time.perf_counter() - t0) * B / REF_B
        got = kernels.forward(lay, q[:REF_B], cfg)
        assert np.allclose(got.values, ref, rtol=1e-9, atol=1e-3), "kernel and reference disagree"
        got, slow = kernels.forward(lay, q[:CHECK_B], cfg), per_read(lay, q[:CHECK_B], cfg)
        assert np.array_equal(got.values, slow.values), "fast and per-read paths disagree"
        assert got.counts == slow.counts, "fast and per-read paths count differently"
        path = "one GEMM" if adc_model(cfg, cfg.ou.rows).exact else "bit planes"
        conv = kernels.forward_counts(lay, cfg, B).adc_conversions
        print(f"{name:<24} {k:>4}x{n:<4} {path:>10} {t_kernel:>9.3f} {t_bound:>13.3f} "
              f"{t_kernel / t_bound:>13.2f} {c_kernel / max(c_bound, 1e-9):>10.2f} "
              f"{t_ref:>12.3f} {t_ref / t_kernel:>11.1f} {conv:>12} {c_kernel / conv * 1e9:>12.2f}",
              flush=True)


if __name__ == "__main__":
    main()
