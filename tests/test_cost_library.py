"""Tests of the user-settable cost libraries: selection, overrides, leakage, gating, ADC rule."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from rram_sim import config, costs
from rram_sim.config import load_yaml_text, preset
from rram_sim.costs.libraries import mnsim
from rram_sim.counts import Counts
from rram_sim.errors import ConfigError

ISAAC = preset("isaac")
# ISAAC's structure priced with MNSIM 2.0's constants at MNSIM's default ADC (6 bits)
MN = ISAAC.replace(**{"costs.library": "mnsim", "adc.bits": 6, "adc.range_policy": "full_scale"})


def test_library_is_selected_by_name_and_changes_every_figure_kind():
    a, b = costs.component_library(ISAAC), costs.component_library(MN)
    assert set(a) == set(b) == set(costs.COMPONENT_NAMES)
    assert a["adc"].energy_pj == pytest.approx(1.5625)
    assert b["adc"].energy_pj == pytest.approx(10.08)       # 1.26 mW x (6 + 2) / 1 GS/s
    assert b["adc"].area_um2 == 1650.0 and b["adc"].latency_ns == pytest.approx(8.0)
    assert b["dac"].energy_pj == pytest.approx(0.0039e-3 * 3 * 1e3)   # 3.9 uW x 3 ns
    assert costs.rollup(MN).chip_area_mm2 != costs.rollup(ISAAC).chip_area_mm2
    assert all(c.leakage_mw == 0.0 for c in b.values())    # MNSIM models no static power
    for c in b.values():
        assert c.source and c.category in costs.CATEGORIES
        # the same event, or the other measure of the same work (costs.ALTERNATIVE_COUNTS)
        same = c.event == a[c.name].event
        assert same or {c.event, a[c.name].event} in map(set, costs.ALTERNATIVE_COUNTS), c.name


def test_mnsim_derived_constants():
    # V^2 / R with V = sqrt(0.1 x 0.15^2), R = 1e10 / (0.67e4 + 0.33e6) (MNSIM Device.py)
    r = 1e6 * 1e4 / (1e4 * 0.67 + 1e6 * 0.33)
    assert mnsim.CELL_READ_W == pytest.approx(0.1 * 0.15 ** 2 / r)
    cfg = MN.replace(**{"crossbar.read_latency_ns": 3.16, "ou.rows": 128, "ou.cols": 128})
    xb = costs.component_library(cfg)["crossbar_read"]
    assert xb.energy_pj == pytest.approx(mnsim.CELL_READ_W * 3.16e3 * 128 * 128)
    assert xb.area_um2 == pytest.approx(128 * 128 * 1.44 + 1150 * 128)
    big = MN.replace(**{"tile.edram_kb": 64, "tile.edram_bus_bits": 64})
    ed = costs.component_library(big)["edram"]
    assert ed.energy_pj == pytest.approx((0.0933836 + 20 * 551.922e-3) * 1e3)
    # area: MNSIM's input buffer per PE plus the tile's output buffer, each the table's entry
    assert ed.events_per_unit == 8
    assert ed.area_um2 == pytest.approx(2.972110865e6 * (big.tile.pes + 1))


def test_mnsim_refuses_what_its_tables_lack():
    with pytest.raises(ConfigError, match="adc.bits=12: the 'mnsim' library"):
        costs.component_library(MN.replace(**{"adc.bits": 12}))
    with pytest.raises(ConfigError, match="dac.bits=5"):
        costs.component_library(MN.replace(**{"dac.bits": 5, "precision.input_bits": 16}))
    # a lossless ADC is charged at the next MNSIM resolution >= the one its sums need (8)
    lossless = MN.replace(**{"adc.range_policy": "lossless"})
    assert costs.component_library(lossless)["adc"].energy_pj == pytest.approx(2e-3 * 10 / 1.28
                                                                               * 1e3)


def test_overrides_from_yaml_replace_fields_and_change_the_hash():
    text = ("base: isaac\ncosts: {library: mnsim, overrides: {adc: {energy_pj: 2.5, "
            "area_um2: 700}, edram: {leakage_mw: 1.5}}}\nadc: {bits: 6, range_policy: "
            "full_scale}\n")
    cfg = load_yaml_text(text)
    lib = costs.component_library(cfg)
    assert lib["adc"].energy_pj == 2.5 and lib["adc"].area_um2 == 700.0
    assert lib["adc"].latency_ns == pytest.approx(8.0)            # not overridden: library's
    assert lib["edram"].leakage_mw == 1.5
    assert "costs.overrides" in lib["adc"].source
    assert cfg.config_hash() != MN.config_hash()
    assert cfg.config_hash() != cfg.replace(**{"costs.overrides": {}}).config_hash()
    # the YAML written out reads back to the same chip
    again = load_yaml_text(cfg.to_yaml())
    assert again == cfg and again.config_hash() == cfg.config_hash()
    assert again.to_dict()["costs"]["overrides"] == {"adc": {"area_um2": 700.0, "energy_pj": 2.5},
                                                     "edram": {"leakage_mw": 1.5}}


@pytest.mark.parametrize("text, match", [
    ("costs: {overrides: {adcx: {energy_pj: 1}}}", r"costs.overrides.adcx: unknown component"),
    ("costs: {overrides: {adc: {energy: 1}}}", r"costs.overrides.adc.'energy': unknown field"),
    ("costs: {overrides: {adc: {energy_pj: -1}}}", r"costs.overrides.adc.energy_pj=-1: must be"),
    ("costs: {overrides: {adc: {energy_pj: .nan}}}", r"costs.overrides.adc.energy_pj=nan"),
    ("costs: {overrides: {adc: {energy_pj: true}}}", r"costs.overrides.adc.energy_pj=True"),
    ("costs: {overrides: {adc: {}}}", r"costs.overrides.adc=\{\}: must be a non-empty"),
    ("costs: {overrides: [adc]}", r"costs.overrides=\['adc'\]: must be a mapping"),
    ("costs: {library: neurosim}", r"costs.library='neurosim': must be one of isaac, mnsim"),
    ("costs: {power_gating: some}", r"costs.power_gating='some': must be one of none, unused"),
    ("costs: {digital_static_fraction: 0.1}", r"costs.digital_static_fraction: unknown key"),
    ("costs: {leakage: 0}", r"costs.leakage: unknown key"),
])
def test_cost_keys_are_validated_with_one_line_errors(text, match):
    with pytest.raises(ConfigError, match=match) as exc:
        load_yaml_text(text)
    assert "\n" not in str(exc.value)


def test_static_power_is_per_component_from_its_cited_model():
    lib = costs.component_library(ISAAC)
    leak = {name: c.leakage_mw for name, c in lib.items()}
    # CACTI 7 at 32 nm (itrs-lop): eDRAM leakage + gate leakage + refresh, SRAM registers, router
    assert leak["edram"] == pytest.approx(1.24041 + 0.0173251 + 0.0320262)
    assert leak["input_register"] == pytest.approx(0.328565 + 0.00343352)
    assert leak["output_register"] == pytest.approx(leak["input_register"] / 8)   # 256 B of 2 KB
    assert leak["tile_output_register"] == pytest.approx(0.478754 + 0.0047841)
    assert leak["router"] == pytest.approx(2.64164 + 0.0749517)
    assert leak["bus"] == pytest.approx((0.00535964 + 9.51743e-05) * 256 * 0.372 ** 0.5)
    # Aladdin 40 nm: a 32-bit adder leaks 2.4 uW; a 16-bit multiplier 80 uW / 4
    assert leak["shift_add"] == leak["tile_shift_add"] == pytest.approx(2.4e-3)
    assert leak["sigmoid"] == pytest.approx(0.08 / 4 + 1.2e-3)
    # blocks that draw power only while working
    for name in ("adc", "dac", "sample_hold", "crossbar_read", "offchip_link"):
        assert leak[name] == 0.0, name
    for name, c in lib.items():
        if c.leakage_mw > 0 and name != "index_unit":
            assert "CACTI 7" in c.source or "Aladdin" in c.source, name
    # static + dynamic still add up to ISAAC's published peak powers (Table 6)
    r = costs.rollup(ISAAC)
    assert r.chip_power_w == pytest.approx(65.8, rel=0.003)
    assert r.tile_power_mw == pytest.approx(330.0, rel=0.003)
    assert 0 < r.chip_leakage_w < 0.05 * r.chip_power_w
    # the static share of each block is its model's, not one fraction for all
    shares = {n: leak[n] / (leak[n] + lib[n].energy_pj * 1.2 / lib[n].events_per_unit)
              for n in ("edram", "router", "shift_add", "input_register")}
    assert len({round(v, 3) for v in shares.values()}) == len(shares)


def test_static_power_scales_with_size_and_is_settable_per_component():
    big = ISAAC.replace(**{"tile.edram_kb": 128, "pe.input_register_bytes": 4096})
    a, b = costs.component_library(ISAAC), costs.component_library(big)
    assert b["edram"].leakage_mw == pytest.approx(2 * a["edram"].leakage_mw)
    assert b["input_register"].leakage_mw == pytest.approx(2 * a["input_register"].leakage_mw)
    wide = ISAAC.replace(**{"precision.input_bits": 8, "precision.weight_bits": 8})
    assert costs.component_library(wide)["shift_add"].leakage_mw == pytest.approx(1.2e-3)
    over = load_yaml_text("base: isaac\ncosts: {overrides: {edram: {leakage_mw: 5}, "
                          "offchip_link: {leakage_mw: 100}}}\n")
    lib = costs.component_library(over)
    assert lib["edram"].leakage_mw == 5.0 and lib["edram"].source.startswith("costs.overrides")
    assert lib["edram"].energy_pj == a["edram"].energy_pj
    e = costs.leakage_energy_pj(over, 1000.0, 2)
    assert e["edram"] == pytest.approx(2 * 5.0 * 1000.0)
    assert e["offchip_link"] == pytest.approx(4 * 100.0 * 1000.0)


def test_power_gating_policy():
    edram = costs.component_library(ISAAC)["edram"].leakage_mw
    router = costs.component_library(ISAAC)["router"].leakage_mw
    gated = costs.leakage_energy_pj(ISAAC, 1000.0, 3)
    none = costs.leakage_energy_pj(ISAAC.replace(**{"costs.power_gating": "none"}), 1000.0, 3)
    assert gated["edram"] == pytest.approx(3 * edram * 1000)
    assert none["edram"] == pytest.approx(168 * edram * 1000)
    assert gated["router"] == pytest.approx(1 * router * 1000)      # ceil(3 / 4) routers
    assert none["router"] == pytest.approx(42 * router * 1000)
    assert none["offchip_link"] == gated["offchip_link"] == 0.0   # links: no static power
    # an unused chip leaks nothing either way
    idle = costs.leakage_energy_pj(ISAAC.replace(**{"costs.power_gating": "none"}), 1000.0, 0)
    assert sum(idle.values()) == 0.0


def test_lossless_adc_is_charged_at_the_resolution_its_sums_need():
    # ISAAC: 128 rows x 3 x 1 = 384, halved by the offset scheme's flipping: 8 bits (its own ADC)
    assert config.lossless_adc_bits(ISAAC) == 8 == config.charged_adc_bits(ISAAC)
    # a 6-bit lossless ADC on ISAAC is charged as 8 bits; a full-scale one at its 6 bits
    six = ISAAC.replace(**{"adc.bits": 6})
    assert config.charged_adc_bits(six) == 8
    assert costs.component_library(six)["adc"].energy_pj == pytest.approx(1.5625)
    six_fs = six.replace(**{"adc.range_policy": "full_scale"})
    assert costs.component_library(six_fs)["adc"].energy_pj == pytest.approx(1.5625 / 16)
    # PipeLayer: 128 x 15 = 1920 (differential: no flipping) needs 11 bits, and the preset says so
    pl = preset("pipelayer")
    assert config.lossless_adc_bits(pl) == 11 == pl.adc.bits
    for name in config.preset_names():
        cfg = preset(name)
        if cfg.adc.range_policy == "lossless":
            assert cfg.adc.bits >= config.lossless_adc_bits(cfg), name


def test_adc_model_anchor_and_counts_energy():
    c = Counts(adc_conversions=1000)
    e = costs.dynamic_energy_pj(c, MN)["adc"]
    assert e == pytest.approx(10.08 * 1000)
    assert math.isclose(costs.dynamic_energy_pj(c, ISAAC)["adc"], 1562.5)


def test_chip_command_shows_the_library():
    out = subprocess.run([sys.executable, "-m", "rram_sim", "chip", "isaac"], capture_output=True,
                         text=True, check=True).stdout
    assert "cost library: isaac" in out and "ADC charged at 8 bits" in out
