"""Event counting (rram_sim.engine.counting): what a vector's holds, digital work and messages,
and a layer's programming and update, add to its stage record."""

import numpy as np

from rram_sim import config
from rram_sim.engine import timing as T
from rram_sim.engine.counting import (
    book_digital,
    book_holds,
    book_message,
    book_program,
    book_update,
)
from rram_sim.engine.messages import Message
from rram_sim.engine.plan import Stage, build_plan
from rram_sim.engine.records import StageRecord
from rram_sim.engine.work import Hold
from rram_sim.graph import GraphNode
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer

EDGE = config.preset("edge")


def _rec():
    return StageRecord("s", "conv", "forward", (0,))


def test_messages_count_flits_hops_and_bytes():
    rec = _rec()
    on = Message(("f",), ((0, 0, 1), (0, 1, 2), (0, 0, 4)), 12, 10, 2, False)
    assert book_message(rec, on, 3) == 12 * 3 * 3             # link-cycles
    assert rec.counts.noc_flits == 10 * 2 * 3                 # once per destination
    assert rec.counts.noc_flit_hops == 10 * 3 * 3             # once per link of the multicast
    assert rec.busy_cycles["noc"] == 36 and rec.busy_cycles["offchip"] == 0
    off = Message(("g",), (), 7, 13, 0, True)
    assert book_message(rec, off, 2) == 0
    assert rec.counts.offchip_bytes == 26 and rec.busy_cycles["offchip"] == 14
    assert rec.counts.noc_flits == 60                         # unchanged


def test_holds_count_busy_cycles_by_kind():
    rec = _rec()
    # a hold's work (every parallel unit's share), not its cycles, counts as busy time
    book_holds(rec, [Hold("edram", 0, 5, -1, 0, 5, "edram"),
                     Hold("xbar", ("c", 0), 7, -1, 0, 21, "crossbar"),
                     Hold("adc", ("c", 0), 4, 3, 2, 12, "adc"),
                     Hold("grad", ("c", 0), 4, 0, 0, 4, "digital"),
                     Hold("bus", 0, 0, -1, 0, 0, "bus")], 2)
    assert {k: v for k, v in rec.busy_cycles.items() if v} == {
        "edram": 10, "crossbar": 42, "adc": 24, "digital": 8}


def test_digital_ops_per_op_and_pass():
    def stage(op):
        return Stage("s", op, ("x",), (2, 4, 4), rows=4, group_len=1, dep="same",
                     window=(1, 1, 0), tiles=(0,), pool_k=4)

    counts = {}
    for op, backward in [("maxpool", False), ("avgpool", True), ("relu", False),
                         ("softmax", True), ("add", False), ("flatten", False)]:
        rec = _rec()
        book_digital(rec, stage(op), backward, 3)             # 32 values an image, 3 images
        counts[op, backward] = (rec.counts.pool_ops, rec.counts.activation_ops,
                                rec.counts.digital_adds)
    assert counts == {("maxpool", False): (32 * 4 * 3, 0, 0), ("avgpool", True): (96, 0, 0),
                      ("relu", False): (0, 96, 0), ("softmax", True): (0, 96, 0),
                      ("add", False): (0, 0, 96), ("flatten", False): (0, 0, 0)}


def _layer(cfg):
    spec = LayerSpec("c1", "conv", (16, 8, 1, 1), (8, 2, 2))
    lay = map_layer(spec, np.random.default_rng(0).standard_normal(spec.weight_shape), cfg)
    graph = [GraphNode("input", "input", [], {"shape": (8, 2, 2)}),
             GraphNode("c1", "conv", ["input"])]
    return build_plan(graph, {"c1": lay}, cfg, {"c1": (0,)}, copies={"c1": 2},
                      program_rows={"c1": 40})[1]


def test_programming_and_update_write_pulses():
    st = _layer(EDGE)
    rec = _rec()
    cyc, pulses = book_program(rec, st, EDGE)
    assert cyc == T.program_cycles(40, EDGE)
    assert pulses == st.geom.written_cells * 2 * T.program_pulses_per_cell(EDGE) > 0
    assert (rec.counts.cell_write_pulses, rec.counts.cell_verify_reads) == (pulses, 0)
    assert rec.busy_cycles["write"] == cyc
    verify = EDGE.replace(**{"training.write_scheme": "write_verify"})
    rec = _rec()
    cyc, pulses = book_update(rec, st, verify, 3 * st.geom.written_cells)
    assert cyc == T.update_cycles(st.geom, verify, 3 * st.geom.written_cells)
    assert pulses == 3 * st.geom.written_cells * 2
    assert rec.counts.cell_write_pulses == rec.counts.cell_verify_reads == pulses
