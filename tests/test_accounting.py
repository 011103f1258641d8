"""Accounting: the buffer traffic, gradient MACs and weight fetches a run is charged for, checked by
hand on small networks; dynamic and static energy kept apart."""

from __future__ import annotations

import numpy as np
import pytest

from rram_sim import config, costs
from rram_sim.bundle import GraphNode, map_network
from rram_sim.layout import LayerSpec
from rram_sim.simulate import simulate


def _one_conv(cfg, density=1.0):
    spec = LayerSpec("c", "conv", (4, 2, 3, 3), (2, 6, 6), padding=(1, 1))
    rng = np.random.default_rng(0)
    w = rng.choice([-1.0, 1.0], size=spec.weight_shape) * rng.uniform(0.5, 1.0, spec.weight_shape)
    mask = rng.random(spec.weight_shape) < density
    graph = [GraphNode("input", "input", [], {"shape": [2, 6, 6]}),
             GraphNode("c", "conv", ["input"]), GraphNode("r", "relu", ["c"]),
             GraphNode("p", "maxpool", ["r"], {"kernel": 2})]
    return map_network([spec], [w], cfg, "compact", masks=[mask], graph=graph)


def _layer_counts(rep, run, name, pass_name):
    rows = [x for x in rep.layers if x["run"] == run and x["layer"] == name
            and x["pass"] == pass_name]
    assert len(rows) == 1
    return rows[0]["counts"]


def test_buffer_traffic_by_hand():
    """edge chip, 8-bit values (1 byte): conv 2->4, 3x3, 6x6 'same': 36 positions x 18 inputs read,
    36 x 4 outputs written; relu reads and writes 144 values; 2x2 max-pool reads 4 per output
    (36 outputs) and writes 36; the input stage writes the 72-value image."""
    cfg = config.preset("edge")
    rep = simulate(_one_conv(cfg), cfg, "inference")
    c = _layer_counts(rep, "inference", "c", "inference")
    assert (c["buffer_read_bytes"], c["buffer_write_bytes"]) == (36 * 18, 36 * 4)
    r = _layer_counts(rep, "inference", "r", "inference")
    assert (r["buffer_read_bytes"], r["buffer_write_bytes"]) == (144, 144)
    p = _layer_counts(rep, "inference", "p", "inference")
    assert (p["buffer_read_bytes"], p["buffer_write_bytes"]) == (4 * 36, 36)
    i = _layer_counts(rep, "inference", "input", "inference")
    assert (i["buffer_read_bytes"], i["buffer_write_bytes"]) == (0, 72)
    # charged per bus-wide access (edram_bus_bits / 8 bytes): eDRAM and bus energy are not zero
    lib = costs.component_library(cfg)
    access = cfg.tile.edram_bus_bits / 8
    e = {x["component"]: x["energy_pj"] for x in rep.records
         if x["layer"] == "c" and x["kind"] == "dynamic"}
    for comp, n_bytes in (("edram", 36 * 18), ("bus", 36 * 18), ("edram_write", 36 * 4),
                          ("bus_write", 36 * 4)):
        assert lib[comp].events_per_unit == access
        assert e[comp] > 0
        assert e[comp] == pytest.approx(n_bytes / access * lib[comp].energy_pj)


def test_gradient_macs_over_stored_weights_only():
    """A training step of batch 2: one MAC per stored weight and output position; pruning half the
    weights (compact mapping drops empty rows and columns, zeros inside used rows stay stored)
    lowers them accordingly, never below the nonzero weights."""
    cfg = config.preset("edge")
    dense = simulate(_one_conv(cfg), cfg, "training", batch=2)
    c = _layer_counts(dense, "training", "c", "backward")
    assert c["gradient_macs"] == 4 * 18 * 36 * 2
    pruned_b = _one_conv(cfg, density=0.3)
    pruned = simulate(pruned_b, cfg, "training", batch=2)
    cp = _layer_counts(pruned, "training", "c", "backward")
    lay = pruned_b.layers[0]
    stored = int(((lay.row_index >= 0)[:, :, None] & (lay.col_index >= 0)[:, None, :]).sum())
    assert cp["gradient_macs"] == stored * 36 * 2 < c["gradient_macs"]
    mac = costs.component_library(cfg)["gradient_mac"].energy_pj
    assert mac == pytest.approx(costs.gradient_mac_pj(8)) and mac == pytest.approx(0.2 + 0.03
                                                                                  + 8 * 0.07 / 24)


