"""The one-command demo: a --quick run produces the summary, bundles, reports, verify results and
plots; a second run resumes (skips every step); a folder of other settings is refused."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shlex
from dataclasses import asdict

import pytest

from pruning.cli import main
from pruning.demo import POINTS, SUMMARY_FIELDS, DemoSettings


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    buf_out, buf_err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf_out), contextlib.redirect_stderr(buf_err):
        assert main(["demo", "--quick", "-o", str(out)]) == 0
    return out, buf_out.getvalue(), buf_err.getvalue()


@pytest.fixture(scope="module")
def demo_out(demo_run):
    return demo_run[0]


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
                 "timeline_dense_training.png"):
        assert name in plots and (demo_out / "plots" / name).stat().st_size > 1000
    maps = [n for n in plots if n.startswith("crossbar_map_realprune_")]
    assert len(maps) == len(json.loads((demo_out / "bundles" / "realprune" / "manifest.json")
                                       .read_text())["layers"])


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


def test_energy_split_columns(demo_out):
    """dynamic + static = total energy, per pass, as the reports give them."""
    rows = {r["point"]: r for r in csv.DictReader((demo_out / "summary.csv").open())}
    for p, r in rows.items():
        runs = json.loads((demo_out / "reports" / p / "report.json").read_text())["runs"]
        for run, prefix in (("inference", "inference"), ("training", "training")):
            dyn, static = (float(r[f"{prefix}_dynamic_energy_uj"]),
                           float(r[f"{prefix}_static_energy_uj"]))
            assert dyn == runs[run]["dynamic_energy_per_item_uj"]
            assert static == runs[run]["static_energy_per_item_uj"] and static > 0
            assert dyn + static == pytest.approx(float(r[f"{prefix}_energy_uj"]), rel=1e-9)
    md = (demo_out / "summary.md").read_text()
    assert "inference dynamic / static uJ" in md and "training dynamic / static uJ" in md
    # a --quick run says it is a smoke run, and the summary names the chip and its config hash
    from rram_sim import config

    edge = config.preset("edge")
    assert md.count("**Smoke run**") == 1
    assert f"chip `{edge.name}` (config hash `{edge.config_hash()}`)" in md


def test_summary_banner_only_on_quick_settings():
    from pruning.demo import SMOKE_BANNER, summary_markdown

    assert DemoSettings.quick().is_quick() and not DemoSettings().is_quick()
    assert DemoSettings(**{**asdict(DemoSettings.quick()), "seed": 3}).is_quick()
    assert SMOKE_BANNER in summary_markdown([], DemoSettings.quick())
    assert SMOKE_BANNER not in summary_markdown([], DemoSettings())


def test_ticket_checkpoint_and_export_command_are_printed(demo_run, tmp_path, capsys):
    out, stdout, stderr = demo_run
    ck = next(ln for ln in stdout.splitlines() if "ticket checkpoint:" in ln).split(": ", 1)[1]
    assert (out / "realprune").as_posix() in ck and ck.endswith("checkpoint.pt")
    cmd = next(ln for ln in stdout.splitlines() if "map it for a chip:" in ln).split(": ", 1)[1]
    argv = shlex.split(cmd)
    assert argv[:3] == ["rram-prune", "export", ck]
    argv[argv.index("-o") + 1] = str(tmp_path / "ticket")
    assert main(argv[1:] + ["--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    ticket = json.loads((out / "bundles" / "realprune" / "manifest.json").read_text())
    assert res["n_crossbars"] == ticket["figures"]["n_crossbars"]
    # a progress line per round on stderr
    assert "round 0: dense digits_cnn" in stderr and "round 1:" in stderr


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


def test_json_rerun_prints_rows_and_sends_steps_to_stderr(demo_out, capsys):
    capsys.readouterr()
    assert main(["demo", "--quick", "-q", "--json", "-o", str(demo_out)]) == 0
    out, err = capsys.readouterr()
    res = json.loads(out)
    rows = list(csv.DictReader((demo_out / "summary.csv").open()))
    assert [r["point"] for r in res["rows"]] == [r["point"] for r in rows]
    assert res["files"]["summary_md"] == str(demo_out / "summary.md")
    assert "bundle dense: exists, skipped" in err and "# Demo summary" in err


def test_accuracy_columns_come_from_the_bundles_eval_sets(demo_out):
    from rram_sim import accuracy
    from rram_sim.bundle import load_bundle

    rows = {r["point"]: r for r in csv.DictReader((demo_out / "summary.csv").open())}
    for p in POINTS:
        bundle = load_bundle(demo_out / ("autoprune/bundle" if p == "autoprune"
                                         else f"bundles/{p}"))
        assert len(bundle.eval_set.labels) == DemoSettings.quick().eval_samples
        r = accuracy.evaluate(bundle)
        assert float(rows[p]["crossbar_accuracy"]) == r.crossbar
        assert float(rows[p]["quantized_accuracy"]) == r.exact
        assert rows[p]["accuracy_kept"] == ("yes" if r.kept() else "NO")
    md = (demo_out / "summary.md").read_text()
    assert "test acc float / quantized / crossbars" in md
