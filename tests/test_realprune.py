"""ReaLPrune: crossbar counts of masks, the pruning step, rounds, rewinding, resume, CLI, export."""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from pruning import realprune as rp
from pruning.data import get_data
from pruning.errors import CheckpointError, PruningError
from pruning.groups import make_groups
from pruning.hardware import hardware_report, mask_crossbars, weight_masks
from pruning.masks import Masks
from pruning.methods.round_method import RoundMethod
from pruning.realprune import runner
from pruning.rounds import load_state
from rram_sim import config as rconfig

pytestmark = pytest.mark.torch

# the edge chip on 128x128 crossbars: 8-bit weights in 2-bit cells give 32 logical columns
CFG = rconfig.preset("edge").replace(**{"crossbar.rows": 128, "crossbar.cols": 128})
TINY = dict(rounds=2, epochs=1, rate=0.5, width=0.5, tolerance=1.0, batch_size=128)


@pytest.fixture(scope="module")
def data():
    return get_data("digits", batch_size=128, seed=0)


@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory, data):
    """One 2-round ReaLPrune run shared by the tests below (recording where each round starts)."""
    starts = []
    real_train = runner.train

    def spy(model, *a, **kw):
        starts.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_train(model, *a, **kw)

    path = tmp_path_factory.mktemp("realprune") / "run"
    runner.train = spy
    try:
        res = rp.run(rp.PruneSettings(**TINY), path, data=data)
    finally:
        runner.train = real_train
    return path, res, starts


# ---------------------------------------------------------------------------------------------
# Crossbars of a mask
# ---------------------------------------------------------------------------------------------

def test_mask_crossbars_dense_occupied_and_compact():
    # linear out=70, in=300: matrix 300 x 70 -> 3 row blocks x 3 column blocks (32 columns each)
    m = np.zeros((70, 300), bool)
    assert mask_crossbars(m, "fc", CFG) == {"dense": 9, "dense_occupied": 0, "compact": 0}
    m[:, :] = True
    assert mask_crossbars(m, "fc", CFG) == {"dense": 9, "dense_occupied": 9, "compact": 9}
    # keep 40 outputs and 100 inputs: 2 column blocks, each with 100 rows -> 2 crossbars
    m[:] = False
    m[np.ix_(np.arange(0, 70, 7).tolist() + list(range(40, 70)), np.arange(0, 300, 3))] = True
    got = mask_crossbars(m, "fc", CFG)
    assert got["compact"] == 2
    # the kept inputs span all 3 row blocks and the kept outputs all 3 column blocks
    assert got["dense_occupied"] == 9


def test_hardware_report_totals_and_reduction():
    masks = Masks({"a": np.ones((64, 300), bool), "b": np.zeros((8, 4, 3, 3), bool)})
    hw = hardware_report(masks, CFG)
    assert hw["crossbars_dense"] == 3 * 2 + 1
    assert hw["crossbars_compact"] == 6
    assert hw["hardware_reduction"] == pytest.approx(1 - 6 / 7)
    assert hw["weights_remaining"] == 64 * 300
    assert hw["sparsity"] == pytest.approx(288 / (64 * 300 + 288))


# ---------------------------------------------------------------------------------------------
# The pruning step
# ---------------------------------------------------------------------------------------------

def _tiny_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 40, 3), nn.ReLU(), nn.Conv2d(40, 70, 3), nn.Flatten(),
                         nn.Linear(70, 10))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), fraction=st.floats(0.05, 0.8))
def test_prune_step_removes_whole_row_and_column_segments(seed, fraction):
    model = _tiny_model(seed)
    masks = Masks.ones_like(model)
    s = rp.PruneSettings(exclude=("0.weight",)).resolved()
    new = s.make_method().prune_step(model, masks, CFG, fraction, seed=seed)
    assert new.names() == masks.names()
    assert new["0.weight"].all()              # excluded
    rows = make_groups(model, "row_segment", CFG)
    cols = make_groups(model, "col_segment", CFG)
    for name in rows:
        m = new[name].ravel()
        gr, gc = rows[name].group_id.ravel(), cols[name].group_id.ravel()
        row_alive = np.bincount(gr, weights=m, minlength=rows[name].n_groups) > 0
        col_alive = np.bincount(gc, weights=m, minlength=cols[name].n_groups) > 0
        # a removed weight lies in a removed row segment or a removed column segment
        assert np.all(m | ~row_alive[gr] | ~col_alive[gc])
        assert m.mean() >= s.floor * 0.5
    # about `fraction` of the prunable weights go (rounding per layer and per kind)
    kept = sum(new[n].sum() for n in rows) / sum(new[n].size for n in rows)
    assert abs((1 - kept) - fraction) < 0.15


