"""Weight-update writes: program-and-verify pulses per level change (NeuroSim's identical-pulse and
cycle-to-cycle variation model) and the write-driver schedule whose power never exceeds the PE's
driver budget (rram_sim/crossbar/update.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rram_sim import config, kernels
from rram_sim.crossbar.update import (
    CTOC_SIGMA_OF_RANGE,
    batch_slots,
    driver_budget_mw,
    pv_pulses,
    write_schedule,
)
from rram_sim.errors import MappingError
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer
from rram_sim.quant import qmax


def _chip(cell_bits: int, scheme: str, ppl: int = 1):
    wb = 8
    slices = -(-wb // cell_bits)
    return config.default().replace(**{
        "precision.weight_bits": wb, "cell.bits": cell_bits, "cell.pulses_per_level": ppl,
        "crossbar.signed_scheme": "offset", "crossbar.rows": 8, "crossbar.cols": 4 * slices,
        "ou.rows": 8, "ou.cols": 4 * slices, "pe.crossbars": 2, "adc.columns_per_adc": 1,
        "training.write_scheme": scheme})


def _layer(cfg, seed: int, k: int = 30, n: int = 9):
    rng = np.random.default_rng(seed)
    lay = map_layer(LayerSpec("l", "linear", (n, k), (k,)), rng.normal(size=(n, k)), cfg,
                    "dense")
    q = qmax(cfg.precision.weight_bits)
    return lay, rng.integers(-q, q + 1, size=(k, n))


def test_open_loop_pulses_are_the_level_changes():
    cfg = _chip(2, "single_pulse", ppl=3)
    assert pv_pulses(np.array([0, 1, -2, 3]), cfg).tolist() == [0, 3, 6, 9]


def test_program_and_verify_iterations_follow_the_variation_model():
    two = _chip(2, "write_verify")
    d = np.arange(-3, 4)
    # 2-bit cells: half a level is 16.7 % of the range against sigma 0.5 % x sqrt(n): no retries
    assert pv_pulses(d, two) == pytest.approx(np.abs(d).astype(float), abs=1e-12)
    four = _chip(4, "write_verify")
    p = pv_pulses(np.arange(16), four)
    h = 0.5 / 15
    miss15 = math.erfc(h / (CTOC_SIGMA_OF_RANGE * math.sqrt(15) * math.sqrt(2)))
    assert p[15] - 15 == pytest.approx(miss15, rel=1e-9) and 0.08 < miss15 < 0.09
    assert p[0] == 0 and np.all(np.diff(p) > 0) and np.all(np.diff(p - np.arange(16)) >= 0)
    # the expected total is what the update counts (rounded), verify reads one per pulse
    cfg = _chip(4, "write_verify")
    lay, delta = _layer(cfg, 3)
    res = kernels.update(lay, delta, cfg)
    change = res.layout.cells.astype(int) - lay.cells.astype(int)
    assert res.counts.cell_write_pulses == round(float(pv_pulses(change, cfg).sum()))
    assert res.counts.cell_verify_reads == res.counts.cell_write_pulses
    assert res.counts.cell_write_pulses > np.abs(change).sum()


@pytest.mark.parametrize("cell_bits", [1, 2, 4])
@pytest.mark.parametrize("scheme", ["single_pulse", "write_verify"])
def test_update_write_power_never_exceeds_the_driver_budget(cell_bits, scheme):
    cfg = _chip(cell_bits, scheme)
    for seed in range(3):
        lay, delta = _layer(cfg, seed)
        new = kernels.update(lay, delta, cfg).layout.cells
        for drivers in (1, 3, 5, cfg.crossbar.cols, 4 * cfg.crossbar.cols):
            s = write_schedule(lay, new, cfg, drivers)
            budget = driver_budget_mw(cfg, drivers)
            assert s.max_cells_at_once <= drivers
            assert np.all(s.pe_power_mw(cfg) <= budget * (1 + 1e-12))
            # the drivers are the limit: no schedule is shorter than pulses / drivers (expected
            # values: a batch's slots are fractional under write_verify)
            assert np.all(s.slots_per_pe >= s.pulses_per_pe / drivers - 1e-9)
            assert len(s.slots_per_pe) == -(-lay.n_units // cfg.pe.crossbars)
            assert s.energy_pj == pytest.approx(s.pulses * cfg.cell.write_energy_pj)
        # fewer drivers: never faster
        t = [write_schedule(lay, new, cfg, d).time_ns for d in (1, 2, 4, cfg.crossbar.cols)]
        assert t == sorted(t, reverse=True)


def test_one_row_of_drivers_takes_each_rows_slowest_cell():
    cfg = _chip(2, "single_pulse")
    lay, delta = _layer(cfg, 7)
    res = kernels.update(lay, delta, cfg)
    s = res.schedule
    assert s.drivers == cfg.crossbar.cols
    change = np.abs(res.layout.cells.astype(int) - lay.cells.astype(int))
    per_unit = change.reshape(lay.n_units, cfg.crossbar.rows, -1).max(axis=2).sum(axis=1)
    per_pe = np.add.reduceat(per_unit, np.arange(0, lay.n_units, cfg.pe.crossbars))
    assert s.slots_per_pe.tolist() == per_pe.tolist()
    assert s.time_ns == per_pe.max() * cfg.cell.write_latency_ns
    verify = _chip(2, "write_verify")
    sv = write_schedule(lay, res.layout.cells, verify)
    assert sv.slot_ns == verify.cell.write_latency_ns + verify.crossbar.read_latency_ns


def test_bad_drivers_and_shapes_are_refused():
    cfg = _chip(2, "single_pulse")
    lay, _ = _layer(cfg, 0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(MappingError, match="drivers"):
            write_schedule(lay, lay.cells, cfg, bad)
    with pytest.raises(MappingError, match="new_cells"):
        write_schedule(lay, lay.cells[:1], cfg)


def _engine_chip(scheme: str = "single_pulse", cell_bits: int = 2, ppl: int = 1, drivers: int = 0):
    """8 x 16 crossbars of 8-bit offset weights in 2-bit cells (4 physical columns a weight, 4
    weights a row), all six crossbars of the test layer on one PE, 50 ns pulses at 1.2 GHz."""
    return config.default().replace(**{
        "precision.weight_bits": 8, "cell.bits": cell_bits, "cell.pulses_per_level": ppl,
        "crossbar.signed_scheme": "offset", "crossbar.rows": 8, "crossbar.cols": 16,
        "ou.rows": 8, "ou.cols": 16, "pe.crossbars": 8, "adc.columns_per_adc": 1,
        "chip.clock_ghz": 1.2, "cell.write_latency_ns": 50.0, "pe.write_drivers": drivers,
        "training.write_scheme": scheme})


def _engine_layer(cfg, seed: int = 0):
    """A 20-input, 6-output linear layer: row blocks of 8, 8 and 4 rows by column blocks of 4
    and 2 weights (16 and 8 physical columns): six crossbars."""
    rng = np.random.default_rng(seed)
    return map_layer(LayerSpec("l", "linear", (6, 20), (20,)), rng.normal(size=(6, 20)), cfg,
                     "dense")


def test_engine_update_cycles_by_hand_with_fewer_drivers_than_columns():
    from rram_sim.engine import timing as T

    cfg = _engine_chip(drivers=3)
    g = T.geometry_from_layout(_engine_layer(cfg), cfg)
    assert sorted(zip(g.rows_per_crossbar, g.row_cells_per_crossbar)) == [
        (4, 8), (4, 16), (8, 8), (8, 8), (8, 16), (8, 16)]
    assert T.write_pulse_cycles(cfg) == 60                    # 50 ns at 1.2 GHz
    # 3 drivers: a 16-cell row takes ceil(16/3) = 6 batches, an 8-cell row 3; one PE writes
    # all (8 + 8 + 4) rows of both column blocks: 20 x (6 + 3) = 180 batches of 1 pulse each
    assert T.update_row_batches(g, cfg) == 180
    assert T.update_cycles(g, cfg) == 180 * 1 * 60
    # the default (0): a driver per column, a whole row per slot, as before: 40 rows
    assert T.update_cycles(g, _engine_chip()) == 40 * 60
    assert T.update_cycles(g, _engine_chip(drivers=16)) == 40 * 60
    assert T.update_cycles(g, _engine_chip(drivers=1)) == 20 * (16 + 8) * 60
    # reload programming: the same batches, the full range (3 levels of a 2-bit cell) each
    assert T.program_cycles(180, cfg) == 180 * 3 * 60
    # write_verify, 4-bit cells, 3 pulses a level: a one-level change expects 3 + q(3)/(1-q(1))
    # pulses (pv_pulses, the energy); a batch of 3 such cells lasts 3 slots plus the expected
    # largest corrective run among them, 1 - (1 - q(3))**3 (further terms carry q(1) ~ 3e-11)
    wv = _engine_chip("write_verify", cell_bits=4, ppl=3, drivers=3)
    gv = T.geometry_from_layout(_engine_layer(wv), wv)
    h = 0.5 / 15
    q = [math.erfc(h / (CTOC_SIGMA_OF_RANGE * math.sqrt(n) * math.sqrt(2))) for n in (1, 3)]
    expect = 3 + q[1] / (1 - q[0])
    assert 1e-5 < expect - 3 < 1e-3
    assert T.update_pulses_per_cell(gv, wv) == pytest.approx(expect, rel=1e-12)
    # 8-bit weights in 4-bit cells: 2 physical columns a weight, 8 weights a row; 6 outputs
    # fit one column block of 12 of the 16 columns: ceil(12 / 3) = 4 batches a row, 20 rows
    assert sorted(gv.row_cells_per_crossbar) == [12, 12, 12]
    slots = 3 + 1 - (1 - q[1]) ** 3
    assert T.update_slots_per_batch(gv, wv) == pytest.approx(slots, rel=1e-12)
    assert T.read_cycles(wv) == 120                           # 100 ns at 1.2 GHz
    # 80 batches x 3.000356 slots x 180 cycles = 43205.1, rounded up
    assert T.update_cycles(gv, wv) == math.ceil(20 * 4 * slots * (60 + 120)) == 43206


@pytest.mark.parametrize("drivers", [1, 3, 5, 8, 16])
def test_engine_update_timing_matches_the_driver_schedule(drivers):
    """A change of one level in every written cell, scheduled cell by cell on the drivers
    (write_schedule), takes the engine's update time and pulses."""
    from rram_sim.engine import timing as T

    cfg = _engine_chip(drivers=drivers)
    lay = _engine_layer(cfg, 4)
    used = (lay.row_index[:, :, None, None] >= 0) & (lay.col_index[:, None, :, None] >= 0)
    top = 2 ** cfg.cell.bits - 1
    step = np.where(lay.cells < top, 1, -1)
    new = np.where(used, lay.cells.astype(np.int64) + step, lay.cells).astype(lay.cells.dtype)
    s = write_schedule(lay, new, cfg)
    assert s.drivers == drivers
    g = T.geometry_from_layout(lay, cfg)
    assert int(s.slots_per_pe.max()) * T.write_pulse_cycles(cfg) == T.update_cycles(g, cfg)
    assert s.pulses == pytest.approx(T.update_pulses_per_cell(g, cfg) * g.written_cells)


