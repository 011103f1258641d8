"""The NoC topology registry: ``noc.topology`` names the router network of every chip."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rram_sim.class_registry import ClassRegistry
from rram_sim.noc.base import Topology

if TYPE_CHECKING:
    from rram_sim.config import Config

CONFIG_KEY = "noc.topology"

REGISTRY = ClassRegistry("NoC topology", Topology, CONFIG_KEY)
# name -> topology class, in registration order. The chip config validates noc.topology against
# this dict (rram_sim.config.NOC_TOPOLOGIES is the same object), so a registered topology is
# accepted by configs and YAML files at once.
TOPOLOGIES: dict[str, type[Topology]] = REGISTRY.classes
register_topology = REGISTRY.register
topology_names = REGISTRY.names
topology_class = REGISTRY.get


def topology_for(cfg: Config, tiles: int | None = None) -> Topology:
    """The network of ``cfg`` (``noc.topology``) over ``tiles`` tiles (default ``chip.tiles``)."""
    return topology_class(cfg.noc.topology).from_config(cfg, tiles)
