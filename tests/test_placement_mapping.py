"""Tests of the mapping policies for pruned layouts: ``pack`` (fewest crossbars) against
``spread`` (fewer OU reads per crossbar), and the packer behind them."""

from __future__ import annotations

import numpy as np
import pytest

from rram_sim import config
from rram_sim.bundle import map_network
from rram_sim.engine.timing import geometry_from_layout
from rram_sim.errors import ConfigError, MappingError
from rram_sim.layout import LayerSpec
from rram_sim.mapping.layer import unmap
from rram_sim.placement_policies import apply_mapping_policy, spread_layout
from rram_sim.schemes.packing import pack_units
from rram_sim.simulate import simulate

# 32 input channels x 3 x 3 = 288 rows: 5 row blocks of 64 on the edge chip; three in four input
# channels pruned leaves 72 rows, which pack fills into 2 row blocks (64 + 8).
C = LayerSpec("c", "conv", (16, 32, 3, 3), (32, 8, 8), padding=(1, 1))


def _pruned(cfg):
    rng = np.random.default_rng(1)
    mask = np.zeros(C.weight_shape, bool)
    mask[:, ::4] = True
    return map_network([C], [rng.standard_normal(C.weight_shape)], cfg, "compact", masks=[mask])


def test_pack_units_spread_deals_rows_evenly_in_whole_ous():
    need = np.zeros((12, 2), bool)
    need[[0, 2, 3, 5, 7, 8, 9, 11], :] = True          # 8 rows needed by the one column block
    cols = np.arange(2)
    packed, _ = pack_units(need, cols, width=2, height=8)
    assert (packed >= 0).sum(1).tolist() == [8]
    spread, col_index = pack_units(need, cols, width=2, height=8, spread_chunks=4, granule=2)
    assert (spread >= 0).sum(1).tolist() == [2, 2, 2, 2]
    assert sorted(spread[spread >= 0].tolist()) == [0, 2, 3, 5, 7, 8, 9, 11]
    assert col_index.tolist() == [[0, 1]] * 4
    # a chunk holds whole granules: 8 rows over 3 chunks is 3 per chunk, rounded up to 4
    three, _ = pack_units(need, cols, width=2, height=8, spread_chunks=3, granule=2)
    assert (three >= 0).sum(1).tolist() == [4, 4]
    with pytest.raises(MappingError, match="granule"):
        pack_units(need, cols, width=2, height=8, spread_chunks=2, granule=3)


def test_spread_trades_crossbars_for_a_shorter_stage_on_edge():
    """edge (64-row crossbars, 16-row OUs): pack puts 64 + 8 surviving rows on 2 crossbars per
    column block, so the busiest reads 4 OU row groups per chunk; spread deals the 72 rows over
    the dense layer's 5 row blocks, rounded to whole OUs (16 each), so 5 crossbars read one OU
    row group each: 2.5x the crossbars, a quarter of the reads per chunk, and the stage time per
    image falls by 4x; the weights stored are identical."""
    cfg = config.preset("edge")
    bundle = _pruned(cfg)
    (pack,) = bundle.layers
    spread = spread_layout(pack, cfg)
    assert np.array_equal(unmap(pack, cfg), unmap(spread, cfg))
    assert (pack.n_crossbars, spread.n_crossbars) == (2, 5)
    g_pack, g_spread = geometry_from_layout(pack, cfg), geometry_from_layout(spread, cfg)
    assert g_pack.reads_per_chunk == 4 * g_spread.reads_per_chunk
    assert g_spread.row_blocks == 5 and g_pack.row_blocks == 2
    r_pack = simulate(bundle, cfg, "both", batch={"inference": 4, "training": 4})
    r_spread = simulate(bundle, cfg, "both", batch={"inference": 4, "training": 4},
                        mapping="spread")
    assert r_spread.figures["mapping_policy"] == "spread"
    assert (r_pack.figures["n_crossbars"], r_spread.figures["n_crossbars"]) == (2, 5)
    assert (r_pack.figures["stage_cycles_per_image"]["c"]
            == 4 * r_spread.figures["stage_cycles_per_image"]["c"])
    for mode in ("inference", "training"):
        assert r_spread.runs[mode]["makespan_ns"] < 0.8 * r_pack.runs[mode]["makespan_ns"]
    # the price: more crossbars, and more partial sums to add (dynamic energy does not fall)
    assert (r_spread.runs["inference"]["dynamic_energy_pj"]
            >= r_pack.runs["inference"]["dynamic_energy_pj"])


def test_spread_changes_nothing_where_one_read_drives_every_row():
    cfg = config.preset("pipelayer")
    bundle = _pruned(cfg)
    (pack,) = bundle.layers
    spread = spread_layout(pack, cfg)
    assert spread.n_crossbars == pack.n_crossbars
    assert np.array_equal(spread.row_index, pack.row_index)


def test_pack_is_the_bundle_and_unknown_policies_are_refused():
    cfg = config.preset("edge")
    bundle = _pruned(cfg)
    assert apply_mapping_policy(bundle, cfg, "pack") is bundle
    with pytest.raises(ConfigError, match="mapping='fill': must be one of pack, spread"):
        simulate(bundle, cfg, mapping="fill")
    dense = map_network([C], [np.ones(C.weight_shape)], cfg, "dense")
    assert apply_mapping_policy(dense, cfg, "spread").layers[0] is dense.layers[0]
