"""Message composition (rram_sim.engine.messages): multicast routes, flits, flows and durations,
checked by hand on the edge mesh (4 x 4, 32-bit flits, 2 cycles a hop)
and the ISAAC cmesh (4 tiles a router, 7 x 6 routers)."""

from rram_sim import config
from rram_sim.engine import timing as T
from rram_sim.engine.messages import Message, links_in_use, message_cycles, multicasts
from rram_sim.noc import Ring, topology_for

EDGE = config.preset("edge")
ISAAC = config.preset("isaac")


def test_message_cycles():
    assert message_cycles(320, 3, EDGE) == 3 * 2 + 10
    assert message_cycles(1, 0, EDGE) == 2 + 1           # through one router: one hop's latency
    assert message_cycles(0, 5, EDGE) == 0


def test_multicast_is_one_message_along_the_union_of_its_routes():
    (m,) = multicasts(0, (3, 12), 320, topology_for(EDGE), EDGE)
    assert m.flow == (0, (3, 12)) and not m.offchip
    # 0 -> 3 along x, 0 -> 12 along y; each link held once, chip 0 first, in a global order
    assert m.links == ((0, 0, 1), (0, 0, 4), (0, 1, 2), (0, 2, 3), (0, 4, 8), (0, 8, 12))
    assert (m.cycles, m.units, m.destinations) == (3 * 2 + 10, 10, 2)


def test_one_destination_per_router_and_none_to_the_source_router():
    topo = topology_for(ISAAC)                       # tiles 4..7 on router 1, 8..11 on router 2
    (m,) = multicasts(4, (4, 5, 9), 64, topo, ISAAC)
    assert m.flow == (4, (9,)) and m.links == ((0, 1, 2),) and m.destinations == 1
    (m,) = multicasts(0, (8, 9, 10), 64, topo, ISAAC)
    assert m.flow == (0, (8,)) and m.destinations == 1 and len(m.links) == 2
    assert multicasts(5, (5,), 64, topo, ISAAC) == []
    (m,) = multicasts(4, (5,), 64, topo, ISAAC)      # another tile of the same router
    assert m.links == () and m.cycles == message_cycles(64, 0, ISAAC)


def test_other_chips_and_the_input_go_off_chip():
    topo = topology_for(EDGE)                        # 16 tiles a chip
    on, off = multicasts(3, (2, 17, 18), 100, topo, EDGE)
    assert on.flow == (3, (2,)) and on.links == ((0, 3, 2),) and not on.offchip
    assert off == Message((3, (17, 18)), (), T.offchip_cycles(100, EDGE), 13, 0, True)
    (inp,) = multicasts(-1, (0,), 100, topo, EDGE)
    assert inp.offchip and inp.units == 13
    (far,) = multicasts(16, (30,), 32, topo, EDGE)   # chip 1, local 0 -> 14: its own links
    assert far.links == ((1, 0, 1), (1, 1, 2), (1, 2, 6), (1, 6, 10), (1, 10, 14))


def test_ring_multicast_routes_both_ways():
    ring = Ring(tiles=16)
    cfg = EDGE.replace(**{"noc.topology": "ring"})
    (m,) = multicasts(0, (2, 15), 32, ring, cfg)
    assert m.links == ((0, 0, 1), (0, 0, 15), (0, 1, 2))
    assert m.cycles == message_cycles(32, 2, cfg)    # as long as its longest route


def test_links_in_use_counts_the_chips_in_use():
    topo = topology_for(EDGE)
    assert links_in_use([0, 5, 15], topo, EDGE) == 48
    assert links_in_use([0, 17], topo, EDGE) == 96
    assert links_in_use([3], Ring(tiles=1), EDGE) == 1      # no link at all: at least 1
