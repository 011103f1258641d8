"""rram_sim.accuracy and the bundle's eval set: the network evaluated on the crossbars against the
exact quantized network and a float reference written out by hand; eval sets saved, loaded,
checked, and absent from older bundles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rram_sim import accuracy, config
from rram_sim.bundle import (
    BUNDLE_FORMAT_VERSION,
    EvalSet,
    GraphNode,
    load_bundle,
    map_network,
    save_bundle,
)
from rram_sim.errors import LayoutError
from rram_sim.layout import LayerSpec

SPECS = [LayerSpec("c1", "conv", (6, 2, 3, 3), (2, 8, 8), padding=(1, 1)),
         LayerSpec("c2", "conv", (6, 6, 3, 3), (6, 4, 4), padding=(1, 1)),
         LayerSpec("fc", "linear", (5, 6 * 2 * 2), (24,))]
# conv -> relu -> maxpool -> conv -> add (residual) -> relu -> avgpool -> flatten -> linear
GRAPH = [GraphNode("input", "input", [], {"shape": [2, 8, 8]}),
         GraphNode("c1", "conv", ["input"]), GraphNode("r1", "relu", ["c1"]),
         GraphNode("p1", "maxpool", ["r1"], {"kernel": 2, "stride": 2}),
         GraphNode("c2", "conv", ["p1"]), GraphNode("s", "add", ["c2", "p1"]),
         GraphNode("r2", "relu", ["s"]),
         GraphNode("p2", "avgpool", ["r2"], {"kernel": 3, "stride": 2, "padding": 1}),
         GraphNode("flat", "flatten", ["p2"]), GraphNode("fc", "linear", ["flat"])]


def cfg_with(**kw):
    base = {"crossbar.rows": 32, "crossbar.cols": 32, "ou.rows": 8, "ou.cols": 8,
            "adc.columns_per_adc": 8}
    return config.default().replace(**{**base, **kw})


def float_forward(ws, bs, x):
    """The network of GRAPH in plain numpy loops (the reference; tiny sizes)."""
    def conv(x, w, b):
        bsz, c, h, wd = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        out = np.zeros((bsz, w.shape[0], h, wd))
        for i in range(h):
            for j in range(wd):
                patch = xp[:, :, i:i + 3, j:j + 3]
                out[:, :, i, j] = np.einsum("bckl,nckl->bn", patch, w) + b
        return out

    y = np.maximum(conv(x, ws["c1"], bs["c1"]), 0)
    p1 = y.reshape(y.shape[0], 6, 4, 2, 4, 2).max(axis=(3, 5))
    s = np.maximum(conv(p1, ws["c2"], bs["c2"]) + p1, 0)
    sp = np.pad(s, ((0, 0), (0, 0), (1, 1), (1, 1)))
    p2 = np.zeros((s.shape[0], 6, 2, 2))
    for i in range(2):
        for j in range(2):
            p2[:, :, i, j] = sp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].mean(axis=(2, 3))
    return p2.reshape(len(x), -1) @ ws["fc"].T + bs["fc"]


def make(cfg, n=40, seed=0, scheme="compact"):
    rng = np.random.default_rng(seed)
    ws = {s.name: rng.standard_normal(s.weight_shape) * 0.5 for s in SPECS}
    bs = {s.name: rng.standard_normal(s.weight_shape[0]) * 0.1 for s in SPECS}
    ms = {s.name: rng.random(s.weight_shape) < 0.7 for s in SPECS}
    ms["c1"][1] = ms["c2"][2] = False       # whole filters (columns) and input rows pruned:
    ms["c2"][:, 0] = ms["fc"][:, :6] = False  # a compact layout moves the rest
    b = map_network(SPECS, ws, cfg, scheme, masks=ms, biases=bs, graph=GRAPH)
    x = rng.standard_normal((n, 2, 8, 8))
    wm = {k: np.where(ms[k], ws[k], 0.0) for k in ws}
    ref = float_forward(wm, bs, x)
    labels = np.argmax(ref, axis=1)
    b.eval_set = EvalSet(x=x, labels=labels, classes=5, source="synthetic", float_accuracy=1.0)
    return b, ref


def test_exact_network_matches_the_float_reference_at_high_precision():
    b, ref = make(cfg_with(**{"precision.input_bits": 16, "precision.weight_bits": 16}))
    y = accuracy.network_outputs(b, b.eval_set.x, mode="exact")
    # 16-bit inputs and weights: within a few LSBs of the float network
    assert np.allclose(y, ref, atol=2e-3 * np.abs(ref).max())
    assert accuracy.evaluate(b).exact == 1.0


def test_lossless_adc_crossbars_equal_the_exact_network_bit_for_bit():
    b, _ = make(cfg_with(**{"adc.range_policy": "lossless"}))
    xb = accuracy.network_outputs(b, b.eval_set.x, mode="crossbar")
    ex = accuracy.network_outputs(b, b.eval_set.x, mode="exact")
    assert np.array_equal(xb, ex)
    r = accuracy.evaluate(b)
    assert r.crossbar == r.exact and r.agreement == 1.0 and r.kept(0.0)
    assert r.samples == 40 and r.float_accuracy == 1.0


def test_a_coarse_adc_loses_accuracy_and_the_naive_datapath_more():
    good = accuracy.evaluate(make(cfg_with(**{"adc.bits": 8}))[0])
    coarse = accuracy.evaluate(make(cfg_with(**{"adc.bits": 2}))[0])
    assert coarse.agreement < good.agreement
    assert coarse.crossbar < good.crossbar
    assert not coarse.kept(0.01) and coarse.drop > 0.01
    b, _ = make(cfg_with(**{"adc.range_policy": "lossless"}))
    naive = accuracy.evaluate(b, index_unit=False)     # compact layout read without its tables
    assert naive.crossbar < naive.exact


def test_batches_change_only_the_activation_scales():
    b, _ = make(cfg_with(**{"adc.range_policy": "lossless"}))
    whole = accuracy.predictions(b, b.eval_set.x, mode="exact", batch_size=40)
    single = [accuracy.predictions(b, b.eval_set.x[i:i + 1], mode="exact", batch_size=1)[0]
              for i in range(3)]
    ones = accuracy.predictions(b, b.eval_set.x, mode="exact", batch_size=1)
    assert list(ones[:3]) == single
    assert whole.shape == ones.shape == (40,)
    with pytest.raises(LayoutError, match="batch_size=0"):
        accuracy.predictions(b, b.eval_set.x, batch_size=0)


def test_eval_set_round_trip_and_version(tmp_path):
    b, _ = make(cfg_with())
    save_bundle(b, tmp_path / "b")
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m["format_version"] == BUNDLE_FORMAT_VERSION == 2
    assert m["eval_set"] == {"samples": 40, "classes": 5, "source": "synthetic",
                             "float_accuracy": 1.0}
    c = load_bundle(tmp_path / "b")
    assert c.eval_set.x.dtype == np.float32 and np.array_equal(c.eval_set.x, b.eval_set.x)
    assert np.array_equal(c.eval_set.labels, b.eval_set.labels)
    assert accuracy.evaluate(c).to_dict() == accuracy.evaluate(b).to_dict()


def test_bundle_without_eval_set_is_version_1_and_says_so(tmp_path):
    b, _ = make(cfg_with())
    b.eval_set = None
    save_bundle(b, tmp_path / "b")
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m["format_version"] == 1 and "eval_set" not in m
    c = load_bundle(tmp_path / "b")
    assert c.eval_set is None
    with pytest.raises(LayoutError, match="has no eval set.*--eval-samples"):
        accuracy.evaluate(c)


def _corrupt(tmp_path, edit_manifest=None, edit_arrays=None):
    b, _ = make(cfg_with())
    save_bundle(b, tmp_path / "b")
    mp, ap = tmp_path / "b" / "manifest.json", tmp_path / "b" / "arrays.npz"
    m = json.loads(mp.read_text())
    if edit_manifest:
        edit_manifest(m)
        mp.write_text(json.dumps(m))
    if edit_arrays:
        with np.load(ap, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        edit_arrays(a)
        np.savez(ap, **a)
    return tmp_path / "b"


@pytest.mark.parametrize("manifest, arrays, message", [
    (lambda m: m.update(format_version=1), None, "eval_set: needs format_version 2"),
    (lambda m: m["eval_set"].update(classes=7), None, "classes=7: the network's output"),
    (lambda m: m["eval_set"].update(samples=39), None, "'E.x' has shape"),
    (lambda m: m["eval_set"].update(float_accuracy=1.5), None, "float_accuracy=1.5"),
    (None, lambda a: a.update({"E.labels": a["E.labels"] + 5}), "labels must lie in 0..4"),
    (None, lambda a: a.update({"E.x": a["E.x"].astype(np.float64)}), "dtype float64"),
    (None, lambda a: a["E.x"].__setitem__((0, 0, 0, 0), np.nan), "NaN"),
])
def test_load_rejects_a_broken_eval_set(tmp_path, manifest, arrays, message):
    path = _corrupt(tmp_path, manifest, arrays)
    with pytest.raises(LayoutError, match=message):
        load_bundle(path)


def test_save_refuses_an_eval_set_of_the_wrong_shape(tmp_path):
    b, _ = make(cfg_with())
    b.eval_set = EvalSet(x=np.zeros((3, 2, 4, 4)), labels=[0, 1, 2], classes=5)
    with pytest.raises(LayoutError, match=r"samples of shape \(2, 4, 4\)"):
        save_bundle(b, tmp_path / "b")
    with pytest.raises(LayoutError, match="labels must lie"):
        EvalSet(x=np.zeros((2, 3)), labels=[0, 3], classes=3)
