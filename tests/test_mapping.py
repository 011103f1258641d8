"""Tests of rram_sim.mapping and rram_sim.schemes: im2col convention, quantization, the scheme
registry and the three schemes, figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rram_sim import config
from rram_sim.errors import MappingError
from rram_sim.layout import SCHEMES, LayerSpec
from rram_sim.mapping import (
    check_spec,
    dense_crossbars,
    im2col,
    index_bits,
    layer_figures,
    map_layer,
    matrix_to_weight_index,
    network_figures,
    quantize_layer_weights,
    unit_shape,
    unmap,
    unroll_weight,
    used_positions,
    weight_index_to_matrix,
)
from rram_sim.quant import encode_cells
from rram_sim.schemes import (
    SCHEME_REGISTRY,
    CompactScheme,
    MappingScheme,
    OuScheme,
    Placement,
    index_lookups_per_vector,
    pack_nonzero,
    register_scheme,
    scheme_names,
    scheme_of,
)

SETTINGS = settings(max_examples=40, deadline=None)


def make_cfg(rows=128, cols=128, cell_bits=2, weight_bits=8, signed="offset", ou_rows=None,
             ou_cols=None):
    return config.default().replace(**{
        "crossbar.rows": rows, "crossbar.cols": cols, "crossbar.signed_scheme": signed,
        "cell.bits": cell_bits, "precision.weight_bits": weight_bits,
        "ou.rows": ou_rows or rows, "ou.cols": ou_cols or cols, "adc.columns_per_adc": 1})


def conv_reference(x, w, stride, padding):
    """Direct convolution with explicit loops (small shapes only)."""
    b, c, h, wd = x.shape
    n, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = (h + 2 * padding[0] - kh) // stride[0] + 1
    ow = (wd + 2 * padding[1] - kw) // stride[1] + 1
    out = np.zeros((b, n, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            patch = xp[:, :, oy * stride[0]:oy * stride[0] + kh, ox * stride[1]:ox * stride[1] + kw]
            out[:, :, oy, ox] = np.einsum("bckl,nckl->bn", patch, w)
    return out


# ---------------------------------------------------------------------------------------------
# im2col and index conversions
# ---------------------------------------------------------------------------------------------

@SETTINGS
@given(c=st.integers(1, 3), n=st.integers(1, 4), h=st.integers(3, 7), w=st.integers(3, 7),
       kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2), seed=st.integers(0, 999))
def test_im2col_matches_direct_convolution(c, n, h, w, kh, kw, sh, sw, ph, pw, seed):
    spec = LayerSpec("c", "conv", (n, c, kh, kw), (c, h, w), stride=(sh, sw), padding=(ph, pw))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c, h, w))
    wt = rng.standard_normal(spec.weight_shape)
    cols = im2col(x, spec)
    _, oh, ow = spec.output_shape
    assert cols.shape == (2 * oh * ow, c * kh * kw)
    got = (cols @ unroll_weight(wt, spec)).reshape(2, oh, ow, n).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, conv_reference(x, wt, (sh, sw), (ph, pw)), atol=1e-10)


def test_im2col_patch_order_and_element_order():
    spec = LayerSpec("c", "conv", (1, 2, 2, 2), (2, 3, 3))
    x = np.arange(18.0).reshape(1, 2, 3, 3)
    cols = im2col(x, spec)
    # patch (oy=0, ox=1) is row 1; elements (c, ky, kx)
    assert cols[1].tolist() == [1, 2, 4, 5, 10, 11, 13, 14]
    assert cols[2].tolist() == [3, 4, 6, 7, 12, 13, 15, 16]


def test_im2col_linear_is_identity_and_checks_shapes():
    spec = LayerSpec("fc", "linear", (3, 5), (5,))
    x = np.ones((4, 5))
    assert im2col(x, spec) is x
    with pytest.raises(MappingError, match="fc"):
        im2col(np.ones((4, 6)), spec)
    with pytest.raises(MappingError, match="input shape"):
        im2col(np.ones((1, 2, 3, 3)), LayerSpec("c", "conv", (1, 3, 1, 1), (3, 3, 3)))


def test_weight_index_round_trip_and_unroll_agree():
    rng = np.random.default_rng(0)
    for spec in (LayerSpec("c", "conv", (4, 3, 2, 3), (3, 5, 5)),
                 LayerSpec("fc", "linear", (6, 7), (7,))):
        w = rng.standard_normal(spec.weight_shape)
        m = unroll_weight(w, spec)
        assert m.shape == spec.matrix_shape
        for index in np.ndindex(*spec.weight_shape):
            r, c = weight_index_to_matrix(spec, index)
            assert m[r, c] == w[index]
            assert matrix_to_weight_index(spec, r, c) == index
    with pytest.raises(MappingError, match="outside"):
        weight_index_to_matrix(spec, (6, 0))
    with pytest.raises(MappingError, match="outside"):
        matrix_to_weight_index(spec, 7, 0)


@pytest.mark.parametrize("spec, rule", [
    (LayerSpec("x", "pool", (1, 1), (1,)), "kind"),
    (LayerSpec("x", "conv", (4, 3, 3, 3), (2, 8, 8)), "channels"),
    (LayerSpec("x", "conv", (4, 3, 5, 5), (3, 3, 3)), "does not fit"),
    (LayerSpec("x", "conv", (4, 3, 3, 3), (3, 8, 8), stride=(0, 1)), "stride"),
    (LayerSpec("x", "conv", (4, 3, 3, 3), (3, 8, 8), padding=(-1, 0)), "padding"),
    (LayerSpec("x", "linear", (4, 3), (5,)), "input_shape"),
    (LayerSpec("x", "linear", (4, 0), (0,)), "weight_shape"),
])
def test_check_spec_rejects_bad_layers(spec, rule):
    with pytest.raises(MappingError, match=rule):
        check_spec(spec)


# ---------------------------------------------------------------------------------------------
# Quantization
# ---------------------------------------------------------------------------------------------

def test_scale_comes_from_masked_weights():
    spec = LayerSpec("fc", "linear", (2, 2), (2,))
    cfg = make_cfg(weight_bits=8)
    w = np.array([[100.0, 1.0], [-0.5, 0.25]])
    mask = np.array([[0, 1], [1, 1]])
    q, scale = quantize_layer_weights(w, spec, cfg, mask)
    assert scale == pytest.approx(1.0 / 127)
    assert q.tolist() == [[0, -64], [127, 32]]        # unrolled: W.T
    assert q.dtype == np.int64


@pytest.mark.parametrize("kwargs, rule", [
    ({"w": np.ones((3, 3))}, "weight shape"),
    ({"mask": np.ones((3, 3))}, "mask shape"),
    ({"mask": np.full((2, 2), 0.5)}, "0 and 1"),
    ({"w": np.array([[np.nan, 1.0], [1.0, 1.0]])}, "NaN"),
])
def test_quantize_rejects_bad_inputs(kwargs, rule):
    spec = LayerSpec("fc", "linear", (2, 2), (2,))
    w = kwargs.get("w", np.ones((2, 2)))
    with pytest.raises(MappingError, match=rule):
        quantize_layer_weights(w, spec, make_cfg(), kwargs.get("mask"))


def test_map_layer_rejects_bad_scheme_and_bias():
    spec = LayerSpec("fc", "linear", (2, 2), (2,))
    with pytest.raises(MappingError, match="scheme"):
        map_layer(spec, np.ones((2, 2)), make_cfg(), "sparse")
    with pytest.raises(MappingError, match="bias shape"):
        map_layer(spec, np.ones((2, 2)), make_cfg(), bias=np.ones(3))


# ---------------------------------------------------------------------------------------------
# Round trip and structural invariants, every scheme (property test)
# ---------------------------------------------------------------------------------------------

def check_structure(lay, cfg):
    """Index tables without duplicates, units inside crossbars, no overlaps, unused cells zero."""
    k, n = lay.spec.matrix_shape
    valid = used_positions(lay.row_index, lay.col_index)
    rr = np.broadcast_to(lay.row_index[:, :, None], valid.shape)[valid]
    cc = np.broadcast_to(lay.col_index[:, None, :], valid.shape)[valid]
    pairs = rr.astype(np.int64) * n + cc
    assert len(np.unique(pairs)) == len(pairs)
    assert np.all((lay.row_index >= -1) & (lay.row_index < k))
    assert np.all((lay.col_index >= -1) & (lay.col_index < n))
    assert lay.cells.dtype == np.uint8 and lay.row_index.dtype == np.int32
    assert np.all(lay.cells < 2 ** cfg.cell.bits)
    assert not np.any(lay.cells[~valid])
    R, C, lw = cfg.crossbar.rows, cfg.crossbar.cols, cfg.columns_per_weight
    width = lay.unit_cols * lw
    occupancy = np.zeros((lay.n_crossbars, R, C), np.int64)
    for u in range(lay.n_units):      # test-side reference check, small layers only
        x, r0, c0 = lay.crossbar[u], lay.row_offset[u], lay.col_offset[u]
        assert 0 <= x < lay.n_crossbars
        assert r0 + lay.unit_rows <= R and c0 + width <= C
        occupancy[x, r0:r0 + lay.unit_rows, c0:c0 + width] += 1
    assert occupancy.max(initial=0) <= 1


@st.composite
def mapping_case(draw):
    cell_bits = draw(st.integers(1, 4))
    weight_bits = draw(st.integers(2, 10))
    signed = draw(st.sampled_from(["offset", "differential"]))
    lw = math.ceil(weight_bits / cell_bits) * (2 if signed == "differential" else 1)
    cols = lw * draw(st.integers(1, 5))
    ou_cols = draw(st.sampled_from([d for d in range(1, cols + 1) if cols % d == 0]))
    ou_rows = draw(st.integers(1, 6))
    rows = ou_rows * draw(st.integers(1, 4))
    cfg = make_cfg(rows, cols, cell_bits, weight_bits, signed, ou_rows, ou_cols)
    if draw(st.booleans()):
        spec = LayerSpec("c", "conv", (draw(st.integers(1, 9)), draw(st.integers(1, 3)),
                                       draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                         (1, 4, 4))
        spec = LayerSpec("c", "conv", spec.weight_shape, (spec.weight_shape[1], 4, 4))
    else:
        i, o = draw(st.integers(1, 30)), draw(st.integers(1, 20))
        spec = LayerSpec("fc", "linear", (o, i), (i,))
    density = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    seed = draw(st.integers(0, 10_000))
    return cfg, spec, density, seed


@SETTINGS
@given(case=mapping_case(), scheme=st.sampled_from(["dense", "compact", "ou"]))
def test_unmap_of_map_is_the_quantized_matrix(case, scheme):
    cfg, spec, density, seed = case
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(spec.weight_shape)
    mask = rng.random(spec.weight_shape) < density
    lay = map_layer(spec, w, cfg, scheme, mask=mask)
    q, scale = quantize_layer_weights(w, spec, cfg, mask)
    np.testing.assert_array_equal(unmap(lay, cfg), q)
    assert lay.weight_scale == scale
    assert (lay.unit_rows, lay.unit_cols) == unit_shape(scheme, cfg)
    check_structure(lay, cfg)
    f = lay.figures
    assert f["weights_nonzero"] == np.count_nonzero(q)
    assert f["cells_used"] == f["weights_stored"] * cfg.columns_per_weight
    assert f["cells_available"] == lay.n_crossbars * cfg.crossbar.rows * cfg.crossbar.cols
    if scheme == "dense":
        assert lay.n_crossbars == dense_crossbars(spec, cfg)
        assert f["weights_stored"] == q.size
    else:
        assert lay.n_crossbars <= dense_crossbars(spec, cfg)


def test_encoded_zero_is_stored_for_pruned_weights_in_dense():
    spec = LayerSpec("fc", "linear", (2, 3), (3,))
    cfg = make_cfg(rows=4, cols=8, cell_bits=2, weight_bits=8, signed="offset")
    lay = map_layer(spec, np.ones((2, 3)), cfg, "dense", mask=np.array([[1, 0, 1], [1, 1, 1]]))
    zero = encode_cells(np.zeros(1, np.int64), 8, 2, "offset")[0]
    # matrix position (row 1, col 0) is W[0, 1], pruned
    np.testing.assert_array_equal(lay.cells[0, 1, 0], zero)
    assert lay.row_index[0].tolist() == [0, 1, 2, -1]
    assert lay.col_index[0].tolist() == [0, 1]
    assert not lay.cells[0, 3].any()          # unused row holds level 0


def test_all_zero_layer_maps_to_no_crossbars_when_compacted():
    spec = LayerSpec("fc", "linear", (4, 5), (5,))
    cfg = make_cfg(rows=4, cols=8)
    for scheme in ("compact", "ou"):
        lay = map_layer(spec, np.zeros((4, 5)), cfg, scheme)
        assert lay.n_crossbars == 0 and lay.n_units == 0
        np.testing.assert_array_equal(unmap(lay, cfg), np.zeros((5, 4), np.int64))
        assert lay.figures["utilization"] == 0.0


# ---------------------------------------------------------------------------------------------
# Crossbar counts
# ---------------------------------------------------------------------------------------------

VGG16_CONVS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
               (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]


def vgg16_specs():
    return [LayerSpec(f"conv{i}", "conv", (o, c, 3, 3), (c, 4, 4), padding=(1, 1))
            for i, (c, o) in enumerate(VGG16_CONVS)]


@pytest.mark.parametrize("cell_bits, weight_bits, lw, expected", [
    (8, 8, 1, 902),       # one cell per weight
    (2, 16, 8, 7192),     # 16-bit weights on 2-bit cells, offset scheme
])
def test_vgg16_dense_crossbar_counts(cell_bits, weight_bits, lw, expected):
    cfg = make_cfg(128, 128, cell_bits, weight_bits, "offset")
    assert cfg.columns_per_weight == lw
    specs = vgg16_specs()
    assert sum(dense_crossbars(s, cfg) for s in specs) == expected
    # and the mapping itself (zero weights: dense stores them all) agrees, for the layers that
    # differ in shape
    for s in specs[:9]:
        lay = map_layer(s, np.zeros(s.weight_shape, np.float32), cfg, "dense")
        assert lay.n_crossbars == dense_crossbars(s, cfg)


@pytest.mark.parametrize("signed, cell_bits, weight_bits", [
    ("offset", 2, 8), ("differential", 2, 8), ("offset", 1, 4), ("offset", 8, 8)])
def test_compact_after_structured_pruning_needs_the_predicted_crossbars(signed, cell_bits,
                                                                       weight_bits):
    cfg = make_cfg(32, 32, cell_bits, weight_bits, signed)
    rng = np.random.default_rng(1)
    spec = LayerSpec("c", "conv", (40, 12, 3, 3), (12, 6, 6))
    k, n = spec.matrix_shape
    # magnitudes in [0.5, 1]: no surviving weight quantizes to zero
    w = rng.uniform(0.5, 1.0, spec.weight_shape) * rng.choice([-1, 1], spec.weight_shape)
    keep_rows = rng.random(k) < 0.6
    keep_cols = rng.random(n) < 0.5
    mask = unroll_weight(np.ones(spec.weight_shape), spec).copy()
    mask[~keep_rows] = 0
    mask[:, ~keep_cols] = 0
    mask = mask.T.reshape(spec.weight_shape)
    lay = map_layer(spec, w, cfg, "compact", mask=mask)
    rows_left, cols_left = int(keep_rows.sum()), int(keep_cols.sum())
    lw, R, C = cfg.columns_per_weight, cfg.crossbar.rows, cfg.crossbar.cols
    assert lay.n_crossbars == -(-rows_left // R) * -(-(cols_left * lw) // C)
    assert lay.n_crossbars < dense_crossbars(spec, cfg)
    check_structure(lay, cfg)


def test_compact_index_tables_hold_surviving_rows_and_columns_in_order():
    spec = LayerSpec("fc", "linear", (6, 5), (5,))       # matrix 5 x 6
    cfg = make_cfg(rows=2, cols=2, cell_bits=8, weight_bits=8)   # Lc = 2
    q = np.zeros((5, 6))
    q[[0, 3], 1] = 1.0
    q[4, 2] = -1.0
    q[[1, 3, 4], 5] = 0.5
    lay = map_layer(spec, q.T, cfg, "compact")
    # column blocks (1, 2) and (5,); block 1 rows {0, 3, 4} -> 2 crossbars; block 2 rows {1,3,4}
    assert lay.col_index.tolist() == [[1, 2], [1, 2], [5, -1], [5, -1]]
    assert lay.row_index.tolist() == [[0, 3], [4, -1], [1, 3], [4, -1]]
    assert lay.n_crossbars == 4
    f = lay.figures
    assert f["index_table_bits"] == 4 * (2 * index_bits(5) + 2 * index_bits(6))
    assert f["weights_stored"] == 4 + 2 + 2 + 1


def test_ou_units_fill_slots_column_by_column():
    cfg = make_cfg(rows=8, cols=8, cell_bits=8, weight_bits=8, ou_rows=2, ou_cols=4)
    spec = LayerSpec("fc", "linear", (8, 16), (16,))
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 1, (8, 16))
    lay = map_layer(spec, w, cfg, "ou")
    # Lou = 4 columns per unit, 2 groups; 16 rows -> 8 units per group, 16 units.
    # slots per crossbar: 4 down x 2 across = 8 -> 2 crossbars.
    assert lay.n_units == 16 and lay.n_crossbars == 2
    assert lay.row_offset[:5].tolist() == [0, 2, 4, 6, 0]
    assert lay.col_offset[:5].tolist() == [0, 0, 0, 0, 4]
    assert lay.crossbar.tolist() == [0] * 8 + [1] * 8
    assert lay.figures["index_table_bits"] == 16 * (2 * index_bits(16) + 4 * index_bits(8))
    check_structure(lay, cfg)


def test_ou_narrower_than_one_weight_uses_one_logical_column():
    cfg = make_cfg(rows=4, cols=8, cell_bits=2, weight_bits=8, ou_rows=2, ou_cols=2)  # Lw = 4
    assert unit_shape("ou", cfg) == (2, 1)
    spec = LayerSpec("fc", "linear", (3, 4), (4,))
    lay = map_layer(spec, np.ones((3, 4)), cfg, "ou")
    assert lay.n_units == 6        # 3 columns x 2 row chunks, 2 x 2 slots per crossbar
    assert lay.n_crossbars == 2
    check_structure(lay, cfg)


def test_sparse_masks_shrink_ou_and_compact_and_network_figures():
    cfg = make_cfg(rows=16, cols=16, cell_bits=2, weight_bits=8, ou_rows=4, ou_cols=4)
    spec = LayerSpec("c", "conv", (32, 8, 3, 3), (8, 5, 5))
    rng = np.random.default_rng(3)
    w = rng.standard_normal(spec.weight_shape)
    mask = rng.random(spec.weight_shape) < 0.05
    figs = {s: map_layer(spec, w, cfg, s, mask=mask).figures for s in ("dense", "compact", "ou")}
    assert figs["ou"]["n_crossbars"] < figs["dense"]["n_crossbars"]
    tot = network_figures([figs["ou"], figs["ou"]])
    assert tot["n_crossbars"] == 2 * figs["ou"]["n_crossbars"]
    assert tot["compression_rate"] == pytest.approx(
        figs["dense"]["n_crossbars"] / figs["ou"]["n_crossbars"])
    assert tot["hardware_reduction"] == pytest.approx(1 - 1 / tot["compression_rate"])
    assert figs["dense"]["index_table_bits"] == 0
    assert network_figures([])["compression_rate"] is None


def test_layer_figures_recomputed_from_arrays_match():
    cfg = make_cfg(rows=8, cols=8)
    spec = LayerSpec("fc", "linear", (5, 9), (9,))
    lay = map_layer(spec, np.random.default_rng(0).standard_normal((5, 9)), cfg, "ou")
    assert layer_figures(lay, cfg) == lay.figures


def test_index_bits():
    assert [index_bits(c) for c in (1, 2, 3, 4, 5, 128, 129)] == [1, 1, 2, 2, 3, 7, 8]


def test_dense_crossbar_numbering_is_column_block_major():
    cfg = make_cfg(rows=4, cols=2, cell_bits=8, weight_bits=8)     # R = 4, Lc = 2
    spec = LayerSpec("fc", "linear", (3, 6), (6,))                  # K = 6, N = 3
    lay = map_layer(spec, np.ones((3, 6)), cfg, "dense")
    assert lay.n_crossbars == 4
    # crossbar j*ceil(K/R) + i holds row block i, column block j
    assert lay.row_index[:, 0].tolist() == [0, 4, 0, 4]
    assert lay.col_index[:, 0].tolist() == [0, 0, 2, 2]
    assert lay.row_index[1].tolist() == [4, 5, -1, -1]
    assert lay.col_index[3].tolist() == [2, -1]


# ---------------------------------------------------------------------------------------------
# The scheme registry
# ---------------------------------------------------------------------------------------------

def test_scheme_registry_lookup_and_unknown_names():
    assert scheme_names()[:3] == ("dense", "compact", "ou") and SCHEMES == scheme_names()
    assert isinstance(scheme_of("ou"), OuScheme)
    assert [scheme_of(s).indexed for s in ("dense", "compact", "ou")] == [False, True, True]
    with pytest.raises(MappingError, match=r"scheme='sparse' must be one of dense, compact, ou"):
        scheme_of("sparse")
    with pytest.raises(MappingError, match=r"scheme=\['ou'\] must be one of"):
        scheme_of(["ou"])
    with pytest.raises(MappingError, match=r"layer 'fc': scheme='sparse' must be one of dense"):
        map_layer(LayerSpec("fc", "linear", (2, 2), (2,)), np.ones((2, 2)), make_cfg(), "sparse")
    with pytest.raises(MappingError, match="new, non-empty name"):
        register_scheme(CompactScheme())
    with pytest.raises(MappingError, match="MappingScheme instance"):
        register_scheme(CompactScheme)


class HalfHeightScheme(MappingScheme):
    """Test scheme: compact packing into half-crossbar-high units, two stacked per crossbar."""

    name = "half_height_test"
    indexed = True

    def unit_shape(self, cfg):
        return cfg.crossbar.rows // 2, cfg.logical_cols_per_crossbar

    def pack(self, q, cfg):
        urows, ucols = self.unit_shape(cfg)
        return pack_nonzero(q, urows, ucols)

    def place(self, n_units, cfg):
        u = np.arange(n_units)
        return Placement((u // 2).astype(np.int32),
                         ((u % 2) * (cfg.crossbar.rows // 2)).astype(np.int32),
                         np.zeros(n_units, np.int32), -(-n_units // 2))

    def index_tables(self, layout):
        return layout.n_units


@pytest.fixture
def half_height():
    scheme = register_scheme(HalfHeightScheme())
    try:
        yield scheme
    finally:
        SCHEME_REGISTRY.pop(scheme.name)


def test_a_registered_scheme_maps_and_unmaps_end_to_end(half_height):
    cfg = make_cfg(rows=8, cols=8, cell_bits=2, weight_bits=8)
    spec = LayerSpec("c", "conv", (5, 3, 3, 3), (3, 5, 5))
    rng = np.random.default_rng(4)
    w = rng.standard_normal(spec.weight_shape)
    mask = rng.random(spec.weight_shape) < 0.3
    lay = map_layer(spec, w, cfg, "half_height_test", mask=mask)
    q, _ = quantize_layer_weights(w, spec, cfg, mask)
    np.testing.assert_array_equal(unmap(lay, cfg), q)
    assert unit_shape("half_height_test", cfg) == (lay.unit_rows, lay.unit_cols) == (4, 2)
    assert lay.n_crossbars == -(-lay.n_units // 2) < lay.n_units
    check_structure(lay, cfg)
    k, n = spec.matrix_shape
    assert lay.figures["index_table_bits"] == lay.n_units * (4 * index_bits(k) + 2 * index_bits(n))
    assert index_lookups_per_vector(lay) > 0
    assert "half_height_test" not in SCHEMES          # the import-time snapshot of the built-ins


def test_rows_per_crossbar_hook_of_the_schemes():
    cfg = make_cfg(rows=8, cols=8, cell_bits=8, weight_bits=8, ou_rows=2, ou_cols=4)
    lay = map_layer(LayerSpec("fc", "linear", (8, 16), (16,)),
                    np.random.default_rng(0).uniform(0.5, 1, (8, 16)), cfg, "ou")
    used = (lay.row_index >= 0).sum(1)
    # 16 OU units of 2 rows in 4 x 2 slots per crossbar: the two slot columns share rows
    assert scheme_of("ou").rows_per_crossbar(lay, used, 2, cfg).tolist() == [8, 8]
    assert scheme_of("compact").rows_per_crossbar(lay, used, 2, cfg).tolist() == [16, 16]