def test_prune_step_is_cumulative_and_respects_the_floor():
    model = _tiny_model(1)
    lottery = rp.PruneSettings(method="lottery", exclude=(), floor=0.25).resolved().make_method()
    masks = Masks.ones_like(model)
    for _ in range(6):
        masks.apply(model)
        new = lottery.prune_step(model, masks, CFG, 0.5, seed=0)
        assert all(np.all(new[n] <= masks[n]) for n in masks.names())  # never revives
        masks = new
    for n in masks.names():
        assert masks[n].mean() >= 0.25 - 1e-9


def _w(keep: int) -> np.ndarray:
    """A 10 x 10 weight mask keeping its first ``keep`` weights."""
    return (np.arange(100) < keep).reshape(10, 10)


def test_round_fraction_stops_at_target():
    masks = Masks({"a": _w(100), "b": _w(100)})
    m = rp.PruneSettings(exclude=("a",), target_sparsity=0.4, rate=0.5).resolved().make_method()
    assert m.round_fraction(masks, 0.4) == pytest.approx(0.5)
    masks = Masks({"a": _w(100), "b": _w(30)})
    # 130 kept of 200; 120 may stay: 10 of b's 30 go, not half of them
    assert m.round_fraction(masks, 0.4) == pytest.approx(1 / 3)
    masks = Masks({"a": _w(100), "b": _w(10)})
    assert m.round_fraction(masks, 0.4) == 0.0     # already past the target
    masks = Masks({"a": _w(100), "b": _w(100)})
    one_shot = rp.PruneSettings(method="filter_l1", exclude=("a",), rate=0.5).make_method()
    assert one_shot.round_fraction(masks, 0.4) == pytest.approx(0.8)
    assert one_shot.schedule(rounds=3, epochs=2) == (1, 6) and m.schedule(3, 2) == (3, 2)
    # BatchNorm masks (1-D) are not weights: they change neither the count nor the fraction
    bn = Masks({"bn.weight": np.zeros(50, bool), "bn.bias": np.zeros(50, bool)})
    masks = Masks({"a": _w(100), "b": _w(30)}) & bn
    assert m.round_fraction(masks, 0.4) == pytest.approx(1 / 3)
    assert rp.rounds_needed(0.2, 0.9) == 11


def _dead_filters(m: np.ndarray) -> np.ndarray:
    return ~m.reshape(m.shape[0], -1).any(axis=1)


@pytest.mark.parametrize("method", ["filter_l1_iterative", "realprune"])
def test_prune_step_keeps_batchnorm_masks_on_a_resnet(method):
    """Filter groups on a ResNet are coupled across residual adds and carry the BatchNorm masks
    of their channels; prune_step keeps them (and masks the BN of every fully removed filter)."""
    from pruning.models import build_model
    from pruning.tracing import conv_bn_pairs

    torch.manual_seed(0)
    model = build_model("resnet20", 10, 1, 0.5, 8)
    masks = Masks.ones_like(model)
    s = rp.PruneSettings(model="resnet20", method=method).resolved()
    s.exclude = s.make_method().default_exclude(model)
    method_ = s.make_method()
    new = method_.prune_step(model, masks, rconfig.preset("edge"), 0.5, seed=0)
    assert new.names()[:len(masks.names())] == masks.names()    # weights first, in order
    extra = set(new.names()) - set(masks.names())
    pairs = conv_bn_pairs(model)
    assert extra == {f"{bn}.{p}" for bn in pairs.values() for p in ("weight", "bias")}
    n_dead = 0
    for conv, bn in pairs.items():
        dead = _dead_filters(new[f"{conv}.weight"])
        n_dead += int(dead.sum())
        assert np.array_equal(new[f"{bn}.weight"], ~dead)
        assert np.array_equal(new[f"{bn}.bias"], ~dead)
        # the model prune_step worked on has those channels zeroed
        assert float(dict(model.named_parameters())[f"{bn}.bias"].detach()[dead].abs().sum()) == 0
    if method == "filter_l1_iterative":
        assert n_dead > 0
        # a coupled residual set: the producers of layers.3..5 lose the same channels
        assert np.array_equal(_dead_filters(new["layers.3.conv2.weight"]),
                              _dead_filters(new["layers.4.conv2.weight"]))
    # hardware figures and the round fraction count the crossbar weights only
    hw = hardware_report(new, rconfig.preset("edge"))
    assert set(hw["layers"]) == set(masks.names())
    assert hw["weights_total"] == sum(m.size for _, m in masks.items())
    assert method_.round_fraction(new, 0.9) == method_.round_fraction(
        weight_masks(new), 0.9)
    new.validate(model)


