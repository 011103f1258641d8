"""Indexed datapath: naive tables, dislocation, verify_bundle tolerances, the ADC model registry."""

from __future__ import annotations

import numpy as np
import pytest

from rram_sim import config
from rram_sim.adc import (
    ADC_MODELS,
    AdcModel,
    CalibratedAdc,
    FullScaleAdc,
    LosslessAdc,
    adc_model,
    adc_model_class,
    adc_model_names,
    max_line_sum,
    register_adc_model,
    uniform_model,
)
from rram_sim.datapath import verify_bundle
from rram_sim.errors import ConfigError, LayoutError
from rram_sim.examples import build_example_bundle
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer
from rram_sim.schemes import index_lookups_per_vector, unit_tables


@pytest.fixture(scope="module")
def bundles():
    return {s: build_example_bundle(s) for s in ("dense", "compact", "ou")}


def test_naive_tables_equal_real_tables_for_dense(bundles):
    for lay in bundles["dense"].layers:
        r, c = unit_tables(lay, index_unit=False)
        assert np.array_equal(r, lay.row_index) and np.array_equal(c, lay.col_index)


def test_naive_tables_dislocate_compacted_layouts(bundles):
    lay = bundles["compact"].layers[1]
    r, _ = unit_tables(lay, index_unit=False)
    used = lay.row_index >= 0
    assert (r[used] != lay.row_index[used]).any()
    # base address plus physical row, only where a row is used
    assert r[0, 0] == lay.row_index[0, used[0]].min()
    assert (r[~used] == -1).all()


def test_worked_example_from_docs():
    """docs/datapath.md: rows 1 and 3 pruned away from a 5 x 1 linear layer."""
    cfg = config.default()
    w = np.array([[1.0, 0.0, 2.0, 0.0, 3.0]])
    lay = map_layer(LayerSpec("l", "linear", (1, 5), (5,)), w, cfg, "compact")
    assert list(lay.row_index[0, :3]) == [0, 2, 4]
    r, _ = unit_tables(lay, index_unit=False)
    assert list(r[0, :3]) == [0, 1, 2]


@pytest.mark.parametrize("scheme", ["compact", "ou"])
def test_compacted_bundle_needs_the_index_unit(bundles, scheme):
    assert verify_bundle(bundles[scheme], index_unit=True).passed
    rep = verify_bundle(bundles[scheme], index_unit=False)
    assert not rep.passed and all(not c.passed for c in rep.layers)
    assert all(c.wrong_fraction > 0.5 for c in rep.layers)


def test_dense_bundle_verifies_both_ways(bundles):
    for iu in (True, False):
        rep = verify_bundle(bundles["dense"], index_unit=iu)
        assert rep.passed
        assert all(c.tolerance_rule == "exact" and c.max_abs_error < 1e-9 for c in rep.layers)


def test_lossy_adc_verifies_within_derived_bound():
    cfg = config.default().replace(**{"adc.bits": 4})       # step 48/15 > 1
    rep = verify_bundle(build_example_bundle("ou", cfg))
    assert rep.passed
    assert all(c.tolerance_rule == "adc_bound" and c.adc_clipped == 0 for c in rep.layers)
    assert any(c.max_abs_error > 1e-6 for c in rep.layers)   # the ADC does lose something


def test_clipping_adc_fails_and_reports_clipping():
    cfg = config.default().replace(**{"adc.range_policy": "calibrated",
                                      "adc.calibration_fraction": 0.05, "adc.bits": 3})
    rep = verify_bundle(build_example_bundle("dense", cfg))
    assert not rep.passed and sum(c.adc_clipped for c in rep.layers) > 0
    d = rep.to_dict()
    assert d["passed"] is False and len(d["layers"]) == 3
    assert "FAIL" in rep.table()


def test_index_lookups(bundles):
    assert all(index_lookups_per_vector(lay) == 0 for lay in bundles["dense"].layers)
    for lay in bundles["ou"].layers:
        live = (lay.row_index >= 0).any(1) & (lay.col_index >= 0).any(1)
        want = (lay.row_index[live] >= 0).sum() + (lay.col_index[live] >= 0).sum()
        assert index_lookups_per_vector(lay) == want > 0
        assert index_lookups_per_vector(lay, index_unit=False) == 0


def test_bundle_without_golden_is_an_error(bundles):
    b = build_example_bundle("dense")
    b.golden = {}
    with pytest.raises(LayoutError, match="golden"):
        verify_bundle(b)


# ---------------------------------------------------------------------------------------------
# The ADC model registry (adc.range_policy)
# ---------------------------------------------------------------------------------------------

def test_adc_registry_lookup_and_unknown_names():
    cfg = config.default()
    assert adc_model_names()[:3] == ["lossless", "full_scale", "calibrated"]
    for name, cls in (("lossless", LosslessAdc), ("full_scale", FullScaleAdc),
                      ("calibrated", CalibratedAdc)):
        m = adc_model(cfg.replace(**{"adc.range_policy": name}), 16)
        assert type(m) is cls and m.policy == name and adc_model_class(name) is cls
    with pytest.raises(ConfigError, match=r"adc.range_policy='flash': must be one of lossless, "
                                          r"full_scale, calibrated"):
        cfg.replace(**{"adc.range_policy": "flash"})
    with pytest.raises(ConfigError, match=r"adc.range_policy='flash': must be one of lossless"):
        adc_model_class("flash")
    with pytest.raises(ConfigError, match="new, non-empty name"):
        register_adc_model(FullScaleAdc)


class DoubleRangeAdc(AdcModel):
    """Test model: 2**adc.bits codes over twice the largest sum (a coarser step, never clips)."""

    name = "double_range_test"

    @classmethod
    def from_config(cls, cfg, lines):
        m = max_line_sum(lines, cfg.dac.bits, cfg.cell.bits)
        return uniform_model(cls, cfg, m, 2.0 * m)


def test_a_registered_adc_model_is_used_end_to_end():
    register_adc_model(DoubleRangeAdc)
    try:
        full = config.default().replace(**{"adc.bits": 4, "adc.range_policy": "full_scale"})
        cfg = full.replace(**{"adc.range_policy": "double_range_test"})   # config accepts it
        m = adc_model(cfg, 16)
        assert isinstance(m, DoubleRangeAdc) and m.step == 2 * adc_model(full, 16).step
        rep = verify_bundle(build_example_bundle("ou", cfg))
        ref = verify_bundle(build_example_bundle("ou", full))
        assert rep.passed and all(c.tolerance_rule == "adc_bound" for c in rep.layers)
        # the kernels converted with the registered model: its error bound is twice as wide
        for c, r in zip(rep.layers, ref.layers):
            assert c.tolerance == pytest.approx(2 * r.tolerance, rel=1e-6)
    finally:
        ADC_MODELS.pop(DoubleRangeAdc.name)
    with pytest.raises(ConfigError, match="adc.range_policy='double_range_test'"):
        adc_model(cfg, 16)          # a config naming a model no longer registered
