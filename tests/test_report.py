"""Report files: JSON/CSV round trip, contents, and the ``rram-sim simulate`` command."""

import csv
import json

import numpy as np
import pytest

from rram_sim import config, costs
from rram_sim.bundle import map_network, save_bundle
from rram_sim.cli import main
from rram_sim.errors import LayoutError
from rram_sim.layout import LayerSpec
from rram_sim.report import RECORD_FIELDS, Report
from rram_sim.simulate import simulate


def _bundle(cfg, **kw):
    rng = np.random.default_rng(3)
    specs = [LayerSpec("c1", "conv", (8, 3, 3, 3), (3, 6, 6), padding=(1, 1)),
             LayerSpec("fc", "linear", (4, 288), (288,))]
    return map_network(specs, [rng.standard_normal(s.weight_shape) for s in specs], cfg, **kw)


def test_round_trip_and_contents(tmp_path):
    cfg = config.preset("edge")
    rep = simulate(_bundle(cfg), cfg, "training", batch=2)
    rep.save(tmp_path)
    back = Report.load(tmp_path)
    assert back.to_dict() == json.loads(json.dumps(rep.to_dict()))
    assert back.config_hash == cfg.config_hash() and back.chip == cfg
    assert set(back.energy_by_category_pj["training"]) == set(costs.CATEGORIES)
    assert {"forward", "backward", "update", "leakage"} <= {r["pass"] for r in back.records}
    assert all(iv["end_ns"] >= iv["start_ns"] for iv in back.intervals)
    assert back.wear and back.area["chip_area_mm2"] > 0
    rows = list(csv.DictReader(open(tmp_path / "records.csv")))
    assert tuple(rows[0]) == RECORD_FIELDS and len(rows) == len(rep.records)
    table = rep.summary_table()
    lat_us = rep.runs["training"]["latency_ns"] * 1e-3
    line = next(ln for ln in table.splitlines() if ln.startswith("latency (us)"))
    assert float(line.split()[-1]) == pytest.approx(lat_us, rel=1e-3)
    stored = json.loads((tmp_path / "report.json").read_text())
    assert stored["units"]["_ns"] == "nanoseconds" and stored["units"]["_pj"] == "picojoules"


def test_load_errors(tmp_path):
    with pytest.raises(LayoutError, match="no report.json"):
        Report.load(tmp_path)
    (tmp_path / "report.json").write_text("{")
    with pytest.raises(LayoutError, match="not valid JSON"):
        Report.load(tmp_path)
    (tmp_path / "report.json").write_text('{"version": 99}')
    with pytest.raises(LayoutError, match="version"):
        Report.load(tmp_path)


def test_cli_simulate(tmp_path, capsys):
    cfg = config.preset("edge")
    save_bundle(_bundle(cfg), tmp_path / "b")
    out = tmp_path / "r"
    assert main(["simulate", str(tmp_path / "b"), "--pass", "both", "--batch", "2",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "inference" in text and "training" in text
    assert set(Report.load(out).runs) == {"inference", "training"}
    assert main(["simulate", str(tmp_path / "b"), "--chip", "isaac", "-o", str(out),
                 "--force"]) == 2
    assert "--remap re-maps it" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "b"), "--batch", "0", "-o", str(out)]) == 2