def test_a_filter_run_on_a_resnet_trains_with_its_batchnorm_masks(tmp_path, data):
    s = rp.PruneSettings(model="resnet20", method="filter_l1_iterative", width=0.25,
                         rounds=1, epochs=1, rate=0.5, tolerance=1.0, batch_size=128)
    res = rp.run(s, tmp_path / "r", data=data)
    assert [r["round"] for r in res.rounds] == [0, 1]
    model, masks, rep = rp.load_round_model(tmp_path / "r", 1)
    assert rep["sparsity"] > 0.3
    dead = _dead_filters(masks["layers.6.conv2.weight"])
    assert dead.any()
    # trained with the BN masks held: those channels' BN scale and shift stayed zero
    assert float(model.layers[6].bn2.weight.detach()[dead].abs().sum()) == 0
    assert float(model.layers[6].bn2.bias.detach()[dead].abs().sum()) == 0


def test_settings_are_checked():
    with pytest.raises(PruningError, match="rate"):
        rp.PruneSettings(rate=1.5).resolved()
    with pytest.raises(PruningError, match="method 'nope'"):
        rp.PruneSettings(method="nope").resolved()
    with pytest.raises(PruningError, match="target_sparsity"):
        rp.PruneSettings(target_sparsity=1.0).resolved()


# ---------------------------------------------------------------------------------------------
# Rounds end to end
# ---------------------------------------------------------------------------------------------

def test_realprune_runs_rounds_with_rewinding(two_rounds):
    path, res, starts = two_rounds
    assert [r["round"] for r in res.rounds] == [0, 1, 2]
    assert res.computed == [0, 1, 2]
    sp = [r["sparsity"] for r in res.rounds]
    assert sp[0] == 0 and sp[0] < sp[1] < sp[2]
    assert res.rounds[2]["crossbars_compact"] <= res.rounds[0]["crossbars_compact"]
    rewind = load_state(path / "round_00" / "rewind.pt")
    for r in (1, 2):  # every round starts from the rewind point, masked
        masks = Masks.load(path / f"round_{r:02d}" / "mask.npz")
        for name, m in masks.items():
            want = rewind[name] * torch.from_numpy(m)
            # train() applies the mask itself; the weights it was handed are the rewind point
            assert torch.equal(starts[r][name] * torch.from_numpy(m), want)
    assert torch.equal(starts[1]["features.2.bias"], rewind["features.2.bias"])
    for f in ("mask.npz", "mask.json", "report.json", "train/checkpoint.pt"):
        assert (path / "round_02" / f).is_file()
    rep = json.loads((path / "round_02" / "report.json").read_text())
    assert {"weights_remaining", "crossbars_dense", "crossbars_compact", "hardware_reduction",
            "val_acc", "test_acc", "layers"} <= set(rep)
    model, masks, report = rp.load_round_model(path, 2)
    assert report["round"] == 2
    assert float(model.features[2].weight.detach().abs().sum()) > 0


