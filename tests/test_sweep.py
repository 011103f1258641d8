"""Sweeps: parsing, re-mapping, skipped points, resuming, and identical results on every backend."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from rram_sim.bundle import load_bundle
from rram_sim.cli import main
from rram_sim.errors import ConfigError
from rram_sim.examples import EXAMPLES_DIR
from rram_sim.sweep import load_spec, parse_spec, points, remap, run_sweep

SPEC = {"chip": "edge",
        "grid": {"adc.bits": [0, 5, 6], "ou.rows/ou.cols": [[8, 8], [16, 16]]},
        "bundles": ["example:compact"], "schemes": ["dense", "ou"],
        "passes": ["inference", "training"]}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    res = run_sweep(parse_spec(SPEC), out)
    return out, res


def test_points_cover_the_grid_and_invalid_chips_are_skipped(serial):
    out, res = serial
    assert len(res.rows) == 12
    ok = [r for r in res.rows if r["status"] == "ok"]
    skipped = [r for r in res.rows if r["status"] == "skipped"]
    assert len(ok) == 8 and len(skipped) == 4
    assert all(r["adc.bits"] == 0 and "adc.bits=0" in r["reason"] for r in skipped)
    assert len({r["key"] for r in res.rows}) == 12
    for r in ok:
        assert r["key"] == f"{r['config_hash']}-compact-{r['scheme']}"
        assert r["inference_energy_pj"] > 0 and r["training_step_ns"] > 0
    # A finer OU frees more of the pruned example: ou crossbars never exceed dense ones.
    assert all(r["crossbars"] <= r["dense_crossbars"] for r in ok)
    lines = (out / "results.csv").read_text().splitlines()
    assert len(lines) == 13 and lines[0].startswith("key,index,status,reason,bundle,scheme")
    assert [json.loads(s)["key"] for s in (out / "results.jsonl").read_text().splitlines()] == \
        [r["key"] for r in res.rows]
    assert (out / "pareto.png").stat().st_size > 1000


@pytest.mark.parametrize("backend,kwargs", [("process", {}), ("dask", {"dask_processes": False})])
def test_parallel_backends_equal_serial(serial, tmp_path, backend, kwargs):
    out, _ = serial
    res = run_sweep(parse_spec(SPEC), tmp_path, backend=backend, workers=2, **kwargs)
    assert len(res.computed) == 12
    assert (tmp_path / "results.csv").read_text() == (out / "results.csv").read_text()


def test_killed_sweep_resumes(serial, tmp_path):
    out, full = serial
    lines = (out / "results.jsonl").read_text().splitlines()
    (tmp_path / "results.jsonl").write_text("\n".join(lines[:5]) + "\n" + lines[5][:40])
    res = run_sweep(parse_spec(SPEC), tmp_path)
    assert res.skipped_before == [r["key"] for r in full.rows[:5]]
    assert sorted(res.computed) == sorted(r["key"] for r in full.rows[5:])
    assert (tmp_path / "results.csv").read_text() == (out / "results.csv").read_text()
    again = run_sweep(parse_spec(SPEC), tmp_path)
    assert again.computed == []


def test_other_passes_in_same_folder_rejected(serial):
    out, _ = serial
    with pytest.raises(ConfigError, match="other passes"):
        run_sweep(parse_spec({**SPEC, "passes": ["inference"]}), out)


@pytest.mark.parametrize("scheme", ["dense", "compact", "ou"])
def test_remap_on_own_chip_reproduces_the_bundle(scheme):
    b = load_bundle(EXAMPLES_DIR / scheme)
    r = remap(b, b.config, scheme)
    for a, c in zip(b.layers, r.layers):
        for k in ("row_index", "col_index", "cells", "crossbar", "row_offset", "col_offset"):
            assert np.array_equal(getattr(a, k), getattr(c, k)), (a.spec.name, k)
        assert a.weight_scale == pytest.approx(c.weight_scale, rel=1e-12)
    assert r.figures["n_crossbars"] == b.figures["n_crossbars"]


def test_unfit_network_is_skipped_not_a_crash(tmp_path):
    spec = {"chip": "edge", "grid": {"chip.tiles": [1], "pe.crossbars": [1], "tile.pes": [1]},
            "bundles": ["example:dense"]}
    res = run_sweep(parse_spec(spec), tmp_path)
    assert res.rows[0]["status"] == "skipped" and "tiles" in res.rows[0]["reason"]


@pytest.mark.parametrize("bad,match", [
    ({"colour": 1}, "unknown key"),
    ({"grid": {"adc.nope": [1]}}, "not a chip parameter"),
    ({"grid": {"adc.bits": []}}, "non-empty list"),
    ({"grid": {"ou.rows/ou.cols": [[8]]}}, "must give 2 values"),
    ({"passes": ["inference", "sleep"]}, "passes"),
    ({"schemes": ["sparse"]}, "schemes"),
    ({"bundles": []}, "bundles"),
    ({"batch": {"inference": 0}}, "batch"),
    ({"batch": {"inference": 10 ** 9}}, r"batch: must map inference/training to an integer in"),
    ({"grid": {"adc.bits": [[5, 6]]}}, r"grid.adc.bits: value \[5, 6\] must be a number"),
    ({"grid": {"adc.bits": [2 ** 70]}}, "integers within"),
    ({"grid": {7: [1]}}, "key 7 must be a dotted path"),
    ({"bundles": [{"path": ["x"]}]}, r"bundles\[0\]=\{'path': \['x'\]\}: must be a path"),
    ({"chip": "nochip"}, "neither a preset"),
])
def test_bad_sweep_files_name_the_key(bad, match):
    with pytest.raises(ConfigError, match=match):
        parse_spec({**SPEC, **bad})


def test_backend_arguments_checked(tmp_path):
    spec = parse_spec(SPEC)
    with pytest.raises(ConfigError, match="backend"):
        run_sweep(spec, tmp_path, backend="gpu")
    with pytest.raises(ConfigError, match="scheduler"):
        run_sweep(spec, tmp_path, backend="process", scheduler="tcp://x:1")


def test_cli_sweep(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    bundle_rel = "b"
    import shutil

    shutil.copytree(EXAMPLES_DIR / "ou", tmp_path / bundle_rel)
    f.write_text(yaml.safe_dump({"chip": "edge", "grid": {"adc.bits": [5, 6]},
                                 "bundles": [{"name": "mine", "path": bundle_rel}]}))
    assert len(points(load_spec(f))) == 2
    assert main(["sweep", str(f), "-o", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "2 points: 2 ok, 0 skipped; computed now 2" in text
    assert main(["sweep", str(f), "-o", str(tmp_path / "o")]) == 0
    assert "already done 2" in capsys.readouterr().out
    assert main(["sweep", str(tmp_path / "none.yaml"), "-o", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Accuracy beside cost: a bundle with an eval set gets accuracy columns and an accuracy-aware front
# ---------------------------------------------------------------------------------------------

def test_accuracy_columns_and_front(tmp_path):
    from test_accuracy import cfg_with, make

    from rram_sim import accuracy, config, plot
    from rram_sim.bundle import save_bundle

    b, _ = make(cfg_with(), n=24)
    save_bundle(b, tmp_path / "net")
    spec = {"chip": "edge", "grid": {"adc.bits": [2, 8], "crossbar.rows/crossbar.cols":
                                     [[32, 32], [64, 64]]},
            "bundles": [str(tmp_path / "net")]}
    res = run_sweep(parse_spec(spec), tmp_path / "out")
    ok = [r for r in res.rows if r["status"] == "ok"]
    assert len(ok) == 4
    for r in ok:        # the column is the accuracy of the re-mapped bundle on that chip
        chip = config.load("edge").replace(**{
            "adc.bits": r["adc.bits"], "crossbar.rows": r["crossbar.rows"],
            "crossbar.cols": r["crossbar.cols"]})
        want = accuracy.evaluate(remap(load_bundle(tmp_path / "net"), chip, "compact"))
        assert (r["accuracy"], r["accuracy_exact"]) == (want.crossbar, want.exact)
    two = [r["accuracy"] for r in ok if r["adc.bits"] == 2]
    eight = [r["accuracy"] for r in ok if r["adc.bits"] == 8]
    assert max(two) < min(eight)
    header = (tmp_path / "out" / "results.csv").read_text().splitlines()[0].split(",")
    assert "accuracy" in header and "accuracy_exact" in header
    fig = plot.pareto(ok, tmp_path / "p.png")
    assert fig["objectives"][-1] == "accuracy (max)"
    front = plot.pareto_front([r["inference_latency_ns"] for r in ok],
                              [r["inference_energy_pj"] for r in ok],
                              [-r["accuracy"] for r in ok])
    assert sorted(fig["front"]) == sorted(ok[i]["key"] for i in front)
    # a 2-bit point is on the front only if no 8-bit point is as cheap in both costs
    assert any(r["adc.bits"] == 8 for r in ok if r["key"] in fig["front"])
    # labels: the values that differ; crossbar.cols, tied to crossbar.rows, adds nothing
    assert {p["label"] for p in fig["points"]} == {
        f"adc.bits={a}, crossbar.rows={r}" for a in (2, 8) for r in (32, 64)}
    # rram-sim plot of the folder: accuracy is a metric drawn against each swept parameter (not a
    # swept column) and the Pareto figure takes the same three-objective front
    assert main(["plot", str(tmp_path / "out"), "-o", str(tmp_path / "figs")]) == 0
    numbers = json.loads((tmp_path / "figs" / "plots.json").read_text())
    assert set(numbers) == {"sweep_adc.bits.png", "sweep_crossbar.rows.png",
                            "sweep_crossbar.cols.png", "pareto.png"}
    assert "accuracy" in numbers["sweep_adc.bits.png"]["metrics"]
    assert sorted(numbers["pareto.png"]["front"]) == sorted(fig["front"])


def test_rows_without_eval_set_leave_accuracy_empty(serial):
    out, res = serial
    assert all(r["accuracy"] is None and r["accuracy_exact"] is None for r in res.rows)


def test_plot_knows_which_row_columns_are_results():
    from rram_sim import plot
    from rram_sim.sweep.spec import BASE_FIELDS, METRIC_FIELDS

    want = (set(BASE_FIELDS) | set(METRIC_FIELDS)) - {"bundle", "scheme"}
    from rram_sim.metrics import metric_names

    assert set(plot.ROW_RESULT_FIELDS) | set(metric_names()) == want
