"""The ``kernel_rows`` mapping scheme (MNSIM 2.0's array occupancy): whole kernels per crossbar,
bit slices spread as MNSIM's one-slice arrays; bit-exact round trip and datapath."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rram_sim import config, kernels
from rram_sim.bundle import map_network
from rram_sim.datapath import verify_bundle
from rram_sim.errors import MappingError
from rram_sim.examples import build_example_bundle
from rram_sim.layout import LayerSpec, used_positions
from rram_sim.mapping import map_layer, unmap
from rram_sim.mapping.quantize import quantize_layer_weights
from rram_sim.schemes import KernelRowsScheme, scheme_of
from rram_sim.schemes.kernel_rows import kernel_row_blocks, spread_col_blocks


def _cfg(rows: int, cols: int, cell_bits: int, weight_bits: int, signed: str) -> config.Config:
    return config.default().replace(**{
        "crossbar.rows": rows, "crossbar.cols": cols, "crossbar.signed_scheme": signed,
        "cell.bits": cell_bits, "precision.weight_bits": weight_bits,
        "ou.rows": rows, "ou.cols": cols, "adc.columns_per_adc": 1})


def _expected_crossbars(k: int, kernel: int, n: int, rows: int, width: int, slices: int) -> int:
    """Row chunks of whole kernels x column blocks (each group of slices * width outputs over
    min(slices, group) crossbars): the closed form the scheme must reproduce."""
    chunks = math.ceil(k / ((rows // kernel) * kernel))
    blocks = sum(min(slices, min(slices * width, n - g)) for g in range(0, n, slices * width))
    return chunks * blocks


@st.composite
def kernel_case(draw):
    cell_bits = draw(st.integers(1, 3))
    weight_bits = draw(st.integers(2, 9))
    signed = draw(st.sampled_from(["offset", "differential"]))
    lw = math.ceil(weight_bits / cell_bits) * (2 if signed == "differential" else 1)
    cols = lw * draw(st.integers(1, 4))
    if draw(st.booleans()):
        kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        rows = kh * kw * draw(st.integers(1, 4)) + draw(st.integers(0, kh * kw - 1))
        c = draw(st.integers(1, 6))
        spec = LayerSpec("c", "conv", (draw(st.integers(1, 20)), c, kh, kw), (c, 4, 4))
    else:
        rows = draw(st.integers(1, 12))
        i, o = draw(st.integers(1, 30)), draw(st.integers(1, 20))
        spec = LayerSpec("fc", "linear", (o, i), (i,))
    return _cfg(rows, cols, cell_bits, weight_bits, signed), spec, draw(st.integers(0, 10_000))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=kernel_case())
def test_unmap_of_map_is_exact_and_kernels_stay_whole(case):
    cfg, spec, seed = case
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(spec.weight_shape)
    mask = rng.random(spec.weight_shape) < 0.7
    lay = map_layer(spec, w, cfg, "kernel_rows", mask=mask)
    q, _ = quantize_layer_weights(w, spec, cfg, mask)
    np.testing.assert_array_equal(unmap(lay, cfg), q)
    k, n = spec.matrix_shape
    kernel = spec.weight_shape[2] * spec.weight_shape[3] if spec.kind == "conv" else 1
    # every stored position once, pruned zeros included (no index table: dense storage)
    valid = used_positions(lay.row_index, lay.col_index)
    assert int(valid.sum()) == k * n
    assert not np.any(lay.cells[~valid])
    # each unit holds whole kernels: its used rows are complete kernel groups, contiguous
    for ri in lay.row_index:                       # test-side reference check, small layers
        used = ri[ri >= 0]
        assert used.size % kernel == 0 and used.size <= (cfg.crossbar.rows // kernel) * kernel
        assert np.array_equal(used, np.arange(used[0], used[0] + used.size))
        assert used[0] % kernel == 0
    # used columns of a unit contiguous too (base address + offset: no index table needed)
    for ci in lay.col_index:
        used = ci[ci >= 0]
        assert np.array_equal(used, np.arange(used[0], used[0] + used.size))
    assert lay.n_crossbars == lay.n_units == _expected_crossbars(
        k, kernel, n, cfg.crossbar.rows, cfg.logical_cols_per_crossbar, cfg.slices_per_weight)
    assert scheme_of("kernel_rows").index_tables(lay) == 0


def test_vgg8_on_mnsim_chip_takes_mnsims_1272_arrays():
    """MNSIM 2.0's vgg8 on its default chip reports 1272 array pairs: 28 whole 3x3 kernels (252
    rows) per 256-row array, one bit slice of up to 256 outputs per array (8 slices)."""
    layers = [(3, 128, 9), (128, 128, 9), (128, 256, 9), (256, 256, 9), (256, 512, 9),
              (512, 512, 9), (512, 1024, 9), (1024, 10, 1)]
    per_layer = [kernel_row_blocks(cin * kk, kk, 256).shape[0]
                 * spread_col_blocks(cout, 32, 8).shape[0] for cin, cout, kk in layers]
    assert per_layer == [8, 40, 40, 80, 160, 304, 608, 32] and sum(per_layer) == 1272
    rows = kernel_row_blocks(128 * 9, 9, 256)
    assert (rows >= 0).sum(1).tolist() == [252] * 4 + [1152 - 4 * 252]
    cols = spread_col_blocks(10, 32, 8)
    assert (cols >= 0).sum(1).tolist() == [2, 2, 1, 1, 1, 1, 1, 1]
    assert sorted(cols[cols >= 0].tolist()) == list(range(10))


def test_kernel_larger_than_the_crossbar_is_refused():
    cfg = _cfg(8, 16, 2, 8, "offset")
    spec = LayerSpec("c", "conv", (4, 2, 3, 3), (2, 5, 5))
    with pytest.raises(MappingError, match=r"kernel of 9 rows does not fit crossbar.rows=8"):
        map_layer(spec, np.ones(spec.weight_shape), cfg, "kernel_rows")


def test_registered_not_indexed_and_linear_pack_without_spec():
    sch = scheme_of("kernel_rows")
    assert isinstance(sch, KernelRowsScheme) and not sch.indexed
    cfg = _cfg(8, 16, 2, 8, "offset")            # 4 cells per weight: 4 logical cols per xbar
    q = np.arange(20 * 5).reshape(20, 5)
    ri, ci = sch.pack(q, cfg)
    assert ri.shape == (3 * 4, 8) and ci.shape == (3 * 4, 4)     # 3 row chunks x 4 col blocks


@pytest.mark.parametrize("spec", [LayerSpec("c", "conv", (5, 6, 3, 3), (6, 5, 5), (1, 1), (1, 1)),
                                  LayerSpec("fc", "linear", (3, 70), (70,))])
def test_crossbar_values_are_the_exact_integer_product(spec):
    """With a lossless ADC the crossbars compute ``x @ W`` exactly, and the counts match the
    closed form, with and without zero-input skipping."""
    cfg = config.preset("pipelayer").replace(**{"crossbar.analog_subtraction": True})
    rng = np.random.default_rng(3)
    w = rng.standard_normal(spec.weight_shape).astype(np.float32)
    lay = map_network([spec], [w], cfg, "kernel_rows").layers[0]
    k = spec.matrix_shape[0]
    assert lay.n_crossbars > 1                   # rows or columns span several crossbars
    xq = rng.integers(-2 ** 15, 2 ** 15, size=(4, k)).astype(np.int64)
    for skip in (False, True):
        res = kernels.forward(lay, xq, cfg, skip_zero_inputs=skip)
        assert np.array_equal(res.values, (xq @ unmap(lay, cfg)).astype(np.float64))
    assert kernels.forward(lay, xq, cfg).counts == kernels.forward_counts(lay, cfg, 4)


def test_example_bundle_verifies_without_the_index_unit(example_bundles):
    b = example_bundles["kernel_rows"]
    fresh = build_example_bundle("kernel_rows")
    for a, f in zip(b.layers, fresh.layers):
        assert np.array_equal(a.cells, f.cells) and a.n_crossbars == f.n_crossbars
    for iu in (True, False):
        rep = verify_bundle(b, index_unit=iu)
        assert rep.passed and all(c.max_abs_error < 1e-9 for c in rep.layers)


def test_forward_work_against_dense():
    """A full-width layer (outputs a multiple of slices x logical columns per crossbar) has
    dense's columns: the same conversions; whole kernels cost extra row chunks only when 256 is
    not a multiple of 9. A narrow layer spreads over more crossbars: the same conversions and
    shift-adds (same used columns), more DAC drives and array reads."""
    cfg = config.preset("pipelayer").replace(**{"crossbar.analog_subtraction": True})
    rng = np.random.default_rng(0)
    for cout, spread in ((cfg.logical_cols_per_crossbar * cfg.slices_per_weight, False),
                         (3, True)):
        spec = LayerSpec("c", "conv", (cout, 4, 3, 3), (4, 4, 4), (1, 1), (1, 1))
        w = rng.choice([-1.0, 1.0], size=spec.weight_shape) * rng.uniform(0.5, 1.0,
                                                                         spec.weight_shape)
        d = kernels.forward_counts(map_layer(spec, w, cfg, "dense"), cfg, 2)
        kr = kernels.forward_counts(map_layer(spec, w, cfg, "kernel_rows"), cfg, 2)
        assert kr.adc_conversions == d.adc_conversions and kr.shift_adds == d.shift_adds
        assert (kr.dac_drives > d.dac_drives) == spread
        assert (kr.ou_activations > d.ou_activations) == spread
