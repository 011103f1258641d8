"""Tests of rram_sim.placement_policies: none / fixed / balance copies per layer, simulated."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rram_sim import config
from rram_sim.bundle import map_network, save_bundle
from rram_sim.cli import main
from rram_sim.engine import plan_for, run_plan
from rram_sim.engine import timing as T
from rram_sim.errors import ConfigError
from rram_sim.layout import LayerSpec
from rram_sim.placement import place
from rram_sim.placement_policies import (
    PLACEMENT_POLICIES,
    BalancePolicy,
    TrainingBalancePolicy,
    get_policy,
    pes_needed,
    stage_cycles,
)
from rram_sim.report import Report
from rram_sim.simulate import simulate

# edge with one PE per tile: every copy of a layer sits on its own tile.
ONE_PE_TILES = {"chip.tiles": 4, "tile.pes": 1}
C1 = LayerSpec("c1", "conv", (8, 8, 1, 1), (8, 2, 4))     # 8 vectors, 2 OU reads per chunk
C2 = LayerSpec("c2", "conv", (16, 8, 1, 1), (8, 2, 4))    # 8 vectors, 4 OU reads per chunk


def _two_layer(cfg):
    rng = np.random.default_rng(3)
    return map_network([C1, C2], [rng.standard_normal(s.weight_shape) for s in (C1, C2)], cfg)


def test_registry_lists_the_policies_and_refuses_unknown_names():
    assert list(PLACEMENT_POLICIES) == ["none", "fixed", "balance", "balance_training"]
    with pytest.raises(ConfigError, match="none, fixed, balance"):
        get_policy("spread")
    with pytest.raises(ConfigError, match="needs the copies"):
        get_policy("fixed")
    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    with pytest.raises(ConfigError, match="unknown layer"):
        simulate(_two_layer(cfg), cfg, placement="fixed", copies={"c9": 2})


def test_doubling_the_bottleneck_copies_halves_its_stage_time_by_hand():
    """edge: c1 holds its crossbar 1600 cycles a vector (8 chunks x 2 reads x 100), c2 3200
    (4 reads); each 8 vectors per image, so c2 is the bottleneck at 8 x 3200 = 25600 cycles per
    image. Two copies of c2 take alternate vectors: 4 x 3200 = 12800 each, as long as c1's."""
    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    bundle = _two_layer(cfg)
    one = plan_for(bundle, cfg)
    two = plan_for(bundle, cfg, replication={"c1": 1, "c2": 2})
    assert [s.copies for s in two if s.layout is not None] == [1, 2]
    ph1, ph2 = (T.forward_phases(s.geom, cfg) for s in one[1:])
    assert (T.phases_latency(ph1), T.phases_interval(ph1)) == (1618, 1600)
    assert (T.phases_latency(ph2), T.phases_interval(ph2)) == (3218, 3200)
    assert stage_cycles(8, 1, 3200, 2) == 25600 and stage_cycles(8, 2, 3200, 2) == 12800
    r1 = run_plan(one, cfg, "inference", 3)
    r2 = run_plan(two, cfg, "inference", 3)
    # one copy: first input row 5, c1's first vector 1618, the message 4, then c2 back to back:
    # 3218 + 7 x 3200; each further image 8 x 3200 later
    assert r1.image_done_cycles == [5 + 1618 + 4 + 3218 + 7 * 3200 + k * 25600 for k in range(3)]
    # two copies: c2's vector v arrives 1600 v after the first and finds copy v mod 2 free, so
    # the last ends 7 x 1600 + 3218 after the first arrives; each further image 8 x 1600 later
    assert r2.image_done_cycles == [5 + 1618 + 4 + 7 * 1600 + 3218 + k * 12800 for k in range(3)]
    # the latency falls by 7 x 1600, the throughput of a long batch doubles
    assert r1.image_done_cycles[0] - r2.image_done_cycles[0] == 7 * 1600 == 11200
    assert (r1.image_done_cycles[2] - r1.image_done_cycles[1]
            == 2 * (r2.image_done_cycles[2] - r2.image_done_cycles[1]))
    # the same through simulate() and the report (edge runs at 1 GHz: cycles are ns)
    rep = simulate(bundle, cfg, "inference", batch=3, placement="fixed", copies={"c2": 2})
    assert rep.figures["placement_policy"] == "fixed"
    assert rep.figures["copies_per_layer"] == {"c1": 1, "c2": 2}
    assert rep.figures["stage_cycles_per_image"] == {"c1": 8 * 1600, "c2": 4 * 3200}
    before = simulate(bundle, cfg, "inference", batch=3)
    assert before.figures["stage_cycles_per_image"] == {"c1": 8 * 1600, "c2": 8 * 3200}
    assert before.figures["bottleneck_stage"] == "c2"
    assert before.figures["stage_balance"] == (8 * 1600 + 8 * 3200) / 2 / (8 * 3200) == 0.75
    assert rep.figures["stage_balance"] == 1.0           # both stages 12800 cycles per image
    assert rep.runs["inference"]["makespan_ns"] == r2.image_done_cycles[2] == 41645
    assert rep.runs["inference"]["latency_ns"] == 16045


