"""Stage dependencies (rram_sim.engine.backward, rram_sim.engine.plan.needs_of): forward edges
from the windows, position by position, the error stages of a training run and what each error
vector waits for, by hand."""

import numpy as np

from rram_sim import config
from rram_sim.engine.backward import Edge, backward_need, backward_needs, backward_stage, edges
from rram_sim.engine.plan import Stage, build_plan, needs_of
from rram_sim.graph import GraphNode
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer

EDGE = config.preset("edge")


def _stage(name, dep, window=(1, 1, 0), rows=4, width=4, op="conv", group_len=1):
    return Stage(name, op, ("x",), (2, rows, width), rows=rows, group_len=group_len,
                 dep=dep, window=window, tiles=(0,))


def test_forward_needs_by_hand():
    inp = _stage("i", "none", rows=4, width=4, op="input", group_len=4)   # one row a group
    conv3 = _stage("c", "window", window=(3, 1, 1))
    # output (0, c) needs input rows 0..1: both rows arrive as 2 groups
    assert needs_of(conv3, inp) == [2] * 4 + [3] * 4 + [4] * 8
    relu = _stage("r", "same")
    # position by position: output (r, c) of a 3x3 / padding 1 conv needs input (r+1, c+1)
    assert needs_of(conv3, relu)[:6] == [6, 7, 8, 8, 10, 11]
    assert needs_of(relu, conv3) == list(range(1, 17))
    pool = _stage("p", "window", window=(2, 2, 0), rows=2, width=2)
    assert needs_of(pool, relu) == [6, 8, 14, 16]
    assert needs_of(_stage("l", "all", rows=1, width=1), relu) == [16]


def test_backward_need_by_hand():
    b = _stage("b", "window")                    # error of the 4 x 4 input, one vector each
    up = _stage("u", "window")                   # error of the 4 x 4 output
    conv3 = _stage("f", "window", window=(3, 1, 1))
    # input (0, 0) feeds outputs up to (1, 1) of a 3x3 conv (padding 1): 6 error vectors
    assert [backward_need(b, conv3, up, g) for g in range(5)] == [6, 7, 8, 8, 10]
    pool2 = _stage("f", "window", window=(2, 2, 0))
    up2 = _stage("u", "window", rows=2, width=2)
    # input (r, c) feeds output (r // 2, c // 2) of a 2x2 / 2 pool; vectors are taken in order
    assert [backward_need(b, pool2, up2, g) for g in range(8)] == [1, 1, 2, 2] * 2
    assert backward_needs(b, pool2, up2) == [1, 1] + [2] * 6 + [3, 3] + [4] * 6
    assert backward_needs(b, _stage("f", "same"), up) == list(range(1, 17))
    assert backward_needs(b, _stage("f", "all"), up) == [16] * 16


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
    return build_plan(graph, layouts, EDGE, {"c1": (0,), "c2": (1,)})


def test_inference_edges_are_the_forward_windows():
    stages = _chain()
    es, bwd = edges(stages, training=False)
    assert bwd == {}
    assert [(e.producer.name, e.consumer.name, e.backward) for e in es] == [
        ("input", "c1", False), ("c1", "c2", False), ("c2", "r", False)]
    c1, c2 = stages[1], stages[2]
    # 6 x 2 outputs; output (r, c) needs input (r + 1, 1) (2 columns: the window covers both)
    assert es[1].needs == needs_of(c2, c1) == [4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 12, 12]
    assert es[0].needs == [2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6, 6]   # input rows


def test_training_adds_error_stages_and_backward_edges():
    stages = _chain()
    es, bwd = edges(stages, training=True)
    assert sorted(bwd) == ["c1", "c2", "r"]
    inp, c1 = stages[0], stages[1]
    assert bwd["c1"].rows == inp.rows and bwd["c1"].fwd_positions == c1.positions
    assert bwd["c1"] == backward_stage(c1, inp)
    assert bwd["c1"].group_len == 1 and bwd["c1"].groups == 12
    back = [(e.producer.name, e.consumer.name) for e in es if e.backward]
    # the error of c1's input waits for c2's error, c2's for r's; r is the output: the loss
    assert back == [("c2", "c1"), ("r", "c2"), ("r", "r")]
    loss = es[-1]
    assert loss.producer is stages[3] and loss.consumer is bwd["r"]
    assert loss.needs == [stages[3].groups] * bwd["r"].groups
    c2c1 = next(e for e in es if e.backward and e.consumer is bwd["c1"])
    assert isinstance(c2c1, Edge)
    assert c2c1.needs == backward_needs(bwd["c1"], c1, bwd["c2"])
    assert c2c1.needs == [4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 12, 12]
