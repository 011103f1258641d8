"""benchmarks/results_table.py in its quick mode (the demo's network on the three chips): the
rows, the speed-ups against the simulator run directly, the masks and the markdown table."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.torch

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "results_table.py"


def _bench():
    spec = importlib.util.spec_from_file_location("results_table", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod        # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def quick():
    bench = _bench()
    rows = bench.build_rows(bench.QUICK_NETWORKS, bench.CHIPS, inference_batch=4, train_batch=4)
    return bench, rows


def test_rows_cover_every_chip_variant_and_policy(quick):
    bench, rows = quick
    keys = {(r["chip"], r["variant"], r["policy"], r["mapping"]) for r in rows}
    for chip in bench.CHIPS:
        for variant in ("dense", "pruned"):
            for policy in bench.POLICIES:
                assert (chip, variant, policy, "pack") in keys
    # spread rows only where the OU is shorter than the crossbar (edge)
    assert {r["chip"] for r in rows if r["mapping"] == "spread"} == {"edge"}
    for r in rows:
        assert (r["training_step_us"] is None) == (r["chip"] == "isaac")   # isaac cannot train
        if r["variant"] == "pruned":
            assert 0.895 <= r["weights_pruned"] < 0.95 and r["mechanism"]
        else:
            assert r["weights_pruned"] == 0.0 and r["mechanism"] == ""
        if r["policy"] == "none":
            assert r["max_copies"] == 1 and r["crossbars_placed"] == r["crossbars"]
        assert r["crossbars_placed"] >= r["crossbars"]


def test_speedups_are_the_ratio_of_the_rows_and_balance_replicates(quick):
    _, rows = quick
    by = {(r["chip"], r["variant"], r["policy"], r["mapping"]): r for r in rows}
    for chip in ("pipelayer", "edge"):
        for policy in ("none", "balance"):
            d, p = by[(chip, "dense", policy, "pack")], by[(chip, "pruned", policy, "pack")]
            assert p["crossbars"] < d["crossbars"]
            assert p["inference_speedup"] == pytest.approx(
                p["inference_throughput_per_s"] / d["inference_throughput_per_s"])
            assert p["training_speedup"] == pytest.approx(
                d["training_step_us"] / p["training_step_us"])
        # the demo's network fits every chip: balance copies its bottleneck and runs faster
        d_none, d_bal = by[(chip, "dense", "none", "pack")], by[(chip, "dense", "balance", "pack")]
        assert d_bal["max_copies"] > 1
        assert d_bal["inference_throughput_per_s"] > 2 * d_none["inference_throughput_per_s"]
    # edge: the compact layers' busiest crossbars read fewer OUs, the mechanism says so
    edge = by[("edge", "pruned", "none", "pack")]
    assert edge["inference_speedup"] > 2 and "cycles" in edge["mechanism"]


def test_masks_are_realprune_segments_and_the_table_renders(quick, tmp_path, capsys):
    bench, rows = quick
    from pruning.models import build_model
    from rram_sim import config

    torch.manual_seed(0)
    model = build_model("digits_cnn", 10, 1, 1.0, 8)
    masks, rounds = bench.realprune_masks(model, config.load("edge"))
    assert rounds >= 2
    # first conv and classifier are excluded, as ReaLPrune's defaults say
    assert masks["features.0.weight"].all() and masks["classifier.weight"].all()
    table = bench.markdown(rows)
    assert table.count("\n") == len(rows) + 2 and "| demo (digits_cnn) | edge | pruned |" in table
    assert bench.main(["--quick", "--json", "-o", str(tmp_path / "t.md")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == len(rows)
    assert (tmp_path / "t.md").read_text() == bench.markdown(out)
