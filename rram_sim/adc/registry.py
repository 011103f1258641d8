"""The ADC model registry: ``adc.range_policy`` names the model that converts every read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rram_sim.adc.base import AdcModel
from rram_sim.class_registry import ClassRegistry

if TYPE_CHECKING:
    from rram_sim.config import Config

CONFIG_KEY = "adc.range_policy"

REGISTRY = ClassRegistry("ADC model", AdcModel, CONFIG_KEY)
# name -> model class, in registration order. The chip config validates adc.range_policy against
# this dict (rram_sim.config.ADC_RANGE_POLICIES is the same object), so a registered model is
# accepted by configs and YAML files at once.
ADC_MODELS: dict[str, type[AdcModel]] = REGISTRY.classes
register_adc_model = REGISTRY.register
adc_model_names = REGISTRY.names
adc_model_class = REGISTRY.get


def adc_model(cfg: Config, lines: int) -> AdcModel:
    """The ADC of ``cfg`` (``adc.range_policy``) for reads that drive ``lines`` lines at once."""
    return adc_model_class(cfg.adc.range_policy).from_config(cfg, lines)
