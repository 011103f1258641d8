"""Crossbar kernels: exactness, ADC models against a numpy reference, counts, update."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rram_sim import config, kernels
from rram_sim.adc import adc_model
from rram_sim.bundle import golden_from_numpy
from rram_sim.crossbar import values
from rram_sim.crossbar.readplan import read_plan
from rram_sim.crossbar.update import pv_pulses
from rram_sim.errors import MappingError
from rram_sim.layout import SCHEMES, LayerSpec
from rram_sim.mapping import map_layer, unmap
from rram_sim.quant import encode_cells, n_slices, qmax, slice_weights


@st.composite
def setups(draw, policies=("lossless",)):
    """A random valid chip, a random masked linear layer mapped under a random scheme."""
    wb = draw(st.integers(2, 12))
    cb = draw(st.integers(1, 4))
    ib = draw(st.integers(2, 12))
    db = draw(st.integers(1, min(4, ib)))
    signed = draw(st.sampled_from(["offset", "differential"]))
    p = n_slices(wb, cb) * (2 if signed == "differential" else 1)
    rows = draw(st.sampled_from([4, 8, 16, 32]))
    ou_rows = draw(st.sampled_from([r for r in (2, 4, 8, 16, 32) if r <= rows]))
    lc = draw(st.integers(1, 4))
    cols = p * lc
    ou_cols = draw(st.sampled_from([cols, p]))
    policy = draw(st.sampled_from(policies))
    cfg = config.default().replace(**{
        "precision.weight_bits": wb, "precision.input_bits": ib, "cell.bits": cb,
        "dac.bits": db, "crossbar.signed_scheme": signed, "crossbar.rows": rows,
        "crossbar.cols": cols, "ou.rows": ou_rows, "ou.cols": ou_cols,
        "adc.columns_per_adc": 1, "adc.range_policy": policy,
        "adc.bits": draw(st.integers(2, 8)),
        "adc.calibration_fraction": draw(st.sampled_from([0.05, 0.3, 1.0]))})
    k = draw(st.integers(1, 40))
    n = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2 ** 31))
    scheme = draw(st.sampled_from(SCHEMES))
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n, k))
    mask = rng.random((n, k)) < draw(st.sampled_from([0.2, 0.6, 1.0]))
    lay = map_layer(LayerSpec("l", "linear", (n, k), (k,)), w, cfg, scheme, mask=mask)
    b = draw(st.integers(1, 4))
    lim = 1 << (ib - 1)
    xq = rng.integers(-lim, lim, size=(b, k))
    xq[rng.random(xq.shape) < 0.3] = 0
    eq = rng.integers(-lim, lim, size=(b, n))
    return cfg, lay, xq, eq


def reference_forward(lay, xq, cfg, skip=False):
    """Straightforward numpy model: per unit, per OU row group, per input chunk, per column."""
    adc = adc_model(cfg, min(cfg.ou.rows, lay.unit_rows))
    t, db = cfg.input_cycles, cfg.dac.bits
    s_n = n_slices(cfg.precision.weight_bits, cfg.cell.bits)
    pv = slice_weights(cfg.cell.bits, s_n).astype(float)
    diff = cfg.crossbar.signed_scheme == "differential"
    spv = np.concatenate([pv, -pv]) if diff else pv
    bias = 0 if diff else 1 << (cfg.precision.weight_bits - 1)
    out = np.zeros((xq.shape[0], lay.spec.matrix_shape[1]))
    clipped = 0
    gl = min(cfg.ou.rows, lay.unit_rows)
    for u in range(lay.n_units):
        ri, ci = lay.row_index[u], lay.col_index[u]
        if not ((ri >= 0).any() and (ci >= 0).any()):
            continue
        x = np.where(ri >= 0, xq[:, np.maximum(ri, 0)], 0)               # [B, R]
        acc = np.zeros((xq.shape[0], lay.unit_cols))
        for j in range(t):
            ch = x >> (j * db)
            if j < t - 1:
                ch = ch & ((1 << db) - 1)
            for g0 in range(0, lay.unit_rows, gl):
                if not (ri[g0:g0 + gl] >= 0).any():
                    continue
                sums = np.einsum("br,rcp->bcp", ch[:, g0:g0 + gl],
                                 lay.cells[u, g0:g0 + gl].astype(np.int64))
                v, c = adc.convert(sums, j == t - 1)
                if skip:
                    read = (ch[:, g0:g0 + gl] != 0).any(1)
                    v = v * read[:, None, None]
                    c = c & read[:, None, None]
                c = c & (ci >= 0)[None, :, None]
                clipped += int(c.sum())
                acc += float(1 << (j * db)) * (v * spv).sum(-1)
        acc -= bias * x.sum(1, keepdims=True)
        for c in range(lay.unit_cols):
            if ci[c] >= 0:
                out[:, ci[c]] += acc[:, c]
    return out, clipped


@settings(max_examples=40, deadline=None)
@given(setups())
def test_lossless_forward_and_transposed_are_exact(s):
    cfg, lay, xq, eq = s
    w = unmap(lay, cfg)
    res = kernels.forward(lay, xq, cfg)
    assert np.array_equal(res.values, (xq @ w).astype(np.float64))
    assert res.counts == kernels.forward_counts(lay, cfg, xq.shape[0])
    tr = kernels.transposed(lay, eq, cfg)
    assert np.array_equal(tr.values, (eq @ w.T).astype(np.float64))
    assert tr.counts == kernels.transposed_counts(lay, cfg, eq.shape[0])


@settings(max_examples=40, deadline=None)
@given(setups(policies=("full_scale", "calibrated")))
def test_lossy_adc_matches_reference_and_bound(s):
    cfg, lay, xq, _ = s
    w = unmap(lay, cfg)
    res = kernels.forward(lay, xq, cfg)
    ref, clipped = reference_forward(lay, xq, cfg)
    np.testing.assert_allclose(res.values, ref, rtol=1e-12, atol=1e-6)
    assert res.counts.adc_clipped == clipped
    if clipped == 0:
        bound = kernels.adc_error_bound(lay, cfg)
        assert np.all(np.abs(res.values - xq @ w) <= bound[None, :] * (1 + 1e-12) + 1e-9)


@settings(max_examples=30, deadline=None)
@given(setups(policies=("lossless", "full_scale")))
def test_skip_zero_inputs_counts_only_nonzero_reads(s):
    cfg, lay, xq, _ = s
    res = kernels.forward(lay, xq, cfg, skip_zero_inputs=True)
    ref, _ = reference_forward(lay, xq, cfg, skip=True)
    np.testing.assert_allclose(res.values, ref, rtol=1e-12, atol=1e-6)
    full = kernels.forward_counts(lay, cfg, xq.shape[0])
    assert res.counts.adc_conversions <= full.adc_conversions
    # reads made = (unit, row group, chunk, vector) with a nonzero chunk on the group's rows
    gl = min(cfg.ou.rows, lay.unit_rows)
    t, db = cfg.input_cycles, cfg.dac.bits
    conv = 0
    for u in range(lay.n_units):
        ri, ci = lay.row_index[u], lay.col_index[u]
        if not ((ri >= 0).any() and (ci >= 0).any()):
            continue
        x = np.where(ri >= 0, xq[:, np.maximum(ri, 0)], 0)
        for j in range(t):
            ch = x >> (j * db)
            if j < t - 1:
                ch &= (1 << db) - 1
            for g0 in range(0, lay.unit_rows, gl):
                reads = int((ch[:, g0:g0 + gl] != 0).any(1).sum())
                conv += reads * int((ci >= 0).sum()) * lay.cells.shape[3]
    assert res.counts.adc_conversions == conv


def test_all_zero_inputs_skip_every_read():
    cfg = config.default()
    lay = map_layer(LayerSpec("l", "linear", (5, 40), (40,)), np.ones((5, 40)), cfg, "dense")
    res = kernels.forward(lay, np.zeros((3, 40), np.int64), cfg, skip_zero_inputs=True)
    assert res.counts.crossbar_activations == 0 and res.counts.adc_conversions == 0
    assert not res.values.any()


def test_dense_counts_closed_form():
    """An unpruned dense layer on the ISAAC chip: every count from first principles."""
    cfg = config.preset("isaac")
    k, n, b = 300, 40, 3
    lay = map_layer(LayerSpec("l", "linear", (n, k), (k,)),
                    np.random.default_rng(0).normal(size=(n, k)), cfg, "dense")
    c = kernels.forward_counts(lay, cfg, b)
    t = 16                                   # 16-bit inputs, 1-bit DAC
    row_blocks, col_blocks = 3, 3            # ceil(300/128), ceil(40/16)
    xbars = row_blocks * col_blocks
    assert c.crossbar_activations == xbars * t * b
    assert c.ou_activations == xbars * t * b  # OU = crossbar
    assert c.dac_drives == k * col_blocks * t * b
    assert c.adc_conversions == n * 8 * row_blocks * t * b
    assert c.sample_holds == c.shift_adds == c.adc_conversions
    # per vector and unit: used columns x (1 group + 1 scatter) + offset input sum
    assert c.digital_adds == (n * row_blocks * 2 + k * col_blocks) * b
    assert c.index_lookups == 0
    assert c.input_register_bytes == k * col_blocks * 2 * b
    acc_bytes = -(-(16 + 16 + 7) // 8)
    assert c.output_register_bytes == n * row_blocks * acc_bytes * b


def test_edge_ou_groups_and_transposed_counts():
    # the edge chip on 128x128 crossbars: 16x16 OUs, 8-bit weights, 2-bit cells, offset
    cfg = config.default().replace(**{"crossbar.rows": 128, "crossbar.cols": 128})
    lay = map_layer(LayerSpec("l", "linear", (32, 128), (128,)), np.ones((32, 128)), cfg, "dense")
    c = kernels.forward_counts(lay, cfg, 1)
    # one crossbar, 8 row groups of 16 rows, 32 logical columns x 4 slices = 128 physical columns
    assert c.crossbar_activations == 8
    assert c.ou_activations == 8 * 8 * 8                # chunks x row groups x column groups
    # each OU activation drives its 16 rows: every row once per column group
    assert c.dac_drives == 8 * 128 * 8
    assert c.adc_conversions == 8 * 8 * 128
    ct = kernels.transposed_counts(lay, cfg, 1)
    # transposed: column groups of 16/4 = 4 logical columns, one read per slice position, each
    # read sensing the 128 rows OU row group by OU row group (8 groups of 16 rows)
    assert ct.ou_activations == 8 * 8 * 4 * 8          # chunks x col groups x slices x row groups
    assert ct.crossbar_activations == 8 * 4
    assert ct.dac_drives == 8 * 32 * 4 * 8             # each column once per row group per slice
    assert ct.adc_conversions == 8 * 8 * 4 * 128


def test_full_scale_adc_exact_when_sums_fit():
    cfg = config.default()                   # 16 x 1 x 3 = 48 < 64: step 1
    assert adc_model(cfg, cfg.ou.rows).exact
    lossy = cfg.replace(**{"adc.bits": 5})
    m = adc_model(lossy, lossy.ou.rows)
    assert not m.exact and m.step == pytest.approx(48 / 31)


def test_numpy_adc_reference_clips_and_rounds():
    cfg = config.default().replace(**{"adc.range_policy": "calibrated", "adc.bits": 3,
                                      "adc.calibration_fraction": 0.5})
    m = adc_model(cfg, 16)                   # M = 48, W = 24, step 24/7
    v, c = m.convert(np.array([0.0, 5.0, 24.0, 30.0]), signed=False)
    assert list(c) == [False, False, False, True]
    assert abs(v[1] - 5) <= m.step / 2 and v[3] == pytest.approx(24.0)


def update_reference(lay, delta, cfg):
    wb, cb, sch = cfg.precision.weight_bits, cfg.cell.bits, cfg.crossbar.signed_scheme
    new = lay.cells.copy()
    sat = pulses = 0
    for u in range(lay.n_units):
        for r, k in enumerate(lay.row_index[u]):
            for c, n in enumerate(lay.col_index[u]):
                if k < 0 or n < 0:
                    continue
                w = unmap(lay, cfg)[k, n]
                tgt = w + delta[k, n]
                if abs(tgt) > qmax(wb):
                    sat += 1
                    tgt = int(np.clip(tgt, -qmax(wb), qmax(wb)))
                cells = encode_cells(np.array(tgt), wb, cb, sch)
                change = cells.astype(int) - lay.cells[u, r, c].astype(int)
                pulses += float(pv_pulses(change, cfg).sum())
                new[u, r, c] = cells
    return new, sat, int(round(pulses))


@settings(max_examples=25, deadline=None)
@given(setups(), st.integers(1, 3), st.sampled_from(["single_pulse", "write_verify"]))
def test_update_matches_numpy_reference(s, ppl, scheme):
    cfg, lay, _, _ = s
    cfg = cfg.replace(**{"cell.pulses_per_level": ppl, "training.write_scheme": scheme})
    if lay.spec.matrix_shape[0] * lay.spec.matrix_shape[1] > 120:
        lay = map_layer(LayerSpec("s", "linear", (3, 7), (7,)),
                        np.random.default_rng(1).normal(size=(3, 7)), cfg, lay.scheme)
    k, n = lay.spec.matrix_shape
    q = qmax(cfg.precision.weight_bits)
    delta = np.random.default_rng(k * n).integers(-q, q + 1, size=(k, n))
    res = kernels.update(lay, delta, cfg)
    new, sat, pulses = update_reference(lay, delta, cfg)
    assert np.array_equal(res.layout.cells, new)
    assert res.saturated == sat
    assert res.counts.cell_write_pulses == pulses
    assert res.counts.cell_verify_reads == (pulses if scheme == "write_verify" else 0)


def test_update_never_writes_pruned_positions():
    cfg = config.default()
    w = np.random.default_rng(2).normal(size=(6, 30))
    mask = np.zeros_like(w, bool)
    mask[:3, :10] = True
    lay = map_layer(LayerSpec("l", "linear", (6, 30), (30,)), w, cfg, "compact", mask=mask)
    before = unmap(lay, cfg)
    res = kernels.update(lay, np.ones((30, 6), np.int64), cfg)
    after = unmap(res.layout, cfg)
    stored = (lay.row_index >= 0)[:, :, None] & (lay.col_index >= 0)[:, None, :]
    assert stored.sum() < 30 * 6
    assert np.array_equal(after - before, np.where(before != 0, 1, 0) * (after != before))
    assert (after[10:, :] == 0).all()


def test_run_layer_matches_golden_conv():
    cfg = config.default()
    spec = LayerSpec("c", "conv", (4, 2, 3, 3), (2, 6, 6), stride=(2, 1), padding=(1, 1))
    rng = np.random.default_rng(3)
    w, bias, x = rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4), rng.normal(size=(2, 2, 6, 6))
    lay = map_layer(spec, w, cfg, "ou", bias=bias)
    y, counts = kernels.run_layer(lay, x, cfg)
    g = golden_from_numpy(spec, w, bias, x, cfg)
    np.testing.assert_allclose(y, g.output_quantized, rtol=1e-12, atol=1e-12)
    assert counts == kernels.forward_counts(lay, cfg, 2 * spec.output_positions)


def test_bad_inputs_raise_one_line_errors():
    cfg = config.default()
    lay = map_layer(LayerSpec("l", "linear", (2, 5), (5,)), np.ones((2, 5)), cfg, "dense")
    for bad in (np.zeros((1, 4), np.int64), np.zeros((1, 5)), np.full((1, 5), 1000)):
        with pytest.raises(MappingError, match="layer 'l'"):
            kernels.forward(lay, bad, cfg)
    with pytest.raises(MappingError, match="delta_q"):
        kernels.update(lay, np.zeros((2, 5), np.int64), cfg)
    with pytest.raises(MappingError, match="input must have shape"):
        kernels.run_layer(lay, np.zeros((1, 4)), cfg)


def test_deterministic():
    cfg = config.preset("isaac").replace(**{"adc.range_policy": "calibrated"})
    rng = np.random.default_rng(5)
    lay = map_layer(LayerSpec("l", "linear", (9, 200), (200,)), rng.normal(size=(9, 200)), cfg,
                    "compact", mask=rng.random((9, 200)) < 0.4)
    xq = rng.integers(-3000, 3000, size=(4, 200))
    a, b = kernels.forward(lay, xq, cfg), kernels.forward(lay, xq, cfg)
    assert np.array_equal(a.values, b.values) and a.counts == b.counts


@settings(max_examples=30, deadline=None)
@given(setups(policies=("lossless", "full_scale")), st.booleans())
def test_single_gemm_path_matches_per_read_path(s, skip):
    """With an exact ADC the values come from one GEMM; forcing the per-read path (as when no
    float type holds the sums exactly) must give the same values bit for bit and the same counts."""
    cfg, lay, xq, eq = s
    fast = kernels.forward(lay, xq, cfg, skip_zero_inputs=skip)
    fast_t = kernels.transposed(lay, eq, cfg)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(values, "exact_values", lambda plan, q: None)
        slow = kernels.forward(lay, xq, cfg, skip_zero_inputs=skip)
        slow_t = kernels.transposed(lay, eq, cfg)
    assert np.array_equal(fast.values, slow.values) and fast.counts == slow.counts
    assert np.array_equal(fast_t.values, slow_t.values) and fast_t.counts == slow_t.counts


def test_exact_values_bound_picks_float_type():
    """The single-GEMM path states its exactness bound: float32 below 2**24, float64 below
    2**53, none (per-read path) above."""
    cfg = config.preset("isaac")
    lay = map_layer(LayerSpec("l", "linear", (3, 4), (4,)), np.eye(3, 4), cfg, "dense")
    plan = read_plan(lay, cfg)
    w = unmap(lay, cfg)
    wmax = int(np.abs(w).sum(0).max())
    small = np.ones((1, 4), np.int64)
    big = np.full((1, 4), 32767, np.int64)
    assert wmax * 32767 >= values.FLOAT32_EXACT
    assert np.array_equal(values.exact_values(plan, small), small @ w)
    assert np.array_equal(values.exact_values(plan, big), big @ w)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(values, "FLOAT64_EXACT", wmax * 32767)
        assert values.exact_values(plan, big) is None


@settings(max_examples=40, deadline=None)
@given(setups(policies=("full_scale", "calibrated")), st.booleans())
def test_bitplane_path_matches_gemm_path(s, skip):
    """A lossy ADC reads line sums from bit planes and converts them by table lookup; the float32
    GEMM path with per-sum conversion (used when the table would be too large) must agree bit for
    bit, with the same counts and clipped conversions, forward and transposed."""
    cfg, lay, xq, eq = s
    fast = kernels.forward(lay, xq, cfg, skip_zero_inputs=skip)
    fast_t = kernels.transposed(lay, eq, cfg)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(values, "ADC_TABLE_MAX", -1)
        slow = kernels.forward(lay, xq, cfg, skip_zero_inputs=skip)
        slow_t = kernels.transposed(lay, eq, cfg)
    assert np.array_equal(fast.values, slow.values) and fast.counts == slow.counts
    assert np.array_equal(fast_t.values, slow_t.values) and fast_t.counts == slow_t.counts


def test_adc_lookup_equals_conversion():
    cfg = config.default().replace(**{"adc.range_policy": "calibrated", "adc.bits": 3,
                                      "adc.calibration_fraction": 0.5})
    m = adc_model(cfg, 16)
    values, clipped = m.lookup()
    s = np.arange(-m.max_sum, m.max_sum + 1)
    for signed in (0, 1):
        v, c = m.convert(s, bool(signed))
        assert np.array_equal(values[signed], v) and np.array_equal(clipped[signed], c)
    assert clipped[0].any() and clipped[1].any()


@pytest.mark.parametrize("rows,ou_rows,db,scheme", [(128, 128, 1, "offset"),
                                                    (96, 96, 2, "differential"),
                                                    (144, 72, 4, "offset")])
def test_bitplane_path_multiword_groups(rows, ou_rows, db, scheme):
    """Row groups longer than one 64-bit word (and not a multiple of it), multi-bit DAC."""
    cfg = config.preset("isaac").replace(**{
        "adc.range_policy": "calibrated", "adc.calibration_fraction": 0.1, "ou.rows": ou_rows,
        "crossbar.rows": rows,
        "dac.bits": db, "crossbar.signed_scheme": scheme, "precision.weight_bits": 8,
        "precision.input_bits": 8})
    rng = np.random.default_rng(ou_rows)
    k, n = 300, 20
    lay = map_layer(LayerSpec("l", "linear", (n, k), (k,)), rng.normal(size=(n, k)), cfg,
                    "compact", mask=rng.random((n, k)) < 0.7)
    xq = rng.integers(-128, 128, size=(5, k))
    res = kernels.forward(lay, xq, cfg)
    ref, clipped = reference_forward(lay, xq, cfg)
    np.testing.assert_allclose(res.values, ref, rtol=1e-12, atol=1e-6)
    assert res.counts.adc_clipped == clipped > 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(values, "ADC_TABLE_MAX", -1)
        slow = kernels.forward(lay, xq, cfg)
    assert np.array_equal(res.values, slow.values) and res.counts == slow.counts


@settings(max_examples=25, deadline=None)
@given(setups(policies=("lossless", "full_scale", "calibrated")))
def test_batch_chunking_does_not_change_results(s):
    """Every path splits large batches into chunks; tiny chunks must give the same values (bit
    for bit) and counts as one chunk."""
    cfg, lay, xq, _ = s
    xq = np.concatenate([xq] * 3)
    whole = kernels.forward(lay, xq, cfg)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(values, "CHUNK_FLOATS", 8)
        parts = kernels.forward(lay, xq, cfg)
    assert np.array_equal(whole.values, parts.values) and whole.counts == parts.counts
