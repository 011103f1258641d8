"""Tests of AUTO-PRUNE: reward, state, groups, a CI-sized search on digits, resume, determinism,
the constraint, the ``ou`` bundle on the indexed datapath, and the output files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pruning.autoprune import (
    AutoPruneSettings,
    PruningEnv,
    load_policy,
    reward,
    search,
)
from pruning.ddpg import DdpgConfig
from pruning.errors import CheckpointError, PruningError
from pruning.groups import layer_groups
from pruning.methods.base import ModelMethod
from pruning.methods.registry import get_method
from pruning.models import build_model
from pruning.train import seed_everything, train
from rram_sim.config import preset
from rram_sim.layout import LayerSpec

pytestmark = pytest.mark.torch

SPEC = {"name": "digits_cnn", "num_classes": 10, "in_channels": 1, "width": 1.0, "image_size": 8}
FAST = AutoPruneSettings(episodes=4, upper=0.8, episode_finetune_epochs=1, finetune_epochs=1,
                         seed=3, ddpg=DdpgConfig(hidden=32, batch_size=8, replay_size=64,
                                                 warmup_episodes=2, delta_decay=0.9))


@pytest.fixture(scope="module")
def trained():
    from pruning.data import get_data

    # The benchmark's dense model (validation accuracy 0.974): a well-trained base, so that the
    # accuracy constraint is a real one (an under-trained base gains from any fine-tune).
    data = get_data("digits", batch_size=64, seed=0)
    seed_everything(0, threads=1)    # one thread: a small CNN trains fastest on a busy machine
    model = build_model("digits_cnn", 10, 1, 1.0, 8)
    train(model, data, 8, lr=0.05, progress=False)
    return model, data, preset("edge")


def test_reward_formula():
    s = AutoPruneSettings(accuracy_loss=0.01, penalty=100.0, accuracy_weight=1.0)
    # within the allowance: log2 of the gain plus the (small) accuracy term
    assert reward(0.95, 0.955, {"crossbars": 2.0}, s) == pytest.approx(1.0 - 0.005)
    # 3 points beyond the allowance cost 3 units
    assert reward(0.915, 0.955, {"crossbars": 2.0}, s) == pytest.approx(1.0 - 0.04 - 3.0)
    # several metrics multiply their gains
    assert reward(0.9, 0.9, {"crossbars": 2.0, "energy": 4.0}, s) == pytest.approx(3.0)


def test_settings_are_validated():
    for bad in (dict(accuracy_loss=-0.1), dict(episodes=0), dict(lower=0.5, upper=0.4),
                dict(granularity="rows"), dict(reward_metrics=("area",)),
                dict(ddpg=DdpgConfig(tau=2.0))):
        with pytest.raises(PruningError, match="autoprune"):
            AutoPruneSettings(**bad).validate()


def test_ou_column_groups_are_ou_high_column_vectors():
    cfg = preset("edge")                      # ou.rows = 16
    spec = LayerSpec("c", "conv", (6, 4, 3, 3), (4, 5, 5), (1, 1), (1, 1))   # K = 36, N = 6
    g = layer_groups(spec, "ou_column", cfg, "c.weight")
    assert g.n_groups == math.ceil(36 / 16) * 6
    from rram_sim.mapping import unroll_weight

    mat = unroll_weight(g.group_id, spec)     # [K, N] group ids
    for gid in range(g.n_groups):
        rows, cols = np.nonzero(mat == gid)
        assert len(set(cols)) == 1                            # one logical column
        assert len(set(rows // 16)) == 1 and len(rows) <= 16  # inside one OU row band


def test_ou_row_groups_are_rows_of_one_ou_column_block():
    cfg = preset("edge")                      # ou.cols 16 / 4 physical columns = 4 logical
    spec = LayerSpec("c", "conv", (6, 4, 3, 3), (4, 5, 5), (1, 1), (1, 1))   # K = 36, N = 6
    g = layer_groups(spec, "ou_row", cfg, "c.weight")
    assert g.n_groups == 36 * 2
    from rram_sim.mapping import unroll_weight

    mat = unroll_weight(g.group_id, spec)
    for gid in range(g.n_groups):
        rows, cols = np.nonzero(mat == gid)
        assert len(set(rows)) == 1                            # one matrix row
        assert len(set(cols // 4)) == 1 and len(cols) == (4 if cols[0] < 4 else 2)


def test_env_state_features(trained):
    model, data, cfg = trained
    env = PruningEnv(model, data, cfg, FAST)
    assert env.n_layers == 4 and env.total_dense == int(env.dense_xb.sum())
    states = [env.reset()]
    done = False
    while not done:
        s, done = env.step(0.6)
        states.append(s)
    states = np.array(states)
    assert states.shape == (5, 11)
    assert states.min() >= 0.0 and states.max() <= 1.0
    assert states[1, -1] == pytest.approx(0.6)               # previous action
    assert np.all(np.diff(states[:4, -2]) <= 0)               # crossbars left only decrease
    # pruning never needs more crossbars than none at all
    assert all(env.layer_crossbars(i, 0.8) <= env.layer_crossbars(i, 0.0)
               for i in range(env.n_layers))


def test_groups_are_ranked_per_weight(trained):
    """A group cut short by the matrix edge (the classifier's last OU column block holds 2 of 10
    outputs) is ranked by its mean magnitude, not removed first for being small."""
    from pruning.groups import group_scores

    model, data, cfg = trained
    env = PruningEnv(model, data, cfg, FAST)
    name = "classifier.weight"
    g = env.groups[name]
    assert FAST.granularity == "ou_row" and g.n_groups == 128 * 3    # 10 cols = 4 + 4 + 2
    np.testing.assert_allclose(env.scores[name], group_scores(model, env.groups)[name]
                               / g.sizes())
    masks = env.layer_masks({name: 1 / 3})
    # outputs 8 and 9 (the 2-column block) keep inputs: the whole block is not the first cut
    assert masks[name][8:].any()


def test_default_search_finds_a_compressing_policy(trained):
    """The defaults' search (shortened: 12 episodes, 6 random) on the CI model finds a policy
    within the 1-point constraint that frees crossbars, and the result applies it as found."""
    from dataclasses import replace

    from pruning.autoprune import AGENT, finalize

    model, data, cfg = trained
    s = AutoPruneSettings(episodes=12, ddpg=replace(AGENT, warmup_episodes=6))
    env = PruningEnv(model, data, cfg, s)
    res = search(env)
    best = res.best
    assert best is not None and best.feasible
    assert best.accuracy_drop <= s.accuracy_loss + 1e-12
    assert best.compression_rate >= 2.0
    fin = finalize(env, res)
    # the searched model is one of the candidates: the found policy is never scaled back
    assert fin.scale == 1.0 and fin.accuracy >= best.accuracy
    assert fin.crossbars == best.crossbars
    assert fin.base_accuracy - fin.accuracy <= s.accuracy_loss + 1e-12


def test_search_resume_and_determinism(trained, tmp_path):
    model, data, cfg = trained
    straight = search(PruningEnv(model, data, cfg, FAST))
    env = PruningEnv(model, data, cfg, FAST)
    first = search(env, tmp_path, stop_after=2)             # "killed" after 2 episodes
    assert len(first.history) == 2
    resumed = search(PruningEnv(model, data, cfg, FAST), tmp_path)
    assert resumed.resumed_from == 2
    assert [e.to_dict() for e in resumed.history] == [e.to_dict() for e in straight.history]
    assert (resumed.best is None) == (straight.best is None)
    if straight.best is not None:
        assert resumed.best.ratios == straight.best.ratios
    assert len(list((tmp_path / "search").glob("replay-*.npz"))) == 1
    # the explored policies differ between episodes (random warm-up, noisy actions afterwards)
    assert len({tuple(e.ratios) for e in straight.history}) == len(straight.history)
    other = AutoPruneSettings(**{**FAST.__dict__, "accuracy_loss": 0.05})
    with pytest.raises(CheckpointError, match="other settings"):
        search(PruningEnv(model, data, cfg, other), tmp_path)


def test_autoprune_meets_constraint_and_writes_outputs(trained, tmp_path):
    """The registry's ``autoprune`` method: the constraint holds and every output is written."""
    from rram_sim.bundle import load_bundle
    from rram_sim.datapath import verify_bundle

    model, data, cfg = trained
    method = get_method("autoprune", ModelMethod)(FAST)
    assert method.settings is FAST
    res = method.prune(model, data, cfg, tmp_path / "run", model_spec=SPEC)
    assert res.base_accuracy - res.accuracy <= FAST.accuracy_loss + 1e-12
    assert res.crossbars <= res.dense_crossbars
    assert res.compression_rate == pytest.approx(res.dense_crossbars / res.crossbars)
    run = tmp_path / "run"
    for name in ("best_policy.json", "learning_curve.csv", "learning_curve.png", "masks.npz",
                 "model/checkpoint.pt", "bundle/manifest.json", "search/checkpoint.pt"):
        assert (run / name).is_file(), name
    policy = json.loads((run / "best_policy.json").read_text())
    assert policy["accuracy_drop"] <= FAST.accuracy_loss + 1e-12
    assert load_policy(run) == res.ratios
    rows = (run / "learning_curve.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + FAST.episodes
    assert (run / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"

    from pruning.checkpoint import model_from_checkpoint

    m2, masks2, _ = model_from_checkpoint(run / "model")
    assert masks2 == res.masks
    for name, mask in masks2.items():
        assert not dict(m2.named_parameters())[name].detach().numpy()[~mask].any()

    bundle = load_bundle(run / "bundle")
    assert bundle.scheme == "ou"
    assert verify_bundle(bundle, index_unit=True).passed


def test_policy_bundle_needs_the_index_unit(trained, tmp_path):
    """A policy pruned to OU-block rows, mapped ``ou``: exact with the index tables, dislocated
    (wrong outputs) when rows and columns are fed by base address alone."""
    from pruning.export import export_bundle
    from rram_sim.datapath import verify_bundle

    model, data, cfg = trained
    env = PruningEnv(model, data, cfg, FAST)
    masks = env.masks_for([0.6] * env.n_layers)
    x, _ = next(iter(data.val))
    bundle = export_bundle(env.masked_model(masks, 0, 0), masks, cfg, "ou", x[:2])
    assert verify_bundle(bundle, index_unit=True).passed
    naive = verify_bundle(bundle, index_unit=False)
    assert not naive.passed
    assert max(c.wrong_fraction for c in naive.layers) > 0.05


def test_comparison_table_and_plot(trained, tmp_path):
    """The benchmark's table: rows from the engine for two policies, ratios to the reference."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_autoprune.py"
    spec = importlib.util.spec_from_file_location("bench_autoprune", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    model, data, cfg = trained
    env = PruningEnv(model, data, cfg, FAST)
    x, _ = next(iter(data.val))
    rows = []
    for name, ratio in (("pim_prune", 0.0), ("auto_prune", 0.7)):
        masks = env.masks_for([ratio] * env.n_layers)
        rows.append(bench._row(name, "ou", env.masked_model(masks, 0, 0), masks, data, cfg, x))
    md = bench.write_comparison(rows, tmp_path)
    assert len(md) == 2 + len(rows)
    ref, ap = rows
    assert ref["compression_x"] == 1.0 and ref["energy_eff_x"] == 1.0
    assert ap["crossbars"] <= ref["crossbars"]
    assert ap["compression_x"] == pytest.approx(ap["compression_rate"] / ref["compression_rate"])
    assert ap["energy_eff"] == pytest.approx(1e12 / ap["energy_pj"])
    csv_rows = (tmp_path / "comparison.csv").read_text().strip().splitlines()
    assert csv_rows[0].startswith("method,scheme") and len(csv_rows) == 3
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert "auto_prune" in (tmp_path / "comparison.md").read_text()


def test_uniform_method_prunes_every_layer_alike(trained):
    """The registry's ``uniform`` method: AUTO-PRUNE's groups, ranking and fine-tune at one ratio
    for every layer — the same masks and weights as the environment gives that policy."""
    import torch

    model, data, cfg = trained
    res = get_method("uniform", ModelMethod)(ratio=0.5, finetune_epochs=1, seed=3).prune(
        model, data, cfg)
    env = PruningEnv(model, data, cfg, FAST)
    masks = env.masks_for([0.5] * env.n_layers)
    assert res.masks == masks and set(res.ratios.values()) == {0.5}
    ref = env.masked_model(masks, 1, 3)
    for (n, a), (_, b) in zip(res.model.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), n
    with pytest.raises(PruningError, match="ratio=1.5"):
        get_method("uniform")(ratio=1.5)
    with pytest.raises(PruningError, match="autoprune: needs an output folder"):
        get_method("autoprune")(FAST).prune(model, data, cfg)
