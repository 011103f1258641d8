"""Closed-form vector timing from the config: the phases of one vector, their latency and
initiation interval, by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rram_sim import config
from rram_sim.engine import timing as T
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer


def test_isaac_read_and_conversion_are_balanced():
    cfg = config.preset("isaac")
    assert T.read_cycles(cfg) == 120 and T.adc_cycles(cfg) == 120   # 100 ns at 1.2 GHz
    assert T.read_sequence_cycles(16, cfg) == 16 * 120 + 120


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 64), st.integers(1, 400), st.integers(1, 400))
def test_read_sequence_overlaps_conversion(n, read_ns, adc_cols):
    cfg = config.preset("edge").replace(**{"crossbar.read_latency_ns": float(read_ns)})
    tr, ta = T.read_cycles(cfg), T.adc_cycles(cfg)
    assert T.read_sequence_cycles(n, cfg) == n * max(tr, ta) + min(tr, ta)
    assert T.read_sequence_cycles(0, cfg) == 0


def _isaac_conv(cfg):
    spec = LayerSpec("c", "conv", (16, 32, 3, 3), (32, 8, 8))   # K = 288 rows: 3 row blocks
    return T.geometry_from_layout(map_layer(spec, np.ones(spec.weight_shape), cfg), cfg)


def test_forward_phases_of_a_dense_isaac_layer():
    cfg = config.preset("isaac")
    g = _isaac_conv(cfg)
    assert (g.n_crossbars, g.reads_per_chunk, g.row_blocks, g.gather_rows) == (3, 1, 3, 0)
    ph = T.forward_phases(g, cfg)
    # 288 inputs x 16 bits over 256 bits: 18 cycles from the eDRAM and 18 over the bus; 16
    # chunks of one 120-cycle read per crossbar, converted behind them by each crossbar's ADC;
    # 3 crossbars x 128 columns x 16 chunks of shift-adds on 4 units x 16 lanes: 96 cycles;
    # 3 row blocks x 16 partial sums over the bus: 3 cycles; 2 x 16 adds on the tile's adder
    # (16 lanes): 2 cycles; 16 outputs written back: 1 cycle
    assert [(p.unit, p.cycles, p.lead, p.tail) for p in ph] == [
        ("edram", 18, -1, 0), ("bus", 18, -1, 0), ("xbar", 1920, -1, 0),
        ("adc", 1920, 120, 120), ("shift_add", 96, 120, 1), ("bus", 3, -1, 0),
        ("tile_add", 2, -1, 0), ("edram", 1, -1, 0)]
    assert ph[2].work == 3 * 1920                   # all three crossbars read
    # alone: 36 in, reads from 36 to 1956, conversions from 156 to 2076, the last shift-add at
    # 2077, then 3 + 2 + 1: the closed form of the read sequence sits inside
    assert T.phases_latency(ph) == 36 + (16 * 120 + 120) + 1 + 3 + 2 + 1 == 2083
    assert T.phases_latency(ph[2:4]) == T.read_sequence_cycles(16, cfg)
    assert T.phases_interval(ph) == 1920             # the crossbars and the ADCs


def test_a_pe_shared_adc_bank_converts_its_crossbars_in_turn():
    cfg = config.preset("isaac").replace(**{"adc.sharing": "pe"})
    ph = {p.unit: p for p in T.forward_phases(_isaac_conv(cfg), cfg)}
    # the layer's 3 crossbars sit on one PE: 3 x 16 reads of 120 cycles on one bank
    assert ph["adc"].cycles == 3 * 16 * 120 and ph["xbar"].cycles == 16 * 120
    assert T.phases_interval(list(ph.values())) == 3 * 16 * 120     # ADC-bound
    one_per_pe = cfg.replace(**{"pe.crossbars": 1})
    assert {p.unit: p for p in T.forward_phases(_isaac_conv(one_per_pe), one_per_pe)}[
        "adc"].cycles == 16 * 120


def test_ou_and_compact_geometry():
    cfg = config.preset("edge")
    spec = LayerSpec("l", "linear", (32, 128), (128,))
    w = np.random.default_rng(0).standard_normal(spec.weight_shape)
    mask = np.zeros(spec.weight_shape, bool)
    mask[:8, :40] = True
    for scheme in ("compact", "ou"):
        g = T.geometry_from_layout(map_layer(spec, w, cfg, scheme, mask=mask), cfg)
        assert g.written_cells == 8 * 40 * cfg.slices_per_weight
        assert g.inputs_used == 40 and g.gather_rows >= 40
        index = [p for p in T.forward_phases(g, cfg) if p.unit == "index"]
        assert index[0].cycles == -(-g.gather_rows // cfg.pe.index_lookups_per_cycle)
        slow = cfg.replace(**{"pe.index_lookups_per_cycle": 1})
        # one lookup a cycle: every row the busiest crossbar's index unit gathers
        assert T.gather_cycles(g, slow) == g.gather_rows


def test_update_cycles_rows_pulses_and_verify():
    cfg = config.preset("edge")
    spec = LayerSpec("l", "linear", (8, 20), (20,))
    g = T.geometry_from_layout(map_layer(spec, np.ones(spec.weight_shape), cfg), cfg)
    assert g.rows_written == 20
    assert T.update_cycles(g, cfg) == 20 * 1 * 50
    assert T.update_cycles(g, cfg, measured_pulses=2 * g.written_cells) == 20 * 2 * 50
    wv = cfg.replace(**{"training.write_scheme": "write_verify"})
    assert T.update_cycles(g, wv) == 20 * (50 + 100)
    assert T.update_pulses_per_cell(g, cfg, 0) == 0 and T.update_cycles(g, cfg, 0) == 0
    # one set of write drivers per PE: a 90-row layer on 2 crossbars of one PE writes 90 rows
    spec = LayerSpec("c", "conv", (8, 10, 3, 3), (10, 5, 5))
    g2 = T.geometry_from_layout(map_layer(spec, np.ones(spec.weight_shape), cfg), cfg)
    assert cfg.pe.crossbars >= 2 and sorted(g2.rows_per_crossbar) == [26, 64]
    assert T.update_cycles(g2, cfg) == 90 * 50


def test_gradient_units_and_unit_conversion():
    cfg = config.preset("pipelayer")
    assert T.ns_to_cycles(100.0, cfg) == 120 and T.cycles_to_ns(120, cfg) == pytest.approx(100.0)
    assert T.offchip_cycles(64 * 8, cfg) == 12      # 64 B at 6.4 GB/s and 1.2 GHz
    spec = LayerSpec("l", "linear", (16, 16), (16,))
    g = T.geometry_from_layout(map_layer(spec, np.ones(spec.weight_shape), cfg), cfg)
    # one MAC per stored weight on the tile adders of the layer's 2 tiles, 16 lanes each
    units = cfg.tile.shift_add_units * 2
    assert T.gradient_phase(g, 2, cfg) == T.Phase("grad", -(-16 * 16 // (units * 16)), 0, 0,
                                                  -(-16 * 16 // (units * 16)))
    xb = cfg.replace(**{"training.gradient_unit": "crossbar"})
    assert T.gradient_phase(g, 1, xb).unit == "xbar"
    assert T.gradient_phase(g, 1, xb).cycles == T.read_sequence_cycles(16, xb)


def test_program_cycles_rows_pulses_and_verify():
    cfg = config.preset("edge")                       # 2-bit cells, 1 pulse per level, 50 ns
    assert T.program_pulses_per_cell(cfg) == 3
    assert T.program_cycles(0, cfg) == 0
    assert T.program_cycles(64, cfg) == 64 * 3 * 50
    wv = cfg.replace(**{"training.write_scheme": "write_verify", "cell.pulses_per_level": 2})
    assert T.program_cycles(10, wv) == 10 * 6 * (50 + T.read_cycles(wv))


def test_geometry_rows_per_crossbar():
    cfg = config.preset("edge")
    rng = np.random.default_rng(0)
    spec = LayerSpec("c", "conv", (8, 10, 3, 3), (10, 5, 5))     # 90 rows: 64 + 26
    geom = T.geometry_from_layout(map_layer(spec, rng.standard_normal(spec.weight_shape), cfg),
                                  cfg)
    assert sorted(geom.rows_per_crossbar) == [26, 64]
    assert max(geom.rows_per_crossbar) == geom.rows_written