def test_none_reproduces_todays_results_exactly():
    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    bundle = _two_layer(cfg)
    for passes in ("inference", "training"):
        today = simulate(bundle, cfg, passes, batch=2)
        none = simulate(bundle, cfg, passes, batch=2, placement="none")
        assert today.runs == none.runs
        assert today.records == none.records
        assert none.figures["copies_per_layer"] == {"c1": 1, "c2": 1}


def test_balance_by_hand_on_a_four_pe_chip():
    """4 PEs, one crossbar per layer: c2 (25600 per image) gets a second copy (12800); then c1
    and c2 tie at 12800 and c1, the first, gets a second copy (6400); c2 again the bottleneck
    would need a fifth PE for a third copy: stop at {c1: 2, c2: 2}."""
    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    bundle = _two_layer(cfg)
    assert BalancePolicy().copies(bundle, cfg) == {"c1": 2, "c2": 2}
    rep = simulate(bundle, cfg, "inference", batch=3, placement="balance", overflow="error")
    assert rep.figures["copies_per_layer"] == {"c1": 2, "c2": 2}
    none = simulate(bundle, cfg, "inference", batch=3)
    assert rep.runs["inference"]["throughput_per_s"] > 1.9 * none.runs["inference"][
        "throughput_per_s"]


@pytest.mark.parametrize("tiles,pes,crossbars", [(2, 2, 4), (4, 4, 4), (2, 4, 4), (16, 4, 4)])
def test_balance_never_uses_more_crossbars_than_the_chip_has(tiles, pes, crossbars):
    cfg = config.preset("edge").replace(**{"chip.tiles": tiles, "tile.pes": pes,
                                           "pe.crossbars": crossbars})
    rng = np.random.default_rng(0)
    specs = [LayerSpec("a", "conv", (16, 8, 3, 3), (8, 8, 8), padding=(1, 1)),
             LayerSpec("b", "conv", (16, 16, 3, 3), (16, 8, 8), padding=(1, 1)),
             LayerSpec("c", "linear", (10, 1024), (1024,))]
    bundle = map_network(specs, [rng.standard_normal(s.weight_shape) for s in specs], cfg,
                         allow_multi_chip=True)
    copies = BalancePolicy().copies(bundle, cfg)
    n_xb = [lay.n_crossbars for lay in bundle.layers]
    reps = [copies[lay.spec.name] for lay in bundle.layers]
    slots = tiles * pes * crossbars
    if pes_needed(n_xb, [1] * 3, cfg) > tiles * pes:
        assert reps == [1, 1, 1]               # the network does not fit once: no copies
        return
    assert pes_needed(n_xb, reps, cfg) <= tiles * pes
    pl = place(n_xb, cfg, names=list(copies), replication=reps, fresh_pe_per_copy=True)
    assert pl.figures["chips_used"] == 1
    assert pl.figures["crossbars_placed"] == sum(n * r for n, r in zip(n_xb, reps)) <= slots
    assert pl.figures["pes_occupied"] == pes_needed(n_xb, reps, cfg)
    # and the engine runs the balanced placement on one chip
    rep = simulate(bundle, cfg, "inference", placement="balance", overflow="error")
    assert list(rep.figures["copies_per_layer"].values()) == reps


def test_each_copy_starts_a_fresh_pe():
    cfg = config.default().replace(**{"chip.tiles": 4, "tile.pes": 2, "pe.crossbars": 3,
                                      "noc.concentration": 1})
    pl = place([2, 1], cfg, names=["a", "b"], replication=[2, 1], fresh_pe_per_copy=True)
    a, b = pl.location
    # a's copies on PEs 0 and 1 (tile 0), b on PE 2 (tile 1)
    assert a[:, :, 2].tolist() == [[0, 0], [1, 1]] and a[:, :, 1].tolist() == [[0, 0], [0, 0]]
    assert b[0].tolist() == [[0, 1, 0, 0]]
    assert pes_needed([2, 1], [2, 1], cfg) == pl.figures["pes_occupied"] == 3


