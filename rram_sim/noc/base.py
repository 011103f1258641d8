"""The contract of a NoC topology: the routers of one chip, the router each tile attaches to, and
the directed links a message crosses from one tile to another.

A topology is a frozen dataclass of the chip's size (``tiles``) and of how many neighbouring tiles
share a router (``concentration``: ``tile // concentration`` is a tile's router). A subclass names
itself (``name``, the value of ``noc.topology`` that selects it), says whether it lets tiles share
a router (``shares_routers``; otherwise ``noc.concentration`` must be 1) and how many ports a
router has towards other routers (``neighbour_ports``, for the router's cost), and implements
:meth:`Topology.route` (a deterministic path, so the model's link reservations are reproducible)
and :attr:`Topology.n_links`. The engine holds each directed link as a capacity-1 resource for a
whole message; the cost model counts :attr:`Topology.routers` routers of
:attr:`Topology.router_ports` ports. Pure: no SimPy.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from rram_sim.config import Config

Link = tuple[int, int]  # (from router, to router): one direction of a physical link


@dataclass(frozen=True)
class Topology(ABC):
    """The router network of one chip of ``tiles`` tiles, ``concentration`` tiles per router."""

    name: ClassVar[str] = ""
    shares_routers: ClassVar[bool] = False  # whether noc.concentration tiles may share a router
    neighbour_ports: ClassVar[int] = 0      # router ports towards other routers

    tiles: int
    concentration: int = 1

    @classmethod
    def from_config(cls, cfg: Config, tiles: int | None = None) -> Topology:
        """The network of ``tiles`` tiles (default ``chip.tiles``) under ``cfg``'s ``noc``."""
        conc = cfg.noc.concentration if cls.shares_routers else 1
        return cls(tiles=cfg.chip.tiles if tiles is None else tiles, concentration=conc)

    @property
    def routers(self) -> int:
        """Routers of the chip: one per ``concentration`` tiles."""
        return math.ceil(self.tiles / self.concentration)

    @property
    def router_ports(self) -> int:
        """Ports of one router: its local tiles plus its neighbours."""
        return self.concentration + self.neighbour_ports

    def router_of(self, tile: int) -> int:
        """The router tile ``tile`` (numbered within its chip) attaches to."""
        return tile // self.concentration

    @abstractmethod
    def route(self, src_tile: int, dst_tile: int) -> tuple[Link, ...]:
        """The directed links, in order, a message from ``src_tile`` to ``dst_tile`` crosses
        (empty when both tiles share a router)."""

    def hops(self, src_tile: int, dst_tile: int) -> int:
        """Links a message from ``src_tile`` to ``dst_tile`` crosses."""
        return len(self.route(src_tile, dst_tile))

    @property
    @abstractmethod
    def n_links(self) -> int:
        """Directed links of one chip (the denominator of link utilization)."""
