"""Closed-form step timing from the config."""

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


def test_forward_step_of_a_dense_isaac_layer():
    cfg = config.preset("isaac")
    spec = LayerSpec("c", "conv", (16, 32, 3, 3), (32, 8, 8))   # K = 288 rows: 3 row blocks
    lay = map_layer(spec, np.ones(spec.weight_shape), cfg)
    g = T.geometry_from_layout(lay, cfg)
    assert (g.n_crossbars, g.reads_per_chunk, g.row_blocks, g.gather_rows) == (3, 1, 3, 0)
    s = T.forward_step(g, cfg)
    assert s.load == 288 * 16 // 256 and s.gather == 0
    assert s.crossbar == 16 * 120 + 120
    assert s.bus == 3 * 16 * 16 // 256
    assert s.reduce == -(-(2 * 16) // (1 * 16))


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
        assert T.forward_step(g, cfg).gather == -(-g.gather_rows // T.lanes(cfg))


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


def test_gradient_units_and_unit_conversion():
    cfg = config.preset("pipelayer")
    assert T.ns_to_cycles(100.0, cfg) == 120 and T.cycles_to_ns(120, cfg) == pytest.approx(100.0)
    assert T.offchip_cycles(64 * 8, cfg) == 12      # 64 B at 6.4 GB/s and 1.2 GHz
    spec = LayerSpec("l", "linear", (16, 16), (16,))
    g = T.geometry_from_layout(map_layer(spec, np.ones(spec.weight_shape), cfg), cfg)
    assert T.gradient_cycles(g, 4, 1, cfg) == -(-16 * 16 * 4 // 16)
    xb = cfg.replace(**{"training.gradient_unit": "crossbar"})
    assert T.gradient_cycles(g, 4, 1, xb) == 4 * T.read_sequence_cycles(16, xb)


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
