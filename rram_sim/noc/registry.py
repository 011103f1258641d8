"""The NoC topology registry: ``noc.topology`` names the router network of every chip."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rram_sim.errors import ConfigError
from rram_sim.noc.base import Topology

if TYPE_CHECKING:
    from rram_sim.config import Config

CONFIG_KEY = "noc.topology"

# name -> topology class, in registration order. The chip config validates noc.topology against
# this dict (rram_sim.config.NOC_TOPOLOGIES is the same object), so a registered topology is
# accepted by configs and YAML files at once.
TOPOLOGIES: dict[str, type[Topology]] = {}


def register_topology(topology: type[Topology]) -> type[Topology]:
    """Add ``topology`` (a :class:`Topology` subclass) under ``topology.name``; returns it."""
    if not (isinstance(topology, type) and issubclass(topology, Topology)):
        raise ConfigError(f"NoC topology {topology!r}: must be a subclass of Topology")
    if not topology.name or topology.name in TOPOLOGIES:
        raise ConfigError(f"NoC topology name {topology.name!r}: must be a new, non-empty name "
                          f"(registered: {', '.join(TOPOLOGIES)})")
    TOPOLOGIES[topology.name] = topology
    return topology


def topology_names() -> list[str]:
    """Names accepted by ``noc.topology``, in registration order."""
    return list(TOPOLOGIES)


def topology_class(name: str) -> type[Topology]:
    """The topology registered as ``name``; a :class:`ConfigError` naming the key otherwise."""
    if name not in TOPOLOGIES:
        raise ConfigError(f"{CONFIG_KEY}={name!r}: must be one of {', '.join(TOPOLOGIES)}")
    return TOPOLOGIES[name]


def topology_for(cfg: Config, tiles: int | None = None) -> Topology:
    """The network of ``cfg`` (``noc.topology``) over ``tiles`` tiles (default ``chip.tiles``)."""
    return topology_class(cfg.noc.topology).from_config(cfg, tiles)
