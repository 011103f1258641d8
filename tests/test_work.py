"""A vector's work (rram_sim.engine.work): which phases, bound to which components, for how long;
how a backward stage spreads its layer's transposed MVMs over its vectors."""

import numpy as np

from rram_sim import config
from rram_sim.engine import timing as T
from rram_sim.engine.backward import backward_stage
from rram_sim.engine.plan import Stage, build_plan
from rram_sim.engine.work import Hold, bind, step_phases, steps_per_vector
from rram_sim.graph import GraphNode
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer

EDGE = config.preset("edge")


def _conv(cfg, stride=1):
    """input (8 x 6 x 4) -> 1x1 conv to 16 channels on tile 2."""
    spec = LayerSpec("c1", "conv", (16, 8, 1, 1), (8, 6, 4), (stride, stride))
    lay = map_layer(spec, np.random.default_rng(0).standard_normal(spec.weight_shape), cfg)
    graph = [GraphNode("input", "input", [], {"shape": (8, 6, 4)}),
             GraphNode("c1", "conv", ["input"])]
    return build_plan(graph, {"c1": lay}, cfg, {"c1": (2,)})


def test_crossbar_vector_holds_tile_and_layer_components():
    _, c1 = _conv(EDGE)
    assert c1.groups == 24                           # one vector per output position
    phases = step_phases(c1, False, True, EDGE)
    assert phases == T.forward_phases(c1.geom, EDGE)
    assert [p.unit for p in phases] == ["edram", "bus", "xbar", "adc", "shift_add", "bus",
                                       "edram"]  # one row block: nothing for the tile adder
    holds = bind(phases, c1, copy=1)
    assert [h.key for h in holds] == [2, 2, ("c1", 1), ("c1", 1), ("c1", 1), 2, 2]
    # 8 inputs x 16 bits over a 256-bit port: 1 cycle in, 16 outputs x 16 bits: 1 cycle out
    assert holds[0] == Hold("edram", 2, 1, -1, 0, 1, "edram")
    tr, ta = T.read_cycles(EDGE), T.adc_cycles(EDGE)
    n = EDGE.input_cycles * max(c1.geom.ou_reads_per_crossbar)
    assert (holds[2].cycles, holds[3].cycles, holds[3].lead, holds[3].tail) == (
        n * tr, n * ta, tr, ta)
    assert bind(phases, c1, 0, steps=3)[2].cycles == 3 * n * tr


def test_backward_of_a_layer_fed_by_the_input_only_takes_the_gradient():
    inp, c1 = _conv(EDGE)
    b = backward_stage(c1, inp)                      # the error of the input's 24 positions
    stored = c1.geom.written_cells // EDGE.slices_per_weight
    assert stored == 8 * 16
    grad = T.digital_cycles(stored, EDGE.tile.shift_add_units, EDGE)
    # read the 16 errors (one 256-bit access), then the 128 MACs on the gradient unit
    assert step_phases(b, True, True, EDGE) == [T.Phase("edram", 1, -1, 0, 1),
                                                T.Phase("grad", grad, 0, 0, grad)]
    on_xbar = EDGE.replace(**{"training.gradient_unit": "crossbar"})
    phases = step_phases(b, True, False, on_xbar)
    assert [p.unit for p in phases] == [p.unit for p in T.transposed_phases(c1.geom, on_xbar)] \
        + ["xbar"]
    assert phases[-1].cycles == T.read_sequence_cycles(
        on_xbar.input_cycles * c1.geom.reads_per_chunk, on_xbar)


def test_strided_backward_spreads_the_transposed_mvms():
    inp, c1 = _conv(EDGE, stride=2)                  # 3 x 2 outputs from 6 x 4 inputs
    b = backward_stage(c1, inp)
    steps = steps_per_vector(b, True)
    assert (b.groups, c1.positions, sum(steps)) == (24, 6, 6)
    assert steps[:8] == [0, 0, 0, 1, 0, 0, 0, 1]     # every fourth vector does one MVM
    assert steps_per_vector(c1, False) is None


def test_digital_phases_and_no_work():
    pool = Stage("p", "maxpool", ("r",), (4, 4, 4), rows=4, group_len=1, dep="window",
                 window=(2, 2, 0), tiles=(3,), pool_k=4)
    assert pool.group_values(0) == 4                 # one position: 4 channels
    ph = step_phases(pool, False, False, EDGE)
    assert ph == [T.Phase("pool", T.digital_cycles(16, EDGE.tile.maxpool_units, EDGE), -1, 0,
                          T.digital_cycles(16, EDGE.tile.maxpool_units, EDGE))]
    assert bind(ph, pool, 0)[0].key == 3             # the tile's pooling unit
    relu = Stage("r", "relu", ("c",), (64, 8, 8), rows=8, group_len=1, dep="same",
                 window=(1, 1, 0), tiles=(1,))
    assert step_phases(relu, False, False, EDGE)[0].cycles == T.digital_cycles(
        64, EDGE.tile.sigmoid_units, EDGE)
    flat = Stage("f", "flatten", ("r",), (256,), rows=1, group_len=1, dep="all",
                 window=(1, 1, 0), tiles=(1,))
    assert step_phases(flat, False, False, EDGE) == []
