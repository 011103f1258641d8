"""Built-in cost libraries, by the name ``costs.library`` gives (see docs/costs.md).

A library is a function ``cfg -> {component name: Component}`` that prices every name of
:data:`rram_sim.costs.components.COMPONENT_NAMES` for the chip ``cfg`` describes, each constant
with its source:

- ``isaac`` (:mod:`~rram_sim.costs.libraries.isaac`): ISAAC-CE, ISCA 2016 Table 6, 32 nm;
- ``mnsim`` (:mod:`~rram_sim.costs.libraries.mnsim`): MNSIM 2.0's default constants (130 nm
  devices, 90 nm SRAM buffers, 45/65 nm digital units), cited to its source lines.
"""

from __future__ import annotations

from collections.abc import Callable

from rram_sim.config import COST_LIBRARIES, Config
from rram_sim.costs.components import Component
from rram_sim.costs.libraries import isaac, mnsim

LIBRARIES: dict[str, Callable[[Config], dict[str, Component]]] = {
    "isaac": isaac.build, "mnsim": mnsim.build}
assert tuple(LIBRARIES) == COST_LIBRARIES, "config.COST_LIBRARIES must list the libraries here"
