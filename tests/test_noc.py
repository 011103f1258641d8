"""NoC topologies: the registry keyed by noc.topology, mesh / cmesh XY routes, ring routes by
hand, and the routers and ports the cost model takes from the topology."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rram_sim import config, costs
from rram_sim.errors import ConfigError
from rram_sim.noc import (
    TOPOLOGIES,
    ConcentratedMesh,
    Mesh,
    Ring,
    Topology,
    register_topology,
    topology_class,
    topology_for,
    topology_names,
)


def test_isaac_cmesh_grid():
    m = topology_for(config.preset("isaac"))
    assert isinstance(m, ConcentratedMesh)
    assert (m.routers, m.width, m.height) == (42, 7, 6)
    assert m.router_of(5) == 1 and m.hops(0, 3) == 0 and m.route(0, 3) == ()
    assert m.n_links == 2 * (6 * 6 + 5 * 7) and m.router_ports == 4 + 4


def test_edge_mesh_grid_and_links():
    m = topology_for(config.preset("edge"))         # 16 tiles, a router each: 4 x 4
    assert type(m) is Mesh and (m.routers, m.width, m.height) == (16, 4, 4)
    assert m.route(0, 15) == ((0, 1), (1, 2), (2, 3), (3, 7), (7, 11), (11, 15))
    assert m.n_links == 48 and m.router_ports == 5


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.sampled_from([1, 2, 4, 8]), st.data())
def test_xy_route_is_a_shortest_path_x_first(tiles, conc, data):
    m = ConcentratedMesh(tiles, conc)
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


def test_ring_routes_by_hand():
    r = Ring(tiles=6)
    assert r.route(0, 2) == ((0, 1), (1, 2))
    assert r.route(0, 4) == ((0, 5), (5, 4))                  # down is shorter
    assert r.route(0, 3) == ((0, 1), (1, 2), (2, 3))          # a tie goes up
    assert r.route(5, 1) == ((5, 0), (0, 1))                  # up across the wrap
    assert r.route(4, 4) == ()
    assert [r.hops(0, d) for d in range(6)] == [0, 1, 2, 3, 2, 1]
    assert (r.routers, r.n_links, r.router_ports) == (6, 12, 3)
    assert [Ring(tiles=n).n_links for n in (1, 2, 3)] == [0, 2, 6]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 64), st.data())
def test_ring_route_is_a_shortest_path(tiles, data):
    r = Ring(tiles)
    a = data.draw(st.integers(0, tiles - 1))
    b = data.draw(st.integers(0, tiles - 1))
    d = (b - a) % tiles
    route = r.route(a, b)
    assert len(route) == min(d, tiles - d)
    pos = a
    for u, v in route:
        assert u == pos and (v - u) % tiles in (1, tiles - 1)
        pos = v
    assert pos == b


def test_registry_names_and_errors():
    assert topology_names()[:3] == ["mesh", "cmesh", "ring"]
    assert topology_class("ring") is Ring
    with pytest.raises(ConfigError, match=r"noc.topology='torus': must be one of mesh, cmesh, "
                                          r"ring"):
        topology_class("torus")
    with pytest.raises(ConfigError, match="must be a new, non-empty name"):
        register_topology(Ring)
    with pytest.raises(ConfigError, match="must be a subclass of Topology"):
        register_topology(dict)


def test_config_accepts_registered_names_only():
    edge = config.preset("edge")
    assert isinstance(topology_for(edge.replace(**{"noc.topology": "ring"})), Ring)
    with pytest.raises(ConfigError, match=r"noc.topology='torus': must be one of mesh, cmesh, "
                                          r"ring"):
        edge.replace(**{"noc.topology": "torus"})
    with pytest.raises(ConfigError, match=r"noc.concentration=2: must be 1 for a 'ring'"):
        edge.replace(**{"noc.topology": "ring", "noc.concentration": 2})
    # A mesh ignores noc.concentration only because the config refuses anything but 1 for it.
    assert Mesh.from_config(config.preset("isaac")).concentration == 1


class _Star(Topology):
    """Every router linked to every other: one hop between any two routers."""

    name = "test_star"
    neighbour_ports = 1

    def route(self, src_tile, dst_tile):
        a, b = self.router_of(src_tile), self.router_of(dst_tile)
        return () if a == b else ((a, b),)

    @property
    def n_links(self):
        return self.routers * (self.routers - 1)


@pytest.fixture
def star(monkeypatch):
    """``test_star`` registered for one test."""
    monkeypatch.setitem(TOPOLOGIES, _Star.name, _Star)
    return _Star


def test_registered_topology_is_a_valid_config_value(star):
    cfg = config.preset("edge").replace(**{"noc.topology": "test_star"})
    topo = topology_for(cfg)
    assert isinstance(topo, star) and topo.hops(0, 15) == 1 and topo.n_links == 16 * 15


def test_costs_take_routers_and_ports_from_the_topology():
    edge = config.preset("edge")
    ring = edge.replace(**{"noc.topology": "ring"})
    assert costs.instances(ring)["chip"]["router"] == 16 == costs.instances(edge)["chip"]["router"]
    isaac = config.preset("isaac")
    assert costs.instances(isaac)["chip"]["router"] == 42
    # A ring router has 2 neighbour ports instead of a mesh router's 4: (1 + 2) / (1 + 4) of it.
    r_ring, r_mesh = costs.rollup(ring).row("chip", "router"), costs.rollup(edge).row("chip",
                                                                                     "router")
    assert r_ring.area_um2 == pytest.approx(r_mesh.area_um2 * 3 / 5)
    assert costs.rollup(isaac).row("tile", "router").count == pytest.approx(1 / 4)
