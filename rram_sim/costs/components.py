"""The component names, categories and record every cost library fills (defined in
:mod:`rram_sim.cost_components`, which the configuration reads without importing the cost model)."""

from __future__ import annotations

from rram_sim.cost_components import CATEGORIES, COMPONENT_NAMES, COMPONENT_TABLE, Component

__all__ = ["CATEGORIES", "COMPONENT_NAMES", "COMPONENT_TABLE", "Component"]
