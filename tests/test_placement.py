"""Tests of rram_sim.placement: in-order placement, fresh PEs, replication, chip overflow."""

from __future__ import annotations

import numpy as np
import pytest

from rram_sim import config
from rram_sim.errors import MappingError
from rram_sim.placement import place, placement_figures, resolve_replication


def cfg(tiles=4, pes=2, crossbars=3):
    return config.default().replace(**{"chip.tiles": tiles, "tile.pes": pes,
                                       "pe.crossbars": crossbars, "noc.concentration": 1})


def test_layers_start_on_fresh_pes_in_order():
    p = place([4, 2], cfg(), names=["a", "b"])
    a, b = p.location
    assert a.shape == (1, 4, 4) and b.shape == (1, 2, 4)
    # a: PE 0 slots 0..2, PE 1 slot 0; b starts on PE 2 = tile 1, PE 0
    assert a[0].tolist() == [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 1, 0]]
    assert b[0].tolist() == [[0, 1, 0, 0], [0, 1, 0, 1]]
    assert p.tiles_used == [1, 1]
    assert p.figures == {"crossbars_placed": 6, "pes_occupied": 3, "tiles_occupied": 2,
                         "chips_used": 1, "crossbar_slots_available": 24}


def test_fresh_tile_option_starts_each_layer_on_a_new_tile():
    p = place([1, 1, 7], cfg(), fresh_tile=True)
    assert [loc[0, 0, 1] for loc in p.location] == [0, 1, 2]
    assert p.location[2][0, -1].tolist() == [0, 3, 0, 0]      # 7 crossbars: 3 PEs over 2 tiles
    assert p.tiles_used == [1, 1, 2]
    assert p.figures["pes_occupied"] == 5


def test_replication_places_copies_back_to_back():
    p = place([2, 3], cfg(), names=["a", "b"], replication={"b": 2})
    assert p.replication == [1, 2]
    b = p.location[1]
    assert b.shape == (2, 3, 4)
    flat = b.reshape(-1, 4)
    assert flat[:, 2].tolist() == [1, 1, 1, 0, 0, 0]   # PEs 1 then tile 1 PE 0
    assert len(np.unique(np.concatenate([x.reshape(-1, 4) for x in p.location]), axis=0)) == 8
    assert p.figures["crossbars_placed"] == 8


def test_network_too_big_for_one_chip_names_tiles_needed_and_available():
    with pytest.raises(MappingError, match=r"needs 5 tiles .* chip.tiles=4 .*layer 'big'"):
        place([6, 20], cfg(), names=["small", "big"])


def test_multi_chip_spills_onto_the_next_chip():
    p = place([6, 20], cfg(), names=["small", "big"], allow_multi_chip=True)
    big = p.location[1][0]
    assert big[0].tolist() == [0, 1, 0, 0]
    assert big[-1].tolist() == [1, 0, 0, 1]        # global slot 2*3 + 19 = 25 -> PE 8 -> chip 1
    assert p.figures["chips_used"] == 2
    assert p.figures["crossbar_slots_available"] == 2 * 4 * 2 * 3


def test_empty_layers_take_no_pe():
    p = place([0, 2], cfg())
    assert p.location[0].shape == (1, 0, 4)
    assert p.location[1][0, 0].tolist() == [0, 0, 0, 0]
    assert p.tiles_used == [0, 1]
    assert placement_figures([], cfg())["chips_used"] == 0


@pytest.mark.parametrize("rep, rule", [
    (0, "replication of layer 'a'"), ([1], "1 values given for 2 layers"),
    ({"zz": 2}, "unknown layer"), ([1, 1.5], "integer >= 1")])
def test_replication_errors(rep, rule):
    with pytest.raises(MappingError, match=rule):
        resolve_replication(rep, ["a", "b"])


def test_replication_forms_agree():
    assert resolve_replication(None, ["a", "b"]) == [1, 1]
    assert resolve_replication(3, ["a", "b"]) == [3, 3]
    assert resolve_replication([2, 1], ["a", "b"]) == [2, 1]
    assert resolve_replication({"a": 2}, ["a", "b"]) == [2, 1]


def test_segment_layers_splits_in_order_and_names_a_layer_too_big():
    from rram_sim.placement import segment_layers

    cfg = config.preset("edge").replace(**{"chip.tiles": 2, "tile.pes": 2, "pe.crossbars": 4})
    # 16 slots, 4 PEs: layers of 2, 1, 2, 1, 4 PEs (4 crossbars per PE).
    assert segment_layers([8, 4, 8, 1, 16], cfg) == [[0, 1], [2, 3], [4]]
    # Each segment fits place() without spilling.
    for seg in segment_layers([8, 4, 8, 1, 16], cfg):
        place([[8, 4, 8, 1, 16][i] for i in seg], cfg)
    # Copies count; a fresh tile per layer rounds up to whole tiles.
    assert segment_layers([4, 4], cfg, replication=2) == [[0, 1]]
    assert segment_layers([4, 4, 4], cfg, fresh_tile=True) == [[0, 1], [2]]
    with pytest.raises(MappingError, match=r"layer 'big': 17 crossbars \(17 x 1 copies\) need 5 "
                                           r"PEs but chip 'edge' has 16 crossbar slots"):
        segment_layers([4, 17], cfg, names=["a", "big"])
