"""The one-command demo: a --quick run produces the summary, bundles, reports, verify results and
plots; a second run resumes (skips every step); a folder of other settings is refused."""

from __future__ import annotations

import csv
import json

import pytest

from pruning.cli import main
from pruning.demo import POINTS, SUMMARY_FIELDS, DemoSettings


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "-o", str(out)]) == 0
    return out


def test_quick_demo_writes_everything(demo_out):
    rows = list(csv.DictReader((demo_out / "summary.csv").open()))
    assert tuple(rows[0]) == SUMMARY_FIELDS
    assert [r["point"] for r in rows] == list(POINTS)
    md = (demo_out / "summary.md").read_text()
    assert all(f"| {p} |" in md for p in POINTS)
    for p in POINTS:
        bundle = demo_out / ("autoprune/bundle" if p == "autoprune" else f"bundles/{p}")
        assert (bundle / "manifest.json").is_file() and (bundle / "arrays.npz").is_file()
        rep = json.loads((demo_out / "reports" / p / "report.json").read_text())
        assert set(rep["runs"]) == {"inference", "training"}
        assert (demo_out / "verify" / f"{p}.json").is_file()
    plots = json.loads((demo_out / "plots" / "plots.json").read_text())
    for name in ("energy_inference.png", "energy_training_normalised.png", "occupancy.png",
                 "crossbar_map_realprune.png", "timeline_dense_training.png"):
        assert name in plots and (demo_out / "plots" / name).stat().st_size > 1000


def test_summary_numbers_match_reports_and_verify(demo_out):
    rows = {r["point"]: r for r in csv.DictReader((demo_out / "summary.csv").open())}
    dense = json.loads((demo_out / "reports/dense/report.json").read_text())
    for p, r in rows.items():
        rep = json.loads((demo_out / "reports" / p / "report.json").read_text())
        assert float(r["inference_latency_ns"]) == rep["runs"]["inference"]["latency_ns"]
        assert int(r["crossbars"]) == rep["figures"]["n_crossbars"]
        speedup = dense["runs"]["training"]["makespan_ns"] / rep["runs"]["training"]["makespan_ns"]
        assert float(r["training_speedup"]) == pytest.approx(speedup, rel=1e-12)
        # With the index unit every mapping computes the exact product.
        assert r["verify_with_index"] == "pass"
    assert float(rows["dense"]["weights_pruned"]) == 0.0
    policy = json.loads((demo_out / "autoprune" / "best_policy.json").read_text())
    assert float(rows["autoprune"]["weights_pruned"]) == pytest.approx(policy["sparsity"])
    assert rows["dense"]["verify_without_index"] == "pass"   # dense needs no index tables
    assert float(rows["dense"]["inference_speedup"]) == 1.0
    v = json.loads((demo_out / "verify" / "realprune.json").read_text())
    assert v["scheme"] == "compact" and v["with_index"]["passed"]
    # A compacted layer whose rows or columns moved is dislocated without its index tables.
    if int(rows["realprune"]["crossbars"]) < int(rows["realprune"]["dense_crossbars"]):
        assert rows["realprune"]["verify_without_index"] == "FAIL"


def test_rerun_resumes_and_other_settings_refused(demo_out, capsys):
    capsys.readouterr()
    assert main(["demo", "--quick", "-o", str(demo_out)]) == 0
    out = capsys.readouterr().out
    for step in ("bundle dense", "verify realprune", "simulate autoprune", "plots", "autoprune"):
        assert f"{step}: exists, skipped" in out
    assert main(["demo", "--quick", "--seed", "3", "-o", str(demo_out)]) == 2
    assert "other settings" in capsys.readouterr().err


def test_quick_settings_are_small():
    q, full = DemoSettings.quick(), DemoSettings()
    assert q.epochs < full.epochs and q.episodes < full.episodes and q.rounds <= full.rounds
