"""The cost model: energy, leakage, area and latency of every hardware component, with sources.

- :mod:`~rram_sim.costs.components`: the component names, categories and the :class:`Component`
  record every library fills;
- :mod:`~rram_sim.costs.libraries`: the built-in libraries ``isaac`` and ``mnsim``, chosen by
  ``costs.library`` in the chip config, with ``costs.overrides`` replacing any component's
  figures (:mod:`~rram_sim.costs.model`);
- :mod:`~rram_sim.costs.adc_model`: ADC energy and area against resolution and sample rate;
- :mod:`~rram_sim.costs.model`: dynamic and static energy of counts and time, the roll-up.

docs/costs.md lists every constant of both libraries with its source.
"""

from __future__ import annotations

from rram_sim.costs.components import CATEGORIES, COMPONENT_NAMES, Component
from rram_sim.costs.libraries.isaac import INDEX_BITS, gradient_mac_pj
from rram_sim.costs.model import (
    ALTERNATIVE_COUNTS,
    Rollup,
    RollupRow,
    component_library,
    dynamic_energy_pj,
    energy_by_category,
    instances,
    leakage_energy_pj,
    rollup,
    uncharged_count_fields,
)

__all__ = ["ALTERNATIVE_COUNTS", "CATEGORIES", "COMPONENT_NAMES", "Component", "INDEX_BITS",
           "Rollup", "RollupRow", "component_library", "dynamic_energy_pj", "energy_by_category",
           "gradient_mac_pj", "instances", "leakage_energy_pj", "rollup", "uncharged_count_fields"]
