"""``cmesh``: a concentrated mesh (ISAAC's choice), ``noc.concentration`` neighbouring tiles per
router, the routers on the XY-routed grid of :mod:`.mesh`. Two tiles on one router exchange data
through it without a link."""

from __future__ import annotations

from dataclasses import dataclass

from rram_sim.noc.mesh import Mesh


@dataclass(frozen=True)
class ConcentratedMesh(Mesh):
    """A mesh whose routers each serve ``concentration`` tiles."""

    name = "cmesh"
    shares_routers = True
