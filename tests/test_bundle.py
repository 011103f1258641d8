"""Tests of rram_sim.bundle: map_network, golden vectors, save/load round trip, every corruption
load_bundle must catch, and the `rram-sim layout` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rram_sim import config
from rram_sim.bundle import (
    BUNDLE_FORMAT_VERSION,
    GraphNode,
    golden_from_numpy,
    load_bundle,
    map_network,
    save_bundle,
)
from rram_sim.errors import LayoutError, MappingError
from rram_sim.layout import LayerSpec
from rram_sim.mapping import im2col, unmap

SPECS = [LayerSpec("c1", "conv", (8, 3, 3, 3), (3, 6, 6), padding=(1, 1)),
         LayerSpec("c2", "conv", (12, 8, 3, 3), (8, 6, 6), stride=(2, 2)),
         LayerSpec("fc", "linear", (5, 12 * 2 * 2), (48,))]
GRAPH = [GraphNode("input", "input"), GraphNode("c1", "conv", ["input"]),
         GraphNode("r1", "relu", ["c1"]), GraphNode("c2", "conv", ["r1"]),
         GraphNode("r2", "relu", ["c2"]), GraphNode("flat", "flatten", ["r2"]),
         GraphNode("fc", "linear", ["flat"]), GraphNode("sm", "softmax", ["fc"])]


def small_cfg():
    return config.default().replace(**{"crossbar.rows": 16, "crossbar.cols": 16,
                                       "ou.rows": 4, "ou.cols": 8, "adc.columns_per_adc": 16})


def make_bundle(scheme="ou", seed=0, golden=True):
    rng = np.random.default_rng(seed)
    cfg = small_cfg()
    ws = {s.name: rng.standard_normal(s.weight_shape) for s in SPECS}
    ms = {s.name: rng.random(s.weight_shape) < 0.4 for s in SPECS}
    bs = {s.name: rng.standard_normal(s.weight_shape[0]) for s in SPECS}
    b = map_network(SPECS, ws, cfg, scheme, masks=ms, biases=bs, graph=GRAPH,
                    replication={"c1": 2})
    if golden:
        for s in SPECS[:2]:
            x = rng.standard_normal((2, *s.input_shape))
            b.golden[s.name] = golden_from_numpy(s, ws[s.name], bs[s.name], x, cfg, ms[s.name])
    return b


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("b") / "net"
    save_bundle(make_bundle(), path)
    return path


def assert_bundles_equal(a, b):
    assert a.config == b.config and a.scheme == b.scheme
    assert a.figures == b.figures and a.meta == b.meta and a.graph == b.graph
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert la.spec == lb.spec and la.scheme == lb.scheme
        assert la.weight_scale == lb.weight_scale and la.n_crossbars == lb.n_crossbars
        assert la.figures == lb.figures
        for k in ("row_index", "col_index", "cells", "crossbar", "row_offset", "col_offset",
                  "bias"):
            np.testing.assert_array_equal(getattr(la, k), getattr(lb, k))
            assert getattr(la, k).dtype == getattr(lb, k).dtype
    pa, pb = a.placement, b.placement
    assert pa.to_dict() == pb.to_dict()
    for x, y in zip(pa.location, pb.location, strict=True):
        np.testing.assert_array_equal(x, y)
    assert list(a.golden) == list(b.golden)
    for name in a.golden:
        for k in ("input", "output", "output_quantized"):
            np.testing.assert_array_equal(getattr(a.golden[name], k), getattr(b.golden[name], k))


@pytest.mark.parametrize("scheme", ["dense", "compact", "ou"])
def test_round_trip(tmp_path, scheme):
    b = make_bundle(scheme)
    save_bundle(b, tmp_path / "x")
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["arrays.npz", "manifest.json"]
    assert_bundles_equal(b, load_bundle(tmp_path / "x"))
    # overwriting an existing bundle replaces it and leaves no temporary directories behind
    b2 = make_bundle(scheme, seed=1, golden=False)
    save_bundle(b2, tmp_path / "x")
    assert_bundles_equal(b2, load_bundle(tmp_path / "x"))
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


def test_map_network_figures_and_placement():
    b = make_bundle("ou")
    assert b.figures["n_crossbars"] == sum(lay.n_crossbars for lay in b.layers)
    assert b.figures["crossbars_placed"] == b.figures["n_crossbars"] + b.layers[0].n_crossbars
    assert b.placement.replication == [2, 1, 1]
    assert b.figures["compression_rate"] == pytest.approx(
        b.figures["dense_crossbars"] / b.figures["n_crossbars"])
    d = map_network(SPECS, [np.ones(s.weight_shape) for s in SPECS], small_cfg())
    assert [n.op for n in d.graph] == ["input", "conv", "conv", "flatten", "linear"]
    assert d.figures["compression_rate"] == 1.0 and d.figures["hardware_reduction"] == 0.0


def test_golden_reference_values():
    cfg = small_cfg().replace(**{"precision.weight_bits": 16, "precision.input_bits": 16})
    rng = np.random.default_rng(5)
    s = SPECS[1]
    w, bias = rng.standard_normal(s.weight_shape), rng.standard_normal(12)
    mask = rng.random(s.weight_shape) < 0.5
    x = rng.standard_normal((3, *s.input_shape))
    g = golden_from_numpy(s, w, bias, x, cfg, mask)
    assert g.output.shape == (3, 12, 2, 2) == g.output_quantized.shape
    ref = np.zeros((3, 12, 2, 2))
    wm = w * mask
    for oy in range(2):
        for ox in range(2):
            patch = x[:, :, 2 * oy:2 * oy + 3, 2 * ox:2 * ox + 3]
            ref[:, :, oy, ox] = np.einsum("bckl,nckl->bn", patch, wm) + bias
    np.testing.assert_allclose(g.output, ref, atol=1e-10)
    np.testing.assert_allclose(g.output_quantized, ref, atol=1e-2)
    # the quantized reference is exactly what the layout stores, times the scales
    lay = map_network([s], [w], cfg, "compact", masks=[mask], biases=[bias]).layers[0]
    from rram_sim.quant import quantize
    xq, sx = quantize(x, 16)
    exact = (im2col(xq, s) @ unmap(lay, cfg)).astype(np.float64) * (sx * lay.weight_scale) + bias
    np.testing.assert_array_equal(
        exact.reshape(3, 2, 2, 12).transpose(0, 3, 1, 2), g.output_quantized)


def test_map_network_rejects_bad_input():
    cfg = small_cfg()
    ws = [np.ones(s.weight_shape) for s in SPECS]
    with pytest.raises(MappingError, match="duplicate name"):
        map_network([SPECS[0], SPECS[0]], ws[:1] * 2, cfg)
    with pytest.raises(MappingError, match="missing for layer"):
        map_network(SPECS, {"c1": ws[0]}, cfg)
    with pytest.raises(MappingError, match="2 given for 3 layers"):
        map_network(SPECS, ws[:2], cfg)
    with pytest.raises(MappingError, match="not an earlier node"):
        map_network(SPECS, ws, cfg, graph=[GraphNode("c1", "conv", ["input"])] + GRAPH[2:])
    with pytest.raises(MappingError, match="op='gelu'"):
        map_network(SPECS, ws, cfg, graph=GRAPH[:2] + [GraphNode("r1", "gelu", ["c1"])])
    with pytest.raises(MappingError, match="have no node"):
        map_network(SPECS, ws, cfg, graph=GRAPH[:3])
    with pytest.raises(MappingError, match="golden input shape"):
        golden_from_numpy(SPECS[0], ws[0], None, np.ones((2, 3, 5, 5)), cfg)


def test_save_refuses_to_replace_a_non_bundle(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep.txt").write_text("x")
    with pytest.raises(LayoutError, match="not a bundle directory"):
        save_bundle(make_bundle(golden=False), tmp_path / "d")
    assert (tmp_path / "d" / "keep.txt").exists()


# ---------------------------------------------------------------------------------------------
# Corruptions
# ---------------------------------------------------------------------------------------------

def corrupt(src, dst, manifest=None, arrays=None):
    """Copy bundle ``src`` to ``dst`` applying ``manifest(m)`` and ``arrays(a)`` edits."""
    m = json.loads((src / "manifest.json").read_text())
    with np.load(src / "arrays.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    if manifest:
        manifest(m)
    if arrays:
        arrays(a)
    dst.mkdir()
    (dst / "manifest.json").write_text(json.dumps(m))
    np.savez(dst / "arrays.npz", **a)
    return dst


def _set(d, key, value):
    d[key] = value


def _edit(a, key, fn):
    a[key] = fn(a[key].copy())


def _ou_overlap(a):
    a["L1.row_offset"] = np.zeros_like(a["L1.row_offset"])
    a["L1.col_offset"] = np.zeros_like(a["L1.col_offset"])


def _dup_pair(a):
    ri, ci = a["L1.row_index"].copy(), a["L1.col_index"].copy()
    ri[1], ci[1] = ri[0], ci[0]
    cells = a["L1.cells"].copy()
    cells[1] = cells[0]
    a["L1.row_index"], a["L1.col_index"], a["L1.cells"] = ri, ci, cells


def _unused_cell(a):
    ri = a["L0.row_index"].copy()
    ri[0, 0] = -1
    a["L0.row_index"] = ri


CORRUPTIONS = [
    ("newer format", dict(manifest=lambda m: _set(m, "format_version",
                                                  BUNDLE_FORMAT_VERSION + 1)),
     r"format_version=3: this rram_sim reads versions 1..2"),
    ("bad config", dict(manifest=lambda m: m["config"]["crossbar"].update(rows=0)),
     r"manifest.config invalid: crossbar.rows=0"),
    ("unknown scheme", dict(manifest=lambda m: _set(m, "scheme", "sparse")), "scheme='sparse'"),
    ("missing key", dict(manifest=lambda m: m.pop("placement")), "missing key 'placement'"),
    ("bad spec", dict(manifest=lambda m: m["layers"][1]["spec"].update(kind="pool")),
     r"layers\[1\].spec: layer 'c2': kind='pool'"),
    ("bad scale", dict(manifest=lambda m: m["layers"][0].update(weight_scale=-1.0)),
     "layer 'c1' .0.: weight_scale=-1.0"),
    ("crossbars beyond units", dict(manifest=lambda m: m["layers"][1].update(n_crossbars=10 ** 9)),
     r"layer 'c2' .1.: n_crossbars=1000000000 must lie in 0\.\.\d+ \(the layer's units\)"),
    ("negative crossbars", dict(manifest=lambda m: m["layers"][1].update(n_crossbars=-1)),
     "n_crossbars=-1 must lie in"),
    ("spec entry beyond the limit",
     dict(manifest=lambda m: m["layers"][0]["spec"].update(stride=[10 ** 30, 1])),
     r"layers\[0\].spec.stride=\[.*\]: entries must not exceed"),
    ("missing array", dict(arrays=lambda a: a.pop("L1.cells")),
     "layer 'c2' .1.: array 'L1.cells' missing"),
    ("missing bias", dict(arrays=lambda a: a.pop("L2.bias")), "layer 'fc' .2.: array 'L2.bias'"),
    ("wrong dtype", dict(arrays=lambda a: _edit(a, "L0.row_index", lambda x: x.astype(np.int64))),
     "array 'L0.row_index' has dtype int64, must be int32"),
    ("wrong shape", dict(arrays=lambda a: _edit(a, "L1.cells", lambda x: x[:, :, :, :2])),
     r"array 'L1.cells' has shape .*, must be"),
    ("unit count mismatch", dict(arrays=lambda a: _edit(a, "L1.crossbar", lambda x: x[:-1])),
     "array 'L1.crossbar' has shape"),
    ("level out of range",
     dict(arrays=lambda a: _edit(a, "L1.cells", lambda x: x + np.uint8(4) * (x > 0))),
     r"layer 'c2' .1.: cells: level \d+ out of range 0..3 for cell.bits=2"),
    ("row index out of range",
     dict(arrays=lambda a: _edit(a, "L0.row_index", lambda x: np.where(x == x.max(), 999, x))),
     r"layer 'c1' .0.: row_index: entries must lie in -1..26"),
    ("col index out of range",
     dict(arrays=lambda a: _edit(a, "L2.col_index", lambda x: np.where(x == 0, -7, x))),
     r"layer 'fc' .2.: col_index: entries must lie in -1..4"),
    ("duplicate pair", dict(arrays=_dup_pair), r"layer 'c2' .1.: index tables: .* stored 2 times"),
    ("unused cell non-zero", dict(arrays=_unused_cell), "unused rows/columns must hold level 0"),
    ("crossbar out of range",
     dict(arrays=lambda a: _edit(a, "L1.crossbar", lambda x: x + 100)),
     "crossbar: entry .* out of range for n_crossbars"),
    ("row offset out of bounds",
     dict(arrays=lambda a: _edit(a, "L1.row_offset", lambda x: x + 14)),
     "row_offset: a unit of 4 rows .* overruns the crossbar's 16 rows"),
    ("col offset out of bounds",
     dict(arrays=lambda a: _edit(a, "L1.col_offset", lambda x: x + 9)),
     "col_offset: a unit of 8 columns .* overruns the crossbar's 16 columns"),
    ("negative offset", dict(arrays=lambda a: _edit(a, "L1.row_offset", lambda x: x - 100)),
     "row_offset: negative entry"),
    ("overlapping units", dict(arrays=_ou_overlap), r"layer 'c2' .1.: units overlap on crossbar"),
    ("placement out of range",
     dict(arrays=lambda a: _edit(a, "P0.location", lambda x: x + np.int32([0, 99, 0, 0]))),
     "layer 'c1' placement: location tile out of range 0..15"),
    ("placement collision",
     dict(arrays=lambda a: _edit(a, "P2.location", lambda x: np.zeros_like(x))),
     "two crossbars share one"),
    ("placement replication", dict(manifest=lambda m: m["placement"].update(replication=[1, 1, 1])),
     r"array 'P0.location' has shape \(2, "),
    ("bad graph", dict(manifest=lambda m: m["graph"][2].update(op="gelu")),
     r"graph node 2 \('r1'\): op='gelu'"),
    ("golden unknown layer", dict(manifest=lambda m: _set(m, "golden", ["nope"])),
     r"golden\[0\]='nope'"),
    ("golden wrong shape", dict(arrays=lambda a: _edit(a, "G1.output", lambda x: x[:, :3])),
     "golden 'c2': array 'G1.output' has shape"),
    ("golden dtype", dict(arrays=lambda a: _edit(a, "G0.input", lambda x: x.astype(np.float32))),
     "must be float64"),
]


@pytest.mark.parametrize("name, edits, message", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_load_rejects_corruption(saved, tmp_path, name, edits, message):
    bad = corrupt(saved, tmp_path / "bad", **edits)
    with pytest.raises(LayoutError, match=message):
        load_bundle(bad)


def test_load_rejects_missing_files(saved, tmp_path):
    with pytest.raises(LayoutError, match="not a bundle directory"):
        load_bundle(tmp_path / "nothing")
    d = corrupt(saved, tmp_path / "nomanifest")
    (d / "manifest.json").unlink()
    with pytest.raises(LayoutError, match="manifest.json missing"):
        load_bundle(d)
    d = corrupt(saved, tmp_path / "nonpz")
    (d / "arrays.npz").unlink()
    with pytest.raises(LayoutError, match="arrays.npz missing"):
        load_bundle(d)
    d = corrupt(saved, tmp_path / "badjson")
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(LayoutError, match="not valid JSON"):
        load_bundle(d)
    d = corrupt(saved, tmp_path / "badnpz")
    (d / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(LayoutError, match="not a readable .npz"):
        load_bundle(d)


def test_load_refuses_pickled_arrays(saved, tmp_path):
    def add_object(a):
        a["L0.cells"] = np.array([{"x": 1}], dtype=object)
    bad = corrupt(saved, tmp_path / "obj", arrays=add_object)
    with pytest.raises(LayoutError, match="L0.cells' unreadable"):
        load_bundle(bad)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def test_cli_layout_table_and_json(saved, run_cli):
    rc, out, _ = run_cli("layout", saved)
    assert rc == 0
    assert "c1" in out and "total" in out and "compression rate" in out
    rc, out, _ = run_cli("layout", saved, "--json")
    assert rc == 0
    fig = json.loads(out)
    b = load_bundle(saved)
    assert [f["name"] for f in fig["layers"]] == ["c1", "c2", "fc"]
    assert fig["layers"][0]["replication"] == 2
    assert fig["total"]["n_crossbars"] == b.figures["n_crossbars"]


def test_cli_layout_error_exits_2(tmp_path, run_cli):
    rc, _, err = run_cli("layout", tmp_path / "none")
    assert rc == 2
    assert err.startswith("rram-sim layout: error: bundle") and err.count("\n") == 1


def test_cli_layout_shipped_example_and_argument_rules(run_cli):
    rc, out, _ = run_cli("layout", "--example", "ou", "--json")
    assert rc == 0
    fig = json.loads(out)
    assert fig["scheme"] == "ou" and fig["total"]["n_crossbars"] >= 1
    rc, _, err = run_cli("layout")
    assert rc == 2 and "exactly one of BUNDLE or --example" in err


# ---------------------------------------------------------------------------------------------
# The network graph (rram_sim.graph) as bundles check it
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("node, message", [
    (GraphNode("p", "maxpool", ["r1"], {"kernel": 0}), r"params.kernel=0: must be an integer >= 1"),
    (GraphNode("p", "maxpool", ["r1"], {"stride": [2, "2"]}), "params.stride"),
    (GraphNode("p", "avgpool", ["r1"], {"padding": -1}), r"params.padding=-1: .* >= 0"),
    (GraphNode("p", "avgpool", ["r1"], {"global": 1}), "params.global=1: must be true or false"),
    (GraphNode("p", "maxpool", ["r1"], {"kernal": 2}), "param 'kernal' is not one of op maxpool"),
    (GraphNode("r9", "relu", ["r1"], {"slope": 0.1}), r"param 'slope' .*\(none\)"),
    (GraphNode("r9", "relu", ["r1", "c1"]), "op relu takes exactly 1 input"),
    (GraphNode("a", "add", ["r1"]), "op add takes at least 2 input"),
])
def test_graph_op_params_and_arity_are_checked(node, message):
    graph = GRAPH[:3] + [node] + GRAPH[3:]
    ws = [np.ones(s.weight_shape) for s in SPECS]
    with pytest.raises(MappingError, match=message):
        map_network(SPECS, ws, small_cfg(), graph=graph)


def test_graph_input_shape_param_checked_and_engine_chain():
    from rram_sim.graph import OPS, chain_graph, check_graph, check_node, default_graph

    check_node(GraphNode("input", "input", [], {"shape": [3, 6, 6]}), 0)
    with pytest.raises(LayoutError, match="params.shape"):
        check_node(GraphNode("input", "input", [], {"shape": [3, 0, 6]}), 0)
    with pytest.raises(LayoutError, match="takes exactly 0 input"):
        check_node(GraphNode("input", "input", ["x"]), 0)
    chain = chain_graph(SPECS)
    assert chain[0].params == {"shape": (3, 6, 6)}
    assert [(n.name, n.op) for n in chain[1:]] == [(n.name, n.op) for n in default_graph(SPECS)[1:]]
    assert default_graph(SPECS)[0].params == {}          # what a bundle stores: no shape
    check_graph(chain, SPECS)
    with pytest.raises(LayoutError, match="no layers"):
        chain_graph([])
    assert set(OPS) == {"input", "conv", "linear", "relu", "maxpool", "avgpool", "add",
                        "flatten", "softmax"}


def test_engine_plan_uses_the_one_graph_type():
    from rram_sim import graph
    from rram_sim.engine import plan

    assert plan.OPS is graph.OPS and plan.CROSSBAR_OPS is graph.CROSSBAR_OPS
    assert plan.chain_graph is graph.chain_graph
    b = make_bundle("dense", golden=False)
    nodes = plan._graph_from_bundle(b)
    assert all(type(n) is graph.GraphNode for n in nodes)
    assert nodes[0].params["shape"] == (3, 6, 6) and "shape" not in b.graph[0].params


def test_bundle_package_modules_stay_small():
    from pathlib import Path

    import rram_sim.bundle as pkg

    for f in Path(pkg.__file__).parent.glob("*.py"):
        assert len(f.read_text().splitlines()) < 400, f.name


# ---------------------------------------------------------------------------------------------
# Bundles saved before config keys were removed
# ---------------------------------------------------------------------------------------------

def test_bundle_with_removed_config_keys_loads_with_one_warning(tmp_path, example_bundles):
    from rram_sim.examples import example_path

    src = example_path("ou")
    old = {"cell": {"g_on_us": 100.0, "g_off_us": 1.0, "read_voltage_v": 0.2},
           "training": {"replication": 1}}
    bad = corrupt(src, tmp_path / "old",
                  manifest=lambda m: [m["config"][g].update(v) for g, v in old.items()])
    with pytest.warns(config.RemovedKeyWarning) as rec:
        b = load_bundle(bad)
    assert len(rec) == 1
    assert all(k in str(rec[0].message) for k in config.REMOVED_KEYS)
    assert_bundles_equal(b, example_bundles["ou"])
    assert str(src / "manifest.json") not in str(rec[0].message)
    assert rec[0].filename == str(bad / "manifest.json")
