"""benchmarks/paper_cifar.py end to end on its ``tiny`` preset (synthetic data, narrow networks):
every step, the results table, resume after a kill between steps, refusal of other settings."""

import csv
import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from pruning.errors import PruningError

pytestmark = pytest.mark.torch

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "paper_cifar.py"


def _bench():
    spec = importlib.util.spec_from_file_location("paper_cifar", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod        # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


class Kill(Exception):
    """Stands for the process being killed between two steps."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    bench = _bench()
    out = tmp_path_factory.mktemp("paper") / "tiny"
    torch.set_num_threads(1)
    seen = []

    def kill_after_third(step):
        seen.append(step)
        if len(seen) == 3:
            raise Kill

    with pytest.raises(Kill):
        bench.run(bench.PRESETS["tiny"], out, "cpu", None, jobs=1, on_step=kill_after_third)
    done_before = {p: p.read_bytes() for p in out.rglob("done.json")}
    resumed = bench.run(bench.PRESETS["tiny"], out, "cpu", None, jobs=1)
    return bench, out, seen, done_before, resumed


def test_kill_between_steps_resumes_only_what_is_left(tiny):
    bench, out, seen, done_before, resumed = tiny
    assert len(done_before) == 3 == len(seen)
    # the resumed run recomputed none of the three finished steps, and left their files alone
    assert not set(seen) & set(resumed.computed)
    assert all(p.read_bytes() == b for p, b in done_before.items())
    assert resumed.computed[-1] == "sim"
    # a third call has nothing left to do and rewrites the same table
    table = (out / "results.csv").read_bytes()
    again = bench.run(bench.PRESETS["tiny"], out, "cpu", None, jobs=1)
    assert again.computed == [] and again._data is None    # nothing left that reads data
    assert (out / "results.csv").read_bytes() == table


def test_results_table(tiny):
    bench, out, *_ = tiny
    rows = list(csv.DictReader((out / "results.csv").open()))
    p = bench.PRESETS["tiny"]
    methods = {(r["model"], r["method"]) for r in rows}
    expected = {(p.realprune_model, m) for m in ("dense", *p.round_methods, "realprune_scratch")}
    expected |= {(p.autoprune_model, m) for m in ("dense", "autoprune", "uniform",
                                                  "pim_prune_ft")}
    assert methods == expected
    assert len(rows) == 3 * len(expected)          # isaac, pipelayer, edge for each network
    for r in rows:
        assert r["chip"] in bench.CHIPS
        if r["method"] == "dense":
            assert float(r["compression_rate"]) == 1.0 and float(r["weights_pruned_pct"]) == 0
            if r["chip"] != "isaac":
                assert float(r["training_speedup"]) == 1.0
        else:
            assert float(r["weights_pruned_pct"]) > 0
        assert (r["step_time_us"] == "") == (r["chip"] == "isaac")   # isaac cannot train
    # the edge-class chip is one the dense networks overflow: they run in reload segments
    for model in (p.realprune_model, p.autoprune_model):
        edge = json.loads((out / model / "edge_chip.json").read_text())
        assert edge["dense_segments"] > 1
        dense_edge = [r for r in rows if r["model"] == model and r["method"] == "dense"
                      and r["chip"] == "edge"]
        assert int(dense_edge[0]["segments"]) > 1
    md = (out / "results.md").read_text()
    assert md.count("\n| ") == len(rows) + 1


def test_round_methods_share_the_dense_model_and_reach_the_target(tiny):
    bench, out, *_ = tiny
    p = bench.PRESETS["tiny"]
    summary = json.loads((out / "summary.json").read_text())
    dense = summary[f"{p.realprune_model}/dense"]
    for m in p.round_methods:
        s = summary[f"{p.realprune_model}/{m}"]
        assert s["per_round"][0]["test_acc"] == dense["test_acc"]   # round 0 = the dense model
        assert s["sparsity"] > 0.4 and s["train_epochs"] == p.round_epochs * s["rounds"]
    scratch = summary[f"{p.realprune_model}/realprune_scratch"]
    assert scratch["sparsity"] == pytest.approx(summary[f"{p.realprune_model}/realprune"]
                                                ["sparsity"])
    auto = summary[f"{p.autoprune_model}/autoprune"]
    uni = summary[f"{p.autoprune_model}/uniform"]
    assert auto["epochs"] == uni["epochs"] == p.finetune_epochs
    ratios = list(uni["ratios"].values())
    assert max(ratios) == min(ratios) == pytest.approx(sum(auto["ratios"].values())
                                                       / len(auto["ratios"]))
    # checkpoints and masks load without unpickling
    ck = torch.load(out / p.autoprune_model / "autoprune" / "train" / "checkpoint.pt",
                    weights_only=True)
    assert ck["masks"]


def test_other_settings_are_refused_and_resimulate_trains_nothing(tiny):
    bench, out, *_ = tiny
    other = replace(bench.PRESETS["tiny"], dense_epochs=2)
    with pytest.raises(PruningError, match="dense_epochs"):
        bench.run(other, out, "cpu", None, jobs=1)
    sim = out / "sim"
    before = {f.name for f in sim.iterdir()}
    r = bench.run(bench.PRESETS["tiny"], out, "cpu", None, jobs=1, resimulate=True)
    assert r.computed == ["sim"] and {f.name for f in sim.iterdir()} == before


def test_plan_is_labelled_an_estimate():
    bench = _bench()
    text = bench.plan(bench.PRESETS["gpu-realprune"], "gpu-realprune")
    assert "ESTIMATE" in text and "assumed factor" in text
