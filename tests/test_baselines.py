"""Baselines: the method registry, each method end to end on digits, and the structure each one
removes."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from pruning import realprune as rp
from pruning.data import get_data
from pruning.errors import PruningError
from pruning.groups import group_scores, make_groups
from pruning.hardware import hardware_report
from pruning.masks import Masks
from pruning.methods.base import ModelMethod, PruningMethod
from pruning.methods.lottery import Lottery
from pruning.methods.registry import (
    get_method,
    method_names,
    register_method,
    unregister_method,
)
from pruning.methods.round_method import FineTuneMethod, RoundMethod, RoundSettings
from pruning.realprune import runner
from pruning.rounds import RunFolder
from rram_sim import config as rconfig

pytestmark = pytest.mark.torch

CFG = rconfig.preset("edge")
TINY = dict(rounds=2, epochs=1, rate=0.5, width=0.5, tolerance=1.0, batch_size=128)
ALL = ("realprune", "lottery", "filter_l1", "filter_l1_iterative", "crossbar", "pim_prune",
       "random")


@pytest.fixture(scope="module")
def data():
    return get_data("digits", batch_size=128, seed=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data):
    """Every registered method, 2 rounds of 1 epoch, in one folder each."""
    root = tmp_path_factory.mktemp("baselines")
    return {m: rp.run(rp.PruneSettings(method=m, **TINY), root / m, data=data) for m in ALL}


def test_registry_lookup_and_unknown_names():
    assert method_names(RoundMethod) == list(ALL)
    assert method_names(ModelMethod) == ["autoprune", "uniform"]
    assert method_names() == list(ALL) + ["autoprune", "uniform"]
    assert get_method("lottery") is Lottery and get_method("lottery", RoundMethod) is Lottery
    assert all(issubclass(get_method(m), PruningMethod) and get_method(m).description
               for m in method_names())
    # an unknown name is refused with the known ones (of the family asked for)
    with pytest.raises(PruningError, match=r"method 'nope': unknown \(known: realprune, lottery, "
                       r"filter_l1, .*, random, autoprune, uniform\)"):
        get_method("nope")
    with pytest.raises(PruningError, match=r"unknown \(known: realprune, .*, random\)$"):
        get_method("nope", RoundMethod)
    with pytest.raises(PruningError, match="'autoprune': not a round method"):
        get_method("autoprune", RoundMethod)
    with pytest.raises(PruningError, match="method 'nope'"):
        rp.PruneSettings(method="nope").resolved()
    with pytest.raises(PruningError, match="already registered"):
        register_method(Lottery)
    with pytest.raises(PruningError, match="built in"):
        unregister_method("lottery")
    # a method owns its settings: defaults, validation, unknown keys refused
    assert Lottery().settings.scope == "global" and Lottery(rate=0.3).settings.rate == 0.3
    with pytest.raises(PruningError, match="rate=1.5"):
        Lottery(rate=1.5)
    with pytest.raises(PruningError, match=r"unknown setting 'nope' \(known: granularity, "):
        Lottery(nope=1)
    with pytest.raises(PruningError, match="granularity 'rows': unknown"):
        Lottery(granularity=("rows",))


@dataclass(frozen=True)
class _OuSettings(RoundSettings):
    granularity: tuple[str, ...] = ("ou",)
    largest_first: bool = False          # a setting of this method alone


class _OuBlocks(FineTuneMethod):
    """A method registered by the test: whole OU blocks, optionally the largest norms first."""

    name = "ou_test"
    description = "OU blocks by norm, fine-tuned"
    Settings = _OuSettings

    def scores(self, model, groups, rng):
        s = super().scores(model, groups, rng)
        return {n: 1.0 / (v + 1e-12) for n, v in s.items()} if self.settings.largest_first else s


def test_a_registered_method_is_found_and_run(tmp_path, data):
    register_method(_OuBlocks)
    try:
        assert "ou_test" in method_names(RoundMethod) and get_method("ou_test") is _OuBlocks
        s = rp.PruneSettings(method="ou_test", options={"largest_first": True},
                             **{**TINY, "rounds": 1})
        res = rp.run(s, tmp_path / "ou", data=data)
        assert [r["method"] for r in res.rounds] == ["ou_test", "ou_test"]
        assert res.rounds[1]["granularity"] == ["ou"] and res.rounds[1]["sparsity"] > 0
        stored = json.loads((tmp_path / "ou" / "run.json").read_text())
        assert stored["method"] == "ou_test" and stored["options"] == {"largest_first": True}
        # whole OU blocks, the largest (by the dense round's weights) removed first
        dense, _, _ = rp.load_round_model(tmp_path / "ou", 0)
        _, masks, _ = rp.load_round_model(tmp_path / "ou", 1)
        groups = make_groups(dense, "ou", CFG, exclude=("features.0.weight",
                                                       "classifier.weight"))
        norms = group_scores(dense, groups, "l1", per_weight=True)
        for name, g in groups.items():
            kept = np.bincount(g.group_id.ravel(), weights=masks[name].ravel().astype(float),
                               minlength=g.n_groups)
            assert np.all((kept == 0) | (kept == g.sizes()))
            gone = kept == 0
            if gone.any():
                assert norms[name][gone].min() >= norms[name][~gone].max()
        with pytest.raises(PruningError, match="unknown setting 'nope'"):
            rp.PruneSettings(method="ou_test", options={"nope": 1}).resolved()
    finally:
        unregister_method("ou_test")
    assert "ou_test" not in method_names()


@pytest.mark.parametrize("method", ALL)
def test_method_runs_end_to_end(runs, method):
    res = runs[method]
    n_rounds, epochs = get_method(method)().schedule(TINY["rounds"], TINY["epochs"])
    assert [r["round"] for r in res.rounds] == list(range(n_rounds + 1))
    assert res.rounds[0]["sparsity"] == 0
    assert res.rounds[-1]["sparsity"] > 0
    for r in res.rounds:
        assert r["method"] == method
        assert 0 <= r["val_acc"] <= 1
        assert r["crossbars_compact"] <= r["crossbars_dense"]
        assert r["hardware_reduction"] == pytest.approx(
            1 - r["crossbars_compact"] / r["crossbars_dense"])
    if method == "filter_l1":  # one shot to the target (capped by the floor), the whole budget
        assert (n_rounds, epochs) == (1, TINY["epochs"] * TINY["rounds"])
        layers = res.rounds[1]["layers"]
        assert layers["features.2.weight"]["sparsity"] >= 0.9
        assert layers["classifier.weight"]["sparsity"] == 0     # excluded by default
        assert res.rounds[1]["epochs"] == TINY["epochs"] * TINY["rounds"]


def _masks(runs, method, r):
    return Masks.load(runs[method].path / f"round_{r:02d}" / "mask.npz")


def _whole_groups(runs, method, r, granularity):
    """True when every group of ``granularity`` is kept whole or removed whole."""
    model, masks, _ = rp.load_round_model(runs[method].path, r)
    groups = make_groups(model, granularity, CFG, exclude=("features.0.weight",))
    for name, g in groups.items():
        m = masks[name].ravel().astype(float)
        kept = np.bincount(g.group_id.ravel(), weights=m, minlength=g.n_groups)
        if not np.all((kept == 0) | (kept == g.sizes())):
            return False
    return True


def test_each_method_removes_its_own_structure(runs):
    assert _whole_groups(runs, "filter_l1", 1, "filter")
    assert _whole_groups(runs, "filter_l1_iterative", 2, "filter")
    assert _whole_groups(runs, "crossbar", 2, "crossbar")
    # unstructured pruning does not empty whole filters
    assert not _whole_groups(runs, "lottery", 2, "filter")


def test_lottery_ranks_globally(runs):
    masks = _masks(runs, "lottery", 1)
    names = [n for n in masks.names() if n not in ("features.0.weight", "classifier.weight")]
    kept = sum(masks[n].sum() for n in names)
    total = sum(masks[n].size for n in names)
    assert (1 - kept / total) == pytest.approx(0.5, abs=0.01)
    # a global ranking prunes the layers unevenly
    per_layer = [1 - masks[n].mean() for n in names]
    assert max(per_layer) - min(per_layer) > 0.01


def test_random_control_uses_the_same_groups_and_counts_but_other_choices(runs):
    a, b = _masks(runs, "realprune", 1), _masks(runs, "random", 1)
    assert a != b
    for n in a.names():
        assert abs(int(a[n].sum()) - int(b[n].sum())) <= 0.1 * a[n].size


def test_fine_tuning_methods_continue_from_the_trained_weights(tmp_path, data, monkeypatch):
    starts = []
    real_train = runner.train

    def spy(model, *a, **kw):
        starts.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_train(model, *a, **kw)

    monkeypatch.setattr(runner, "train", spy)
    res = rp.run(rp.PruneSettings(method="pim_prune", **{**TINY, "rounds": 1}), tmp_path / "p",
                 data=data)
    dense_trained = RunFolder(res.path, {}).load(0).weights()
    masks = _masks({"pim_prune": res}, "pim_prune", 1)
    for name, m in masks.items():  # round 1 starts from round 0's trained weights (masked)
        assert torch.equal(starts[1][name], dense_trained[name] * torch.from_numpy(m))


def test_benchmark_writes_table_and_plot(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pruning.py"
    spec = importlib.util.spec_from_file_location("bench_pruning", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench"
    assert bench.main(["--methods", "realprune,lottery", "--rounds", "1", "--epochs", "1",
                       "--width", "0.5", "--batch-size", "128", "--tolerance", "1",
                       "--out", str(out)]) == 0
    lines = (out / "results.csv").read_text().splitlines()
    assert lines[0].split(",") == list(bench.FIELDS)
    assert [ln.split(",")[0] for ln in lines[1:]] == ["dense", "realprune", "lottery"]
    dense = dict(zip(bench.FIELDS, lines[1].split(",")))
    assert float(dense["speedup_vs_dense"]) == 1.0 and float(dense["step_time_us"]) > 0
    assert (out / "results.md").read_text().startswith("| method |")
    assert (out / "rounds.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pruning.py"
    spec = importlib.util.spec_from_file_location("bench_pruning", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_benchmark_presets_and_explicit_options():
    bench = _bench()
    ci = bench.parse_args([])
    assert (ci.preset, ci.model, ci.width, ci.rounds, ci.methods) == ("ci", "digits_cnn", 2.0, 4,
                                                                      None)
    edge = bench.parse_args(["--preset", "edge-overflow", "--epochs", "2"])
    assert (edge.model, edge.width, edge.rounds, edge.epochs) == ("resnet20", 1.0, 8, 2)
    assert edge.methods.split(",")[:3] == ["realprune", "lottery", "pim_prune"]
    assert edge.out == "out/bench_pruning_edge_overflow"
    # the preset's model does not fit the edge chip dense: that is what the preset is for
    from pruning.models import build_model
    model = build_model("resnet20", 10, 1, edge.width, 8)
    hw = hardware_report(Masks.ones_like(model), CFG)
    assert hw["crossbars_dense"] > CFG.chip.tiles * CFG.tile.pes * CFG.pe.crossbars


def test_benchmark_step_reloads_a_network_larger_than_the_chip(data):
    """simulate_step runs a network larger than the chip in reload segments (their programming
    charged in time and energy) and one that fits in a single segment with no reload."""
    bench = _bench()
    torch.manual_seed(0)
    from pruning.models import build_model
    model = build_model("digits_cnn", 10, 1, 1.0, 8)   # 1 + 2 + 3 + 1 PEs of 4 crossbars
    small = CFG.replace(**{"chip.tiles": 1})            # 4 PEs
    sample = next(iter(data.test))[0][:1]
    dense = Masks.ones_like(model)
    fits = bench.simulate_step(model, dense, CFG, "dense", sample)
    assert fits["segments"] == 1
    assert fits["reload_time_pct"] == 0 and fits["reload_energy_pct"] == 0
    over = bench.simulate_step(model, dense, small, "dense", sample)
    assert over["segments"] >= 2
    assert 0 < over["reload_time_pct"] < 100 and 0 < over["reload_energy_pct"] < 100
    assert over["step_time_us"] > fits["step_time_us"]
    # the smallest doubling of the tile count that holds it: 2 tiles (8 PEs for 7), no reload
    big = bench.fitting_chip(small, model, dense, "dense", sample)
    assert big.chip.tiles == 2
    assert bench.simulate_step(model, dense, big, "dense", sample)["segments"] == 1
    # keep 4 of features.2's 32 filters and 8 of features.5's 32 filters on those 4 channels:
    # compact, the pruned network fits the 4 PEs in one segment, with no reload
    m2, m5 = dense["features.2.weight"].copy(), dense["features.5.weight"].copy()
    m2[4:] = False
    m5[8:] = False
    m5[:, 4:] = False
    pruned = Masks({**dict(dense.items()), "features.2.weight": m2, "features.5.weight": m5})
    cut = bench.simulate_step(model, pruned, small, "compact", sample)
    assert cut["segments"] == 1 and cut["reload_time_pct"] == 0
    assert cut["step_time_us"] < over["step_time_us"]