def test_training_writes_every_copy_in_parallel():
    """Every copy holds the same weights, so an update writes copies x the written cells; each
    copy has its own PE's write drivers, so the update takes as long as with one copy."""
    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    bundle = _two_layer(cfg)
    one = run_plan(plan_for(bundle, cfg), cfg, "training", 2)
    two = run_plan(plan_for(bundle, cfg, replication={"c1": 1, "c2": 2}), cfg, "training", 2)
    assert one.pulses_per_layer["c1"] == two.pulses_per_layer["c1"]
    assert two.pulses_per_layer["c2"] == 2 * one.pulses_per_layer["c2"] > 0
    geom = plan_for(bundle, cfg)[2].geom
    assert one.pulses_per_layer["c2"] == geom.written_cells * cfg.cell.pulses_per_level
    update = T.update_cycles(geom, cfg)
    assert update > 0
    assert one.makespan_cycles - one.drain_cycles == two.makespan_cycles - two.drain_cycles
    assert one.makespan_cycles - one.drain_cycles >= update
    rep1 = simulate(bundle, cfg, "training", batch=2)
    rep2 = simulate(bundle, cfg, "training", batch=2, placement="fixed", copies={"c2": 2})
    assert (rep2.runs["training"]["update_write_pulses"]
            == rep1.runs["training"]["update_write_pulses"] + one.pulses_per_layer["c2"])


def test_reload_with_a_policy_is_refused():
    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    with pytest.raises(ConfigError, match="reload"):
        simulate(_two_layer(cfg), cfg, placement="balance", overflow="reload")


def test_cli_simulate_placement_balance_prints_and_saves_the_copies(tmp_path, capsys):
    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    save_bundle(_two_layer(cfg), tmp_path / "b")
    out = tmp_path / "r"
    assert main(["simulate", str(tmp_path / "b"), "--placement", "balance", "--batch", "3",
                 "-o", str(out)]) == 0
    assert "placement balance: copies per layer c1 2, c2 2" in capsys.readouterr().out
    assert Report.load(out).figures["copies_per_layer"] == {"c1": 2, "c2": 2}
    with pytest.raises(SystemExit):
        main(["simulate", str(tmp_path / "b"), "--placement", "spread", "-o", str(out)])
    assert "invalid choice: 'spread'" in capsys.readouterr().err


def test_sweep_placement_key(tmp_path):
    from rram_sim.metrics import metric_values
    from rram_sim.sweep import parse_spec, points, run_point

    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    bundle = _two_layer(cfg)
    save_bundle(bundle, tmp_path / "b")
    spec = {"chip": cfg.to_dict(), "bundles": [str(tmp_path / "b")], "batch": {"inference": 3}}
    plain = parse_spec(spec)
    assert plain.placement == "none" and "placement" not in plain.identity()
    balanced = parse_spec({**spec, "placement": "balance"})
    assert balanced.identity()["placement"] == "balance"
    (task,) = points(balanced)
    row = run_point(task)
    assert row["status"] == "ok"
    direct = metric_values(simulate(bundle, cfg, "inference", batch=3, placement="balance"))
    assert {k: row[k] for k in direct} == json.loads(json.dumps(direct))
    (none_task,) = points(plain)
    assert run_point(none_task)["inference_throughput_per_s"] < row["inference_throughput_per_s"]
    with pytest.raises(ConfigError, match="placement"):
        parse_spec({**spec, "placement": "fixed"})


def test_cli_simulate_fixed_copies(tmp_path, capsys):
    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    save_bundle(_two_layer(cfg), tmp_path / "b")
    out = tmp_path / "r"
    assert main(["simulate", str(tmp_path / "b"), "--placement", "fixed", "--copies", "c2=2",
                 "--batch", "3", "-o", str(out)]) == 0
    assert "placement fixed: copies per layer c1 1, c2 2" in capsys.readouterr().out
    assert Report.load(out).figures["stage_cycles_per_image"] == {"c1": 8 * 1600,
                                                                  "c2": 4 * 3200}
    for argv, msg in ((["--copies", "c2=2"], "goes with --placement fixed"),
                      (["--placement", "fixed"], "needs --copies"),
                      (["--placement", "fixed", "--copies", "c2=0"], "LAYER=N with N"),
                      (["--placement", "fixed", "--copies", "c2=2,c2=3"], "given twice"),
                      (["--placement", "fixed", "--copies", "c9=2"], "unknown layer")):
        rc = main(["simulate", str(tmp_path / "b"), *argv, "-o", str(tmp_path / "x"),
                   "--force"])
        assert rc == 2
        assert msg in capsys.readouterr().err


