"""``mesh``: a 2-D mesh with dimension-ordered (XY) routing, one router per tile.

The ``R = routers`` routers sit on a near-square grid, ``W = ceil(sqrt(R))`` columns wide, router
``r`` at ``(r mod W, r div W)``. A message goes from its source router to its destination router
first along x, then along y, so the path is unique and deadlock-free; its hops are the Manhattan
distance between the routers. The concentrated mesh (:mod:`.cmesh`) is this grid over shared
routers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from rram_sim.noc.base import Link, Topology


@dataclass(frozen=True)
class Mesh(Topology):
    """Router grid of one chip, XY routes."""

    name = "mesh"
    neighbour_ports = 4          # north, south, east, west

    @property
    def width(self) -> int:
        return max(1, math.ceil(math.sqrt(self.routers)))

    @property
    def height(self) -> int:
        return math.ceil(self.routers / self.width)

    def coord(self, router: int) -> tuple[int, int]:
        return router % self.width, router // self.width

    def route(self, src_tile: int, dst_tile: int) -> tuple[Link, ...]:
        """The directed links an XY-routed message crosses."""
        return _xy_route(self.coord(self.router_of(src_tile)),
                         self.coord(self.router_of(dst_tile)), self.width)

    def hops(self, src_tile: int, dst_tile: int) -> int:
        """Links traversed: Manhattan distance between the routers."""
        (x0, y0), (x1, y1) = (self.coord(self.router_of(src_tile)),
                              self.coord(self.router_of(dst_tile)))
        return abs(x1 - x0) + abs(y1 - y0)

    @property
    def n_links(self) -> int:
        """Both directions of every link between grid neighbours of the full W x H grid."""
        w, h = self.width, self.height
        return 2 * ((w - 1) * h + (h - 1) * w)


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