def test_cli_simulate_refuses_to_overwrite_a_report_unless_forced(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["simulate", "--example", "dense", "-q", "-o", str(out)]
    assert main(args) == 0
    first = (out / "report.json").read_bytes()
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already holds a report (report.json, records.csv, intervals.csv)" in err
    assert "--force" in err and (out / "report.json").read_bytes() == first
    assert main(args + ["--force", "--pass", "both"]) == 0
    assert set(Report.load(out).runs) == {"inference", "training"}


def test_cli_simulate_remap_and_json(tmp_path, capsys):
    """--remap maps the bundle's stored weights for a chip of another crossbar size; the JSON
    summary carries the same runs as report.json, with units."""
    cfg = config.preset("edge")
    save_bundle(_bundle(cfg), tmp_path / "b")
    assert main(["simulate", str(tmp_path / "b"), "--remap", "-o", str(tmp_path / "x")]) == 2
    assert "give --chip too" in capsys.readouterr().err
    big = cfg.replace(**{"crossbar.rows": 2 * cfg.crossbar.rows,
                         "crossbar.cols": 2 * cfg.crossbar.cols})
    chip = tmp_path / "big.yaml"
    chip.write_text(f"base: edge\ncrossbar: {{rows: {big.crossbar.rows}, "
                    f"cols: {big.crossbar.cols}}}\n")
    out = tmp_path / "r"
    assert main(["simulate", str(tmp_path / "b"), "--chip", str(chip), "--remap", "--json",
                 "-q", "-o", str(out)]) == 0
    got = json.loads(capsys.readouterr().out)
    rep = Report.load(out)
    assert got["runs"] == json.loads(json.dumps(rep.runs))
    assert got["config_hash"] == rep.config_hash == config.load(str(chip)).config_hash()
    assert got["units"]["_ns"] == "nanoseconds"
    # the re-mapped bundle is the one map_network gives for the bigger chip directly
    direct = simulate(_bundle(big), config.load(str(chip)), "inference")
    assert rep.runs["inference"]["latency_ns"] == direct.runs["inference"]["latency_ns"]


def test_cli_simulate_overflow_reload(tmp_path, capsys):
    cfg = config.preset("edge").replace(**{"chip.tiles": 1, "tile.pes": 1, "pe.crossbars": 1})
    save_bundle(_bundle(cfg, allow_multi_chip=True), tmp_path / "b")  # c1: 1 crossbar, fc: 5
    out = tmp_path / "r"
    assert main(["simulate", str(tmp_path / "b"), "--overflow", "error", "-o", str(out)]) == 2
    assert "placement" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "b"), "--overflow", "reload", "-o", str(out)]) == 2
    assert "layer 'fc'" in capsys.readouterr().err
    big = cfg.replace(**{"pe.crossbars": 5})
    save_bundle(_bundle(big, allow_multi_chip=True), tmp_path / "b2")
    assert main(["simulate", str(tmp_path / "b2"), "--overflow", "reload", "--pass", "both",
                 "-o", str(out)]) == 0
    assert "reload time (us)" in capsys.readouterr().out
    rep = Report.load(out)
    assert rep.runs["inference"]["reloads"] == 2 and rep.runs["training"]["reloads"] == 2
    assert {"reload"} <= {r["pass"] for r in rep.records}


def test_cli_simulate_accuracy(tmp_path, capsys):
    """--accuracy puts the eval-set accuracy on the chip's crossbars beside the cost (summary,
    JSON and report.json), on the chip simulated; a bundle without an eval set is refused."""
    from test_accuracy import cfg_with, make

    from rram_sim.accuracy import evaluate

    cfg = cfg_with()
    b, _ = make(cfg)
    save_bundle(b, tmp_path / "b")
    out = tmp_path / "r"
    assert main(["simulate", str(tmp_path / "b"), "--accuracy", "-q", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    want = evaluate(b)
    assert f"accuracy on {want.samples} eval samples: crossbars {want.crossbar:.4f}" in text
    assert Report.load(out).figures["accuracy"] == json.loads(json.dumps(want.to_dict()))
    # a lossier ADC on the same crossbars: evaluated on that chip, not the bundle's own
    low = cfg.replace(**{"adc.bits": 3, "adc.range_policy": "full_scale"})
    chip = tmp_path / "low.yaml"
    chip.write_text(low.to_yaml())
    assert main(["simulate", str(tmp_path / "b"), "--chip", str(chip), "--accuracy", "--json",
                 "-q", "-o", str(tmp_path / "r2")]) == 0
    got = json.loads(capsys.readouterr().out)["accuracy"]
    from rram_sim.datapath import bundle_for_chip

    assert got == json.loads(json.dumps(evaluate(bundle_for_chip(b, low)).to_dict()))
    assert got["exact"] == want.exact
    save_bundle(_bundle(config.preset("edge")), tmp_path / "plain")
    assert main(["simulate", str(tmp_path / "plain"), "--accuracy",
                 "-o", str(tmp_path / "r3")]) == 2
    assert "no eval set" in capsys.readouterr().err
