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
            # the drivers are the limit: no schedule is shorter than pulses / drivers
            assert np.all(s.slots_per_pe >= np.ceil(s.pulses_per_pe / drivers - 1e-9))
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
