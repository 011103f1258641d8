"""Buffer sizing (rram_sim.engine.buffers): the groups an edge's buffer holds, by hand."""

from rram_sim import config
from rram_sim.engine.backward import Edge
from rram_sim.engine.buffers import edge_capacity, group_capacity
from rram_sim.engine.plan import Stage

CFG = config.preset("edge").replace(**{"tile.edram_kb": 1, "precision.input_bits": 8})


def _stage(name, values_per_row, rows=8, segment=0):
    return Stage(name, "conv", ("x",), (values_per_row, rows, 1), rows=rows, group_len=1,
                 dep="same", window=(1, 1, 0), tiles=(0,), segment=segment)


def test_group_capacity_by_hand():
    p = _stage("p", 512)                     # 512 one-byte values a group: 2 fit in 1 KiB
    assert group_capacity(p, 0, False, CFG) == 2
    assert group_capacity(p, 3, False, CFG) == 4          # at least the first window + 1
    assert group_capacity(p, 3, True, CFG) == 9           # a whole image ahead + 1
    small = _stage("s", 16)                  # 64 groups would fit: bounded by the 8 it has
    assert group_capacity(small, 0, False, CFG) == 8


def test_edge_capacity():
    p, c = _stage("p", 512), _stage("c", 512)
    assert edge_capacity(Edge(p, c, [1] * 8, False), False, 4, CFG) == 2
    assert edge_capacity(Edge(p, c, [1] * 8, False), True, 4, CFG) == 9    # forks
    assert edge_capacity(Edge(p, c, [1] * 8, True), False, 4, CFG) == 9    # backward
    later = _stage("c", 512, segment=1)     # the next reload segment takes the whole batch
    assert edge_capacity(Edge(p, later, [1] * 8, False), False, 4, CFG) == 8 * 4 + 1