def test_training_balance_replicates_the_backward_bottleneck_by_hand():
    """5 single-PE tiles; c1 and c2 have 16 output positions each. Forward, c1 holds its crossbar
    1600 cycles a vector, c2 3200. Backward, c2 reads the transposed error one weight slice
    position per read (4 slices on edge): 4 x 3200 = 12800 a step; c1, fed by the input, has no
    transposed read, only its small gradient.
    balance (forward): c2 51200 -> 2 copies (25600, tie with c1) -> c1 2 (12800) -> c2 3 (6
    vectors, 19200): 5 PEs, full. balance_training: c2 16 x (3200 + 12800) = 256000 -> 2, 3, 4
    copies (4 x 16000 = 64000), c1 (25600 + its gradient) keeps 1: 5 PEs, full."""
    cfg = config.preset("edge").replace(**{"chip.tiles": 5, "tile.pes": 1})
    specs = [LayerSpec("c1", "conv", (8, 8, 1, 1), (8, 4, 4)),
             LayerSpec("c2", "conv", (16, 8, 1, 1), (8, 4, 4))]
    rng = np.random.default_rng(3)
    bundle = map_network(specs, [rng.standard_normal(s.weight_shape) for s in specs], cfg)
    assert BalancePolicy().stage_terms(bundle, cfg) == [[(16, 1600, 2)], [(16, 3200, 2)]]
    (f1, b1), (f2, b2) = TrainingBalancePolicy().stage_terms(bundle, cfg)
    assert (f1, f2) == ((16, 1600, 2), (16, 3200, 2))
    assert b2[:2] == (16, cfg.slices_per_weight * 3200) == (16, 12800)
    assert 0 < b1[1] < 100
    assert BalancePolicy().copies(bundle, cfg) == {"c1": 2, "c2": 3}
    assert TrainingBalancePolicy().copies(bundle, cfg) == {"c1": 1, "c2": 4}
    batch = {"inference": 4, "training": 4}
    fwd = simulate(bundle, cfg, "both", batch=batch, placement="balance")
    trn = simulate(bundle, cfg, "both", batch=batch, placement="balance_training")
    # the stage model says 96000 / 64000 = 1.5x for the training step's bottleneck
    assert trn.runs["training"]["makespan_ns"] < 0.75 * fwd.runs["training"]["makespan_ns"]
    # and inference pays for it: c1's single copy is its bottleneck now
    assert trn.runs["inference"]["makespan_ns"] > fwd.runs["inference"]["makespan_ns"]


def test_noc_load_by_hand_and_balance_weighs_it():
    """edge, 4 single-PE tiles in a 2 x 2 mesh (hop latency 2, 32-bit flits, 8-bit inputs):
    c1's 8 vectors of 8 values (64 bits, 2 flits) go from its home to c2's tiles. c2 on tile 1,
    one hop: 2 + 2 = 4 cycles a vector, 32 per image; c2 on tiles 1 and 2 (two copies), both one
    hop away: still 32; c1 on tiles 0 and 1 pushes c2 to tiles 2 and 3, the second two hops
    away: 2 x 2 + 2 = 6 cycles, 48 per image."""
    from rram_sim.placement_policies import NocLoad

    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    bundle = _two_layer(cfg)
    load = NocLoad(bundle, cfg)
    assert load.link_cycles({"c1": 1, "c2": 1}) == {"c1": 0, "c2": 32}
    assert load.link_cycles({"c1": 1, "c2": 2}) == {"c1": 0, "c2": 32}
    assert load.link_cycles({"c1": 2, "c2": 2}) == {"c1": 0, "c2": 48}
    # far below the stages (12800 cycles per image): the same copies with and without it
    plain = BalancePolicy()
    plain.noc_aware = False
    assert plain.copies(bundle, cfg) == BalancePolicy().copies(bundle, cfg) == {"c1": 2, "c2": 2}
    assert TrainingBalancePolicy.noc_aware is False