def test_resume_recomputes_only_the_new_round(tmp_path, data, two_rounds):
    s3 = rp.PruneSettings(**{**TINY, "rounds": 3})
    shutil.copytree(two_rounds[0], tmp_path / "a")
    assert rp.run(rp.PruneSettings(**TINY), tmp_path / "a", data=data).computed == []
    resumed = rp.run(s3, tmp_path / "a", data=data)
    assert resumed.computed == [3]
    fresh = rp.run(s3, tmp_path / "b", data=data)
    assert fresh.computed == [0, 1, 2, 3]
    for a, b in zip(resumed.rounds, fresh.rounds):
        assert a == b
    assert Masks.load(tmp_path / "a/round_03/mask.npz") == Masks.load(tmp_path / "b/round_03/mask")
    # a run killed inside round 3 (checkpoint written, report not) redoes only round 3
    (tmp_path / "a/round_03/report.json").unlink()
    again = rp.run(s3, tmp_path / "a", data=data)
    assert again.computed == [3] and again.rounds == fresh.rounds
    with pytest.raises(CheckpointError, match="rate"):
        rp.run(rp.PruneSettings(**{**TINY, "rate": 0.3}), tmp_path / "a", data=data)


def test_stops_when_accuracy_drops(tmp_path, data, monkeypatch):
    real_train = runner.train
    calls = []

    def fake_accuracy(model, *a, **kw):  # dense 0.9, then a pruned round at 0.5
        res = real_train(model, *a, **kw)
        res.val_acc = 0.9 if not calls else 0.5
        calls.append(1)
        return res

    monkeypatch.setattr(runner, "train", fake_accuracy)
    res = rp.run(rp.PruneSettings(**{**TINY, "tolerance": 0.1, "rounds": 4}), tmp_path / "r",
                 data=data)
    assert [r["round"] for r in res.rounds] == [0, 1]
    assert res.rounds[1]["accuracy_change"] == pytest.approx(-0.4)
    assert not res.rounds[1]["within_tolerance"]
    assert res.ticket["round"] == 0


def test_stops_when_a_round_would_remove_nothing(tmp_path, data, monkeypatch):
    real_step = RoundMethod.prune_step
    calls = []

    def step(self, model, masks, *a, **kw):  # round 1 prunes, round 2 finds nothing to remove
        calls.append(1)
        return real_step(self, model, masks, *a, **kw) if len(calls) == 1 else masks.copy()

    monkeypatch.setattr(RoundMethod, "prune_step", step)
    # round 1 removes half the prunable groups, short of 50 %: round 2's fraction is cut to the
    # target, and when that rounds to no group the run stops (a full-rate round that removes
    # nothing, e.g. at the floor, does not stop it: test_baselines' crossbar run)
    s = rp.PruneSettings(**{**TINY, "rounds": 4, "target_sparsity": 0.5})
    res = rp.run(s, tmp_path / "r", data=data)
    assert res.rounds[1]["sparsity"] < 0.5
    assert len(calls) == 2
    assert [r["round"] for r in res.rounds] == [0, 1] and res.computed == [0, 1]
    assert not (tmp_path / "r" / "round_02").exists()


def test_every_round_exports_to_a_verified_bundle(data, two_rounds):
    from pruning.export import export_bundle
    from rram_sim.datapath import verify_bundle

    x = next(iter(data.test))[0][:2]
    cfg = rconfig.preset("edge").replace(**{"adc.range_policy": "lossless"})
    for r in range(3):
        model, masks, _ = rp.load_round_model(two_rounds[0], r)
        bundle = export_bundle(model, masks, cfg, "compact", x)
        report = verify_bundle(bundle)
        assert report.passed, report.table()


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def _cli(argv):
    from pruning.cli import realprune as cli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.register(sub)
    args = parser.parse_args(["realprune", *argv])
    return args.func(args)


def test_cli_writes_rounds_and_summary(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = _cli(["--rounds", "1", "--epochs", "1", "--width", "0.5", "--rate", "0.5",
               "--tolerance", "1", "--quiet", "-o", str(out)])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    assert (out / "summary.csv").read_text().startswith("round,method,sparsity")
    assert "ticket: round" in capsys.readouterr().out
    with pytest.raises(PruningError, match="unknown"):
        _cli(["--method", "nope", "-o", str(tmp_path / "x")])
