"""The on-chip network: tiles on a mesh or a concentrated mesh, XY routing, link occupancy.

In a ``mesh`` every tile has its own router; in a ``cmesh`` (concentrated mesh, ISAAC's choice)
``concentration`` neighbouring tiles share one. The ``R = ceil(tiles / concentration)`` routers sit
on a near-square grid, ``W = ceil(sqrt(R))`` columns wide, router ``r`` at ``(r mod W, r div W)``;
tile ``t`` attaches to router ``t div concentration``.

A message goes from its source router to its destination router by dimension-ordered (XY)
routing: first along x, then along y, so the path is unique and deadlock-free. It takes
``hops x hop_latency_cycles + flits`` cycles (wormhole: the head pays the router pipeline per hop,
the body follows one flit per cycle), with ``flits = ceil(bits / flit_bits)``; two tiles on the same
router exchange data through that router only (one hop's latency, no link). Each directed link is
a SimPy ``Resource`` of capacity 1 in the model, held for the message's whole duration, so two
messages crossing the same link serialize. This module is pure: routes and durations only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from rram_sim.config import Config
from rram_sim.engine.timing import flits

Link = tuple[int, int]  # (from router, to router), neighbours on the grid


@dataclass(frozen=True)
class Mesh:
    """Router grid of one chip."""

    tiles: int
    concentration: int

    @property
    def routers(self) -> int:
        return math.ceil(self.tiles / self.concentration)

    @property
    def width(self) -> int:
        return max(1, math.ceil(math.sqrt(self.routers)))

    @property
    def height(self) -> int:
        return math.ceil(self.routers / self.width)

    def router_of(self, tile: int) -> int:
        return tile // self.concentration

    def coord(self, router: int) -> tuple[int, int]:
        return router % self.width, router // self.width

    def route(self, src_tile: int, dst_tile: int) -> tuple[Link, ...]:
        """The directed links an XY-routed message crosses."""
        return _xy_route(self.coord(self.router_of(src_tile)),
                         self.coord(self.router_of(dst_tile)), self.width)

    def hops(self, src_tile: int, dst_tile: int) -> int:
        """Routers traversed beyond the first: Manhattan distance between the routers."""
        (x0, y0), (x1, y1) = (self.coord(self.router_of(src_tile)),
                              self.coord(self.router_of(dst_tile)))
        return abs(x1 - x0) + abs(y1 - y0)


def mesh_for(cfg: Config) -> Mesh:
    conc = cfg.noc.concentration if cfg.noc.topology == "cmesh" else 1
    return Mesh(tiles=cfg.chip.tiles, concentration=conc)


@lru_cache(maxsize=65536)
def _xy_route(a: tuple[int, int], b: tuple[int, int], width: int) -> tuple[Link, ...]:
    (x, y), (x1, y1) = a, b
    links: list[Link] = []
    while x != x1:
        nx = x + (1 if x1 > x else -1)
        links.append((y * width + x, y * width + nx))
        x = nx
    while y != y1:
        ny = y + (1 if y1 > y else -1)
        links.append((y * width + x, ny * width + x))
        y = ny
    return tuple(links)


def message_cycles(n_bits: int, hops: int, cfg: Config) -> int:
    """Latency of one message of ``n_bits`` over ``hops`` links (0 hops: through one router)."""
    if n_bits <= 0:
        return 0
    return max(1, hops) * cfg.noc.hop_latency_cycles + flits(n_bits, cfg)
