"""rram-sim verify: exit codes, JSON, and the shipped example bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rram_sim.bundle import ARRAYS, MANIFEST, save_bundle
from rram_sim.cli import main
from rram_sim.examples import build_example_bundle, example_path


@pytest.mark.parametrize("scheme", ["dense", "compact", "ou"])
def test_shipped_examples_equal_a_fresh_build(tmp_path, scheme):
    shipped = example_path(scheme)
    assert sum(f.stat().st_size for f in shipped.iterdir()) < 1_000_000
    save_bundle(build_example_bundle(scheme), tmp_path / scheme)
    a = json.loads((shipped / MANIFEST).read_text())
    b = json.loads((tmp_path / scheme / MANIFEST).read_text())
    assert a == b
    with np.load(shipped / ARRAYS, allow_pickle=False) as x, \
            np.load(tmp_path / scheme / ARRAYS, allow_pickle=False) as y:
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            assert x[k].dtype == y[k].dtype and x[k].shape == y[k].shape, k
            if x[k].dtype.kind == "f":
                # float golden outputs come from a BLAS product whose summation order (threads,
                # CPU) may move the last bit; the cells, indices and quantized outputs are exact
                np.testing.assert_allclose(x[k], y[k], rtol=1e-12, atol=1e-12, err_msg=k)
            else:
                assert np.array_equal(x[k], y[k]), k


def test_exit_codes(capsys):
    assert main(["verify", "--example", "ou"]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["verify", "--example", "compact", "--no-index"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "conv1" in out and "fc" in out
    assert main(["verify", "--example", "dense", "--no-index"]) == 0
    assert main(["verify", str(example_path("dense")), "--example", "ou"]) == 2
    assert "exactly one" in capsys.readouterr().err
    assert main(["verify", "/no/such/bundle"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rram-sim verify: error:") and err.count("\n") == 1


def test_json_output(capsys, tmp_path):
    path = Path(tmp_path) / "b"
    save_bundle(build_example_bundle("compact"), path)
    assert main(["verify", str(path), "--json", "--no-index"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["passed"] is False and d["index_unit"] is False
    assert [c["name"] for c in d["layers"]] == ["conv1", "conv2", "fc"]


# ---------------------------------------------------------------------------------------------
# Two verdicts: the hardware matches the ADC model; accuracy is kept. --chip re-maps.
# ---------------------------------------------------------------------------------------------

def _eval_bundle(path, **cfg):
    from test_accuracy import cfg_with, make

    b, _ = make(cfg_with(**cfg))
    save_bundle(b, path)
    golden_from(b, path)
    return path


def golden_from(b, path):
    """Add golden vectors (every layer's real input on the eval samples) and save again."""
    from rram_sim.accuracy import network_outputs
    from rram_sim.bundle import golden_from_numpy
    from rram_sim.sweep.point import stored_weights

    ws, ms, bs = stored_weights(b)
    x = b.eval_set.x[:2].astype(np.float64)
    acts = {}
    for node in b.graph:        # each layer's input: the exact network's value of its source
        if node.op in ("conv", "linear"):
            sub = b.graph[:[n.name for n in b.graph].index(node.inputs[0]) + 1]
            acts[node.name] = network_outputs(_with_graph(b, sub), x, mode="exact")
    for name, xin in acts.items():
        b.golden[name] = golden_from_numpy(b.layer(name).spec, ws[name], bs[name], xin, b.config,
                                           ms[name])
    save_bundle(b, path)


def _with_graph(b, graph):
    import copy

    c = copy.copy(b)
    c.graph = graph
    return c


def test_two_verdicts_with_an_eval_set(tmp_path, capsys):
    path = _eval_bundle(tmp_path / "b", **{"adc.range_policy": "lossless"})
    assert main(["verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "hardware matches the ADC model: yes (3 of 3 layers" in out
    assert "accuracy kept: yes (top-1 on 40 samples: crossbars 1.0000, exact quantized" in out
    assert out.rstrip().endswith("PASS")
    assert main(["verify", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["hardware_matches_adc_model"] is True and d["accuracy_kept"] is True
    assert d["accuracy"]["samples"] == 40 and d["accuracy"]["drop"] == 0.0
    assert d["chip"]["remapped"] is False and d["max_accuracy_drop"] == 0.01


def test_a_coarse_adc_chip_matches_its_model_but_loses_accuracy(tmp_path, capsys):
    path = _eval_bundle(tmp_path / "b", **{"adc.range_policy": "lossless"})
    chip = tmp_path / "coarse.yaml"
    chip.write_text("base: edge\ncrossbar: {rows: 32, cols: 32}\nou: {rows: 8, cols: 8}\n"
                    "adc: {bits: 2, columns_per_adc: 8, range_policy: full_scale}\n")
    assert main(["verify", str(path), "--chip", str(chip), "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["chip"]["remapped"] is True
    assert d["hardware_matches_adc_model"] is True      # errs no more than its model says
    assert d["accuracy_kept"] is False and d["accuracy"]["drop"] > 0.01
    assert all(c["tolerance_rule"] == "adc_bound" for c in d["layers"])
    assert main(["verify", str(path), "--chip", str(chip), "--max-accuracy-drop", "1"]) == 0
    out = capsys.readouterr().out
    assert "accuracy kept: yes" in out and "re-mapped for it" in out
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(path), "--max-accuracy-drop", "2"])
    assert exc.value.code == 2 and "must lie in [0, 1]" in capsys.readouterr().err


def test_chip_on_another_crossbar_remaps_and_keeps_lossless_values(tmp_path, capsys):
    path = _eval_bundle(tmp_path / "b", **{"adc.range_policy": "lossless"})
    chip = tmp_path / "big.yaml"
    chip.write_text("base: edge\ncrossbar: {rows: 128, cols: 128}\n"
                    "adc: {range_policy: lossless}\n")
    assert main(["verify", str(path), "--chip", str(chip), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["chip"]["remapped"] and all(c["tolerance_rule"] == "exact" for c in d["layers"])
    assert d["accuracy"]["crossbar"] == d["accuracy"]["exact"]


def test_bundle_without_eval_set_says_so_and_only_hardware_decides(capsys):
    assert main(["verify", "--example", "compact"]) == 0
    out = capsys.readouterr().out
    assert "accuracy kept: not checked (the bundle has no eval set" in out
    assert main(["verify", "--example", "compact", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["accuracy_kept"] is None and d["accuracy"] is None
    assert main(["verify", "--example", "compact", "--chip", "no_such_chip"]) == 2


def test_chip_of_other_precision_gets_golden_references_of_its_own(tmp_path, capsys):
    """Without recomputing the quantized references for the new precision, 4-bit weights and
    6-bit inputs would miss the bundle's 8-bit references by far more than 1e-9."""
    path = _eval_bundle(tmp_path / "b", **{"adc.range_policy": "lossless"})
    chip = tmp_path / "six.yaml"
    chip.write_text("base: edge\ncrossbar: {rows: 32, cols: 32}\nou: {rows: 8, cols: 8}\n"
                    "adc: {columns_per_adc: 8, range_policy: lossless}\n"
                    "precision: {weight_bits: 4, input_bits: 6}\n")
    assert main(["verify", str(path), "--chip", str(chip), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["chip"]["remapped"] and all(c["tolerance_rule"] == "exact" for c in d["layers"])
    assert all(c["max_abs_error"] < 1e-6 for c in d["layers"])
    assert d["accuracy"]["crossbar"] == d["accuracy"]["exact"]
