"""``rram-sim layout``: copies and forward stage cycles per layer, the bottleneck stage and the
stage balance, under the bundle's own copies and under ``--placement`` / ``--mapping``."""

from __future__ import annotations

import json

import numpy as np

from rram_sim import config
from rram_sim.bundle import map_network, save_bundle
from rram_sim.cli import main
from rram_sim.layout import LayerSpec

ONE_PE_TILES = {"chip.tiles": 4, "tile.pes": 1}
C1 = LayerSpec("c1", "conv", (8, 8, 1, 1), (8, 2, 4))     # 8 vectors, 1600 cycles each on edge
C2 = LayerSpec("c2", "conv", (16, 8, 1, 1), (8, 2, 4))    # 8 vectors, 3200 cycles each


def _saved(tmp_path):
    cfg = config.preset("edge").replace(**ONE_PE_TILES)
    rng = np.random.default_rng(3)
    bundle = map_network([C1, C2], [rng.standard_normal(s.weight_shape) for s in (C1, C2)], cfg)
    save_bundle(bundle, tmp_path / "b")
    return tmp_path / "b"


def test_layout_shows_copies_and_stage_cycles_by_hand(tmp_path, capsys):
    path = _saved(tmp_path)
    assert main(["layout", str(path), "--json"]) == 0
    fig = json.loads(capsys.readouterr().out)
    rows = {f["name"]: f for f in fig["layers"]}
    assert [rows[n]["replication"] for n in ("c1", "c2")] == [1, 1]
    assert rows["c1"]["hold_cycles"] == 1600 and rows["c2"]["hold_cycles"] == 3200
    assert rows["c1"]["stage_cycles_per_image"] == 8 * 1600
    assert rows["c2"]["stage_cycles_per_image"] == 8 * 3200
    t = fig["total"]
    assert t["bottleneck"] == "c2" and t["initiation_interval_cycles"] == 25600
    assert t["stage_balance"] == 0.75 and t["placement_policy"] == "none"
    # balance on four single-PE tiles: two copies each (tests/test_placement_policies.py)
    assert main(["layout", str(path), "--json", "--placement", "balance"]) == 0
    fig = json.loads(capsys.readouterr().out)
    rows = {f["name"]: f for f in fig["layers"]}
    assert [rows[n]["replication"] for n in ("c1", "c2")] == [2, 2]
    assert [rows[n]["stage_cycles_per_image"] for n in ("c1", "c2")] == [4 * 1600, 4 * 3200]
    assert fig["total"]["crossbars_placed"] == 4 and fig["total"]["tiles_occupied"] == 4
    assert fig["total"]["initiation_interval_cycles"] == 12800
    # the table prints the same
    assert main(["layout", str(path), "--placement", "balance"]) == 0
    out = capsys.readouterr().out
    assert "copies" in out and "stage_cyc/img" in out
    assert ("placement balance, mapping pack: bottleneck stage c2, 12800 cycles per image"
            in out)


def test_layout_mapping_spread_on_a_pruned_example(capsys):
    assert main(["layout", "--example", "compact", "--json"]) == 0
    pack = json.loads(capsys.readouterr().out)
    assert main(["layout", "--example", "compact", "--json", "--mapping", "spread"]) == 0
    spread = json.loads(capsys.readouterr().out)
    assert spread["total"]["mapping_policy"] == "spread"
    assert spread["total"]["weights_stored"] == pack["total"]["weights_stored"]
    assert pack["total"]["n_crossbars"] <= spread["total"]["n_crossbars"] \
        <= spread["total"]["dense_crossbars"]
    for p, s in zip(pack["layers"], spread["layers"]):
        assert s["hold_cycles"] <= p["hold_cycles"]