@pytest.mark.parametrize("drivers", [0, 1, 7, 40])
@pytest.mark.parametrize("scheme", ["single_pulse", "write_verify"])
def test_simulated_update_power_per_pe_within_the_driver_budget(drivers, scheme):
    """The engine's update: each layer's write energy over its write time, per PE writing it,
    never exceeds drivers x write_energy_pj / write_latency_ns; and each PE's own pulses over
    its own batches do not either."""
    from rram_sim.engine import timing as T
    from rram_sim.simulate import simulate

    cfg = config.preset("pipelayer").replace(**{"pe.write_drivers": drivers,
                                                "training.write_scheme": scheme,
                                                "crossbar.rows": 32, "crossbar.cols": 32,
                                                "ou.rows": 32, "ou.cols": 32, "adc.bits": 9,
                                                "adc.columns_per_adc": 32})
    specs = [LayerSpec("a", "linear", (12, 70), (70,)), LayerSpec("b", "linear", (5, 12), (12,))]
    rng = np.random.default_rng(2)
    from rram_sim.bundle import map_network
    b = map_network(specs, [rng.normal(size=s.weight_shape) for s in specs], cfg, "dense")
    rep = simulate(b, cfg, "training", batch=2)
    budget_mw = driver_budget_mw(cfg, drivers or cfg.crossbar.cols)
    seen = 0
    for lay in b.layers:
        rec = [x for x in rep.records if x["pass"] == "update" and x["layer"] == lay.spec.name
               and x["component"] == "cell_write"]
        assert len(rec) == 1
        n_pe = -(-lay.n_crossbars // cfg.pe.crossbars)
        assert rec[0]["energy_pj"] / (rec[0]["busy_time_ns"] * n_pe) <= budget_mw * (1 + 1e-12)
        g = T.geometry_from_layout(lay, cfg)
        per_cell = T.update_pulses_per_cell(g, cfg)
        pe = np.arange(g.n_crossbars) // cfg.pe.crossbars
        cells = np.bincount(pe, weights=g.cells_per_crossbar)
        batches = np.bincount(pe, weights=T.write_batches_per_crossbar(g, cfg))
        own_ns = batches * T.update_slots_per_batch(g, cfg) * T.write_pulse_cycles(cfg) / 1.2
        assert np.all(cells * per_cell * cfg.cell.write_energy_pj / own_ns
                      <= budget_mw * (1 + 1e-12))
        seen += 1
    assert seen == 2


def test_write_power_budget_schedules_pes_longest_first_by_hand():
    from rram_sim.engine.counting import write_windows
    from rram_sim.engine.timing import max_writing_pes
    from rram_sim.errors import ConfigError

    # one PE's 16 drivers at 10 pJ per 50 ns pulse: 3.2 mW
    cfg = _engine_chip().replace(**{"cell.write_energy_pj": 10.0})
    assert driver_budget_mw(cfg, 16) == pytest.approx(3.2)
    jobs = [("a", np.array([600, 300, 300]), 1, 600), ("b", np.array([400]), 2, 400)]
    assert max_writing_pes(cfg) == 0                                  # no cap
    assert write_windows(jobs, cfg) == {"a": (0, 600), "b": (0, 400)}
    two = cfg.replace(**{"training.write_power_budget_w": 0.0064})  # 2 PEs at once
    assert max_writing_pes(two) == 2
    # longest first on 2 slots: a600 [0, 600] | b400 [0, 400], b400 [400, 800] |
    # a300 [600, 900] on the first slot free, a300 [800, 1100]
    assert write_windows(jobs, two) == {"a": (0, 1100), "b": (0, 800)}
    one = cfg.replace(**{"training.write_power_budget_w": 0.0063})  # 1 PE at a time
    assert max_writing_pes(one) == 1
    assert write_windows(jobs, one) == {"a": (0, 2000), "b": (600, 1400)}
    # five PEs allowed, five writing: no change
    five = cfg.replace(**{"training.write_power_budget_w": 0.016})
    assert write_windows(jobs, five) == {"a": (0, 600), "b": (0, 400)}
    with pytest.raises(ConfigError, match="training.write_power_budget_w"):
        max_writing_pes(cfg.replace(**{"training.write_power_budget_w": 0.003}))
    with pytest.raises(ConfigError, match="write_power_budget_w"):
        config.default().replace(**{"training.write_power_budget_w": -1.0})


def test_simulated_update_under_a_chip_write_power_budget():
    """One PE at a time: the update takes every PE's writes end to end, and the chip's update
    write power (all layers' write energy over the update's span) stays within the budget."""
    from rram_sim.bundle import map_network
    from rram_sim.engine import timing as T
    from rram_sim.simulate import simulate

    base = config.preset("pipelayer").replace(**{
        "crossbar.rows": 32, "crossbar.cols": 32, "ou.rows": 32, "ou.cols": 32, "adc.bits": 9,
        "adc.columns_per_adc": 32, "pe.crossbars": 2})
    specs = [LayerSpec("a", "linear", (12, 70), (70,)), LayerSpec("b", "linear", (5, 12), (12,))]
    rng = np.random.default_rng(5)
    b = map_network(specs, [rng.normal(size=s.weight_shape) for s in specs], base, "dense")
    pe_w = driver_budget_mw(base, 32) * 1e-3                  # 32 drivers x 10 pJ / 50 ns
    spans, powers = {}, {}
    for label, budget in (("free", 0.0), ("one", 1.5 * pe_w), ("three", 3 * pe_w)):
        cfg = base.replace(**{"training.write_power_budget_w": budget})
        rep = simulate(b, cfg, "training", batch=1)
        upd = rep.runs["training"]["phases"]["update"]
        spans[label] = upd["end_ns"] - upd["start_ns"]
        e = sum(x["energy_pj"] for x in rep.records if x["pass"] == "update"
                and x["component"] == "cell_write")
        powers[label] = e / spans[label] * 1e-3                # W
        if budget:
            assert powers[label] <= budget * (1 + 1e-12)
    geoms = [T.geometry_from_layout(lay, base) for lay in b.layers]
    per_pe = [T.write_pe_cycles(g, base, 1) for g in geoms]
    assert sorted(len(c) for c in per_pe) == [1, 5]           # 9 + 1 crossbars, 2 a PE
    # no cap: the slowest layer's busiest PE; one PE at a time: all six PEs end to end
    assert spans["free"] == pytest.approx(max(int(c.max()) for c in per_pe) / 1.2)
    assert spans["one"] == pytest.approx(sum(int(c.sum()) for c in per_pe) / 1.2)
    assert spans["free"] <= spans["three"] <= spans["one"]
    assert powers["one"] < powers["free"]


def test_reload_programming_under_a_chip_write_power_budget_by_hand():
    """Two reload segments on a 4-PE edge chip (one crossbar a PE): 'a' (4 PEs) alone, then 'b'
    (2 PEs) with 'c' (1 PE). Programming a PE: its used rows x 3 pulses (2-bit cells, full
    range) x 60 cycles (50 ns at 1.2 GHz)."""
    from rram_sim.bundle import map_network
    from rram_sim.simulate import simulate

    cfg = config.preset("edge").replace(**{"chip.tiles": 1, "tile.pes": 4, "pe.crossbars": 1})
    specs = [LayerSpec("a", "linear", (32, 120), (120,)), LayerSpec("b", "linear", (32, 32), (32,)),
             LayerSpec("c", "linear", (8, 32), (32,))]
    rng = np.random.default_rng(1)
    b = map_network(specs, [rng.choice([-1.0, 1.0], size=s.weight_shape) for s in specs], cfg,
                    "dense", allow_multi_chip=True)
    assert [lay.n_crossbars for lay in b.layers] == [4, 2, 1]
    # a's PEs: 64, 56, 64, 56 rows -> 9600, 8400, 9600, 8400 ns; b's 32, 32 rows and c's 32
    # rows -> 4800 ns each
    pe_w = driver_budget_mw(cfg, cfg.crossbar.cols) * 1e-3          # 12.8 mW
    expect = {0.0: 9600 + 4800,                  # all PEs at once
              2 * pe_w: 18000 + 9600,            # 9600 | 9600, then 8400 | 8400; b | b, then c
              pe_w: 36000 + 14400}               # one PE at a time
    for budget, reload_ns in expect.items():
        rep = simulate(b, cfg.replace(**{"training.write_power_budget_w": budget}), "inference",
                       overflow="reload", batch=1)
        run = rep.runs["inference"]
        assert run["segments"] == 2 and run["reload_ns"] == pytest.approx(reload_ns)


def test_batch_slots_are_the_expected_slowest_cell_of_the_batch():
    """A batch waits for its slowest cell: one cell gives pv_pulses; many cells of 8-bit cells
    (q(1) = 0.69) wait far longer than the mean, as a Monte Carlo draw of the same model shows."""
    two = _chip(2, "write_verify", ppl=3)
    assert batch_slots(np.array([0, 3, 6]), np.array([0, 5, 7]), _chip(2, "single_pulse")
                       ).tolist() == [0.0, 3.0, 6.0]
    assert batch_slots(np.array([3]), np.array([1]), two) == pytest.approx(pv_pulses(1, two))
    eight = config.default().replace(**{"cell.bits": 8, "precision.weight_bits": 8,
                                        "training.write_scheme": "write_verify"})
    q1 = math.erfc((0.5 / 255) / (CTOC_SIGMA_OF_RANGE * math.sqrt(2)))
    assert 0.69 < q1 < 0.70
    one = batch_slots(np.array([1]), np.array([1]), eight)[0]
    assert one == pytest.approx(float(pv_pulses(1, eight)), rel=1e-9) and 3.2 < one < 3.3
    many = batch_slots(np.array([1]), np.array([64]), eight)[0]
    # Monte Carlo: each cell misses after its pulse with q(1), then each correction with q(1)
    rng = np.random.default_rng(0)
    miss = rng.random((20000, 64)) < q1
    extra = np.where(miss, rng.geometric(1 - q1, size=miss.shape), 0)
    assert many == pytest.approx(1 + extra.max(axis=1).mean(), rel=0.01)
    assert many > 3 * one
