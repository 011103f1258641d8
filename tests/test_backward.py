"""Stage dependencies (rram_sim.engine.backward): forward edges from the windows, the error
stages of a training run and what each error group waits for, by hand."""

import numpy as np

from rram_sim import config
from rram_sim.engine.backward import Edge, backward_need, backward_stage, edges
from rram_sim.engine.plan import Stage, build_plan, groups_needed
from rram_sim.graph import GraphNode
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer

EDGE = config.preset("edge")


def _stage(name, dep, window=(1, 1, 0), rows=8, per_group=2):
    return Stage(name, "conv", ("x",), (4, rows, 4), rows=rows, rows_per_group=per_group,
                 dep=dep, window=window, tiles=(0,))


def test_backward_need_by_hand():
    b = _stage("b", "window")                    # error of the input rows, 2 rows a group
    up = _stage("u", "window")                   # error of the output rows, 2 rows a group
    conv3 = _stage("f", "window", window=(3, 1, 1))
    # input rows 0..1 feed output rows 0..2 of a 3x3 conv (padding 1): 2 groups of error
    assert [backward_need(b, conv3, up, g) for g in range(4)] == [2, 3, 4, 4]
    pool2 = _stage("f", "window", window=(2, 2, 0))
    # input rows 0..1 feed output row 0 of a 2x2 / 2 pool; its error rows run 4 rows a group
    up4 = _stage("u", "window", rows=4, per_group=1)
    assert [backward_need(b, pool2, up4, g) for g in range(4)] == [1, 2, 3, 4]
    assert [backward_need(b, _stage("f", "same"), up, g) for g in range(4)] == [1, 2, 3, 4]
    assert [backward_need(b, _stage("f", "all"), up, g) for g in range(4)] == [4] * 4


def _chain():
    rng = np.random.default_rng(0)
    graph = [GraphNode("input", "input", [], {"shape": (4, 6, 2)})]
    layouts, prev = {}, "input"
    for name in ("c1", "c2"):
        spec = LayerSpec(name, "conv", (4, 4, 3, 3), (4, 6, 2), padding=(1, 1))
        layouts[name] = map_layer(spec, rng.standard_normal(spec.weight_shape), EDGE)
        graph.append(GraphNode(name, "conv", [prev]))
        prev = name
    graph.append(GraphNode("r", "relu", ["c2"]))
    return build_plan(graph, layouts, EDGE, {"c1": (0,), "c2": (1,)}, max_groups=3)


def test_inference_edges_are_the_forward_windows():
    stages = _chain()
    es, bwd = edges(stages, training=False)
    assert bwd == {}
    assert [(e.producer.name, e.consumer.name, e.backward) for e in es] == [
        ("input", "c1", False), ("c1", "c2", False), ("c2", "r", False)]
    c1, c2 = stages[1], stages[2]
    assert es[1].needs == [groups_needed(c2, g, c1) for g in range(c2.groups)] == [2, 3, 3]


def test_training_adds_error_stages_and_backward_edges():
    stages = _chain()
    es, bwd = edges(stages, training=True)
    assert sorted(bwd) == ["c1", "c2", "r"]
    inp, c1 = stages[0], stages[1]
    assert bwd["c1"].rows == inp.rows and bwd["c1"].fwd_positions == c1.positions
    assert bwd["c1"] == backward_stage(c1, inp)
    back = [(e.producer.name, e.consumer.name) for e in es if e.backward]
    # the error of c1's input waits for c2's error, c2's for r's; r is the output: the loss
    assert back == [("c2", "c1"), ("r", "c2"), ("r", "r")]
    loss = es[-1]
    assert loss.producer is stages[3] and loss.consumer is bwd["r"]
    assert loss.needs == [stages[3].groups] * bwd["r"].groups
    c2c1 = next(e for e in es if e.backward and e.consumer is bwd["c1"])
    assert isinstance(c2c1, Edge)
    assert c2c1.needs == [backward_need(bwd["c1"], c1, bwd["c2"], g) for g in range(3)]
    assert c2c1.needs == [2, 3, 3]
