"""``ring``: one router per tile, the routers on a bidirectional ring, shortest-way routing.

Router ``r`` links to ``r + 1`` and ``r - 1`` (mod ``R``). A message goes the shorter way round;
when both ways are equally long (``R`` even, opposite routers) it goes up (increasing router
numbers), so the path is unique. Hops are ``min(d, R - d)`` for ``d = (dst - src) mod R``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rram_sim.noc.base import Link, Topology


@dataclass(frozen=True)
class Ring(Topology):
    """Routers on a bidirectional ring."""

    name = "ring"
    neighbour_ports = 2          # up and down the ring

    def route(self, src_tile: int, dst_tile: int) -> tuple[Link, ...]:
        """The links of the shorter way round (up on a tie)."""
        n = self.routers
        a, b = self.router_of(src_tile), self.router_of(dst_tile)
        up = (b - a) % n
        step = 1 if up <= n - up else -1
        links: list[Link] = []
        while a != b:
            nxt = (a + step) % n
            links.append((a, nxt))
            a = nxt
        return tuple(links)

    @property
    def n_links(self) -> int:
        """Two directions per ring segment: ``2 R`` (two routers share one pair of links)."""
        n = self.routers
        return 2 * n if n > 2 else 2 * (n - 1)
