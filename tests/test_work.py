"""A group's holds of hardware (rram_sim.engine.work): which units, in order, for how long; which
units are shared; how holds become the model's ops."""

import math

import numpy as np

from rram_sim import config
from rram_sim.engine import timing as T
from rram_sim.engine.backward import backward_stage
from rram_sim.engine.plan import Stage, build_plan
from rram_sim.engine.work import Hold, group_holds, group_ops, shared_units
from rram_sim.graph import GraphNode
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer

EDGE = config.preset("edge")


def _conv(cfg):
    """input (8 x 6 x 4) -> 1x1 conv to 16 channels on tile 2."""
    spec = LayerSpec("c1", "conv", (16, 8, 1, 1), (8, 6, 4))
    lay = map_layer(spec, np.random.default_rng(0).standard_normal(spec.weight_shape), cfg)
    graph = [GraphNode("input", "input", [], {"shape": (8, 6, 4)}),
             GraphNode("c1", "conv", ["input"])]
    return build_plan(graph, {"c1": lay}, cfg, {"c1": (2,)}, max_groups=3)


def test_crossbar_layer_holds_edram_crossbars_and_bus():
    _, c1 = _conv(EDGE)
    n = c1.group_positions(0)                        # 2 rows x 4 columns, one copy
    step = T.forward_step(c1.geom, EDGE)
    assert group_holds(c1, 0, False, True, EDGE) == [
        Hold("edram", 2, n * step.load, "edram"),
        Hold("xbar", "c1", n * (step.gather + step.crossbar), "crossbar"),
        Hold("bus", 2, n * (step.bus + step.reduce), "bus")]
    c1.copies = 3                                    # copies share the positions
    assert group_holds(c1, 0, False, True, EDGE)[0].cycles == math.ceil(n / 3) * step.load


def test_backward_of_a_layer_fed_by_the_input_only_takes_the_gradient():
    inp, c1 = _conv(EDGE)
    b = backward_stage(c1, inp)                      # the error of the input's 6 rows
    n = math.ceil(c1.positions * b.group_rows(0) / b.rows)
    assert n == 24 * 2 // 6
    grad = T.gradient_cycles(c1.geom, n, 1, EDGE)
    assert grad > 0
    assert group_holds(b, 0, True, True, EDGE) == [Hold(None, "c1", grad, "digital")]
    on_xbar = EDGE.replace(**{"training.gradient_unit": "crossbar"})
    holds = group_holds(b, 0, True, False, on_xbar)
    assert [h.unit for h in holds] == ["edram", "xbar", "bus", "xbar"]
    assert holds[1].cycles == n * (T.transposed_step(c1.geom, on_xbar).gather
                                   + T.transposed_step(c1.geom, on_xbar).crossbar)


def test_digital_ops_and_no_work():
    pool = Stage("p", "maxpool", ("r",), (4, 4, 4), rows=4, rows_per_group=2, dep="window",
                 window=(2, 2, 0), tiles=(3,), pool_k=4)
    assert pool.group_values(0) == 32
    assert group_holds(pool, 0, False, False, EDGE) == [
        Hold("digital", 3, T.digital_cycles(32 * 4, EDGE.tile.maxpool_units, EDGE), "digital")]
    assert group_holds(pool, 0, True, False, EDGE)[0].cycles == T.digital_cycles(
        32, EDGE.tile.maxpool_units, EDGE)
    relu = Stage("r", "relu", ("c",), (4, 8, 8), rows=8, rows_per_group=8, dep="same",
                 window=(1, 1, 0), tiles=(1,))
    assert group_holds(relu, 0, False, False, EDGE)[0].cycles == T.digital_cycles(
        256, EDGE.tile.sigmoid_units, EDGE)
    flat = Stage("f", "flatten", ("r",), (256,), rows=1, rows_per_group=1, dep="all",
                 window=(1, 1, 0), tiles=(1,))
    assert group_holds(flat, 0, False, False, EDGE) == []


def test_shared_units_are_held_by_two_stages_of_one_segment():
    a = [[Hold("edram", 0, 5, "edram"), Hold("xbar", "c1", 3, "crossbar")]]
    b = [[Hold("edram", 0, 2, "edram"), Hold("bus", 0, 0, "bus")]]
    c = [[Hold("bus", 0, 4, "bus"), Hold(None, "c2", 9, "digital")]]
    assert shared_units([(0, a), (0, b), (0, c)]) == {("edram", 0, 0)}
    assert shared_units([(0, a), (1, b)]) == set()          # segments never overlap


def test_group_ops_merge_private_holds():
    holds = [Hold("edram", 0, 5, "edram"), Hold(None, "x", 1, "digital"),
             Hold("xbar", "c1", 3, "crossbar"), Hold("bus", 0, 2, "bus"),
             Hold("digital", 0, 0, "digital"), Hold("bus", 1, 4, "bus")]
    shared = {("xbar", "c1", 0)}
    assert group_ops(holds, 0, shared) == [6, (("xbar", "c1"), 3), 6]
    assert group_ops(holds, 1, shared) == [15]