def test_dynamic_and_static_side_by_side():
    cfg = config.preset("edge")
    rep = simulate(_one_conv(cfg), cfg, "both")
    for run, s in rep.runs.items():
        items = s["n_images"] if run == "inference" else 1
        assert s["dynamic_energy_pj"] + s["leakage_energy_pj"] == pytest.approx(s["energy_pj"])
        assert s["dynamic_energy_per_item_uj"] == pytest.approx(
            s["dynamic_energy_pj"] / items * 1e-6)
        static = sum(x["energy_pj"] for x in rep.records if x["run"] == run
                     and x["kind"] == "static")
        assert static == pytest.approx(s["leakage_energy_pj"])
        assert sum(rep.static_energy_by_category_pj[run].values()) == pytest.approx(static)
        assert all(x["kind"] in ("dynamic", "static") for x in rep.records)


def test_reload_fetches_the_weights_over_the_offchip_link():
    """A network run in reload segments programs each segment's weights fetched from off-chip."""
    cfg = config.preset("edge").replace(**{"chip.tiles": 1, "tile.pes": 1, "pe.crossbars": 1})
    specs = [LayerSpec("a", "linear", (16, 64), (64,)), LayerSpec("b", "linear", (16, 16), (16,))]
    rng = np.random.default_rng(1)
    ws = [rng.choice([-1.0, 1.0], size=s.weight_shape) for s in specs]
    b = map_network(specs, ws, cfg, "dense", allow_multi_chip=True)
    rep = simulate(b, cfg, "inference", overflow="reload")
    assert rep.runs["inference"]["reloads"] >= 2
    fetched = sum(x["counts"]["offchip_bytes"] for x in rep.layers if x["pass"] == "reload")
    per_program = {"a": 16 * 64, "b": 16 * 16}     # 8-bit weights: one byte each
    programs = {}
    for x in rep.layers:
        if x["pass"] == "reload":
            programs[x["layer"]] = programs.get(x["layer"], 0) + 1
    assert fetched == sum(per_program[k] * n for k, n in programs.items())


@pytest.mark.parametrize("drivers", [0, 5])
@pytest.mark.parametrize("scheme", ["dense", "compact", "ou"])
def test_update_write_power_stays_within_the_write_driver_budget(scheme, drivers):
    """Each PE has ``pe.write_drivers`` write drivers (0: one row of ``crossbar.cols`` cells at a
    time), so a training step's update can never draw more than PEs in use x drivers x
    (energy per pulse / pulse time); the simulated update's energy over its duration must stay
    within that budget (before, every column of every crossbar was written at once)."""
    from rram_sim.bundle import load_bundle
    from rram_sim.crossbar.update import drivers_per_pe
    from rram_sim.examples import example_path

    b = load_bundle(example_path(scheme))
    cfg = b.config.replace(**{"pe.write_drivers": drivers})
    rep = simulate(b, cfg, "training")
    run = rep.runs["training"]
    upd = run["phases"]["update"]
    duration_ns = upd["end_ns"] - upd["start_ns"]
    write_pj = sum(x["energy_pj"] for x in rep.records if x["run"] == "training"
                   and x["component"] in ("cell_write", "cell_verify"))
    assert write_pj > 0 and duration_ns > 0
    locs = [np.asarray(loc).reshape(-1, 4) for loc in b.placement.location]
    pes = {tuple(int(v) for v in row[:3]) for loc in locs for row in loc}
    budget_mw = (len(pes) * drivers_per_pe(cfg) * cfg.cell.write_energy_pj
                 / cfg.cell.write_latency_ns)
    assert write_pj / duration_ns <= budget_mw * (1 + 1e-9)      # pJ/ns = mW


def test_static_energy_per_component_of_the_tiles_in_use():
    """Leakage x time per component, from the cost library's per-component static power (CACTI 7 /
    Aladdin for 'isaac'), over the tiles a run occupies, chip by chip; index units only where the
    scheme reads through index tables."""
    from rram_sim import accounting

    cfg = config.preset("isaac")
    lib = costs.component_library(cfg)
    tiles = [0, 1, 2, 168 + 5]                  # three tiles of chip 0, one of chip 1
    e = accounting.static_energy_pj(cfg, 1000.0, tiles, indexed=False)
    assert e["edram"] == pytest.approx(4 * lib["edram"].leakage_mw * 1000)
    assert e["input_register"] == pytest.approx(4 * 12 * lib["input_register"].leakage_mw * 1000)
    assert e["router"] == pytest.approx(2 * lib["router"].leakage_mw * 1000)   # one per chip
    assert e["adc"] == e["offchip_link"] == e["index_unit"] == 0.0
    ix = accounting.static_energy_pj(cfg, 1000.0, tiles, indexed=True)
    assert ix["index_unit"] == pytest.approx(4 * 12 * 8 * lib["index_unit"].leakage_mw * 1000)
    assert sum(ix.values()) - sum(e.values()) == pytest.approx(ix["index_unit"])
