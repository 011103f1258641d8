"""Mesh / concentrated-mesh geometry, XY routes and message latency."""

from hypothesis import given, settings
from hypothesis import strategies as st

from rram_sim import config
from rram_sim.engine.noc import Mesh, mesh_for, message_cycles


def test_isaac_cmesh_grid():
    m = mesh_for(config.preset("isaac"))
    assert (m.routers, m.width, m.height) == (42, 7, 6)
    assert m.router_of(5) == 1 and m.hops(0, 3) == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.sampled_from([1, 2, 4, 8]), st.data())
def test_xy_route_is_a_shortest_path_x_first(tiles, conc, data):
    m = Mesh(tiles, conc)
    a = data.draw(st.integers(0, tiles - 1))
    b = data.draw(st.integers(0, tiles - 1))
    route = m.route(a, b)
    assert len(route) == m.hops(a, b)
    pos = m.router_of(a)
    seen_y = False
    for u, v in route:
        assert u == pos
        dx = abs(u % m.width - v % m.width)
        dy = abs(u // m.width - v // m.width)
        assert dx + dy == 1
        seen_y |= dy == 1
        assert not (seen_y and dx == 1)       # no x move after a y move
        pos = v
    assert pos == m.router_of(b)


def test_message_cycles():
    cfg = config.preset("edge")               # 32-bit flits, 2 cycles per hop
    assert message_cycles(320, 3, cfg) == 3 * 2 + 10
    assert message_cycles(1, 0, cfg) == 2 + 1
    assert message_cycles(0, 5, cfg) == 0
