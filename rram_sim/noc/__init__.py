"""The on-chip network: router topologies (contract in :mod:`rram_sim.noc.base`).

One topology per file, registered here under the name ``noc.topology`` selects:

- ``mesh`` (:mod:`~rram_sim.noc.mesh`): a router per tile on a near-square grid, XY routes;
- ``cmesh`` (:mod:`~rram_sim.noc.cmesh`): the same grid, ``noc.concentration`` tiles per
  router (ISAAC's concentrated mesh);
- ``ring`` (:mod:`~rram_sim.noc.ring`): a router per tile on a bidirectional ring,
  shortest-way routes.

The engine (:mod:`rram_sim.engine.messages`) asks the topology for the links of each message and
for the chip's link total; the cost model (:mod:`rram_sim.costs`) for its routers and their ports.
A new topology is one file with a :class:`Topology` subclass (``name``, ``route``, ``n_links``)
plus its line in ``BUILTIN_TOPOLOGIES`` below (or one :func:`register_topology` call from user
code). The package sits outside the engine and imports neither SimPy nor the chip config,
because the config validates ``noc.topology`` against its registry.
"""

from __future__ import annotations

from rram_sim.noc.base import Link, Topology
from rram_sim.noc.cmesh import ConcentratedMesh
from rram_sim.noc.mesh import Mesh
from rram_sim.noc.registry import (
    CONFIG_KEY,
    TOPOLOGIES,
    register_topology,
    topology_class,
    topology_for,
    topology_names,
)
from rram_sim.noc.ring import Ring

# Registration order is the order error messages and docs/config.md list the names in.
BUILTIN_TOPOLOGIES = (Mesh, ConcentratedMesh, Ring)
for _topology in BUILTIN_TOPOLOGIES:
    register_topology(_topology)

__all__ = ["BUILTIN_TOPOLOGIES", "CONFIG_KEY", "TOPOLOGIES", "ConcentratedMesh", "Link", "Mesh",
           "Ring", "Topology", "register_topology", "topology_class", "topology_for",
           "topology_names"]
