"""The ADC model registry: ``adc.range_policy`` names the model that converts every read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rram_sim.adc.base import AdcModel
from rram_sim.errors import ConfigError

if TYPE_CHECKING:
    from rram_sim.config import Config

CONFIG_KEY = "adc.range_policy"

# name -> model class, in registration order. The chip config validates adc.range_policy against
# this dict (rram_sim.config.ADC_RANGE_POLICIES is the same object), so a registered model is
# accepted by configs and YAML files at once.
ADC_MODELS: dict[str, type[AdcModel]] = {}


def register_adc_model(model: type[AdcModel]) -> type[AdcModel]:
    """Add ``model`` (an :class:`AdcModel` subclass) under ``model.name``; returns it."""
    if not (isinstance(model, type) and issubclass(model, AdcModel)):
        raise ConfigError(f"ADC model {model!r}: must be a subclass of AdcModel")
    if not model.name or model.name in ADC_MODELS:
        raise ConfigError(f"ADC model name {model.name!r}: must be a new, non-empty name "
                          f"(registered: {', '.join(ADC_MODELS)})")
    ADC_MODELS[model.name] = model
    return model


def adc_model_names() -> list[str]:
    """Names accepted by ``adc.range_policy``, in registration order."""
    return list(ADC_MODELS)


def adc_model_class(name: str) -> type[AdcModel]:
    """The model registered as ``name``; a :class:`ConfigError` naming the key otherwise."""
    if not isinstance(name, str) or name not in ADC_MODELS:
        raise ConfigError(f"{CONFIG_KEY}={name!r}: must be one of {', '.join(ADC_MODELS)}")
    return ADC_MODELS[name]


def adc_model(cfg: Config, lines: int) -> AdcModel:
    """The ADC of ``cfg`` (``adc.range_policy``) for reads that drive ``lines`` lines at once."""
    return adc_model_class(cfg.adc.range_policy).from_config(cfg, lines)
