"""ADC models: how a read's line sums become digital codes (contract in :mod:`rram_sim.adc.base`).

One model per file, registered here under the name ``adc.range_policy`` selects:

- ``lossless`` (:mod:`~rram_sim.adc.lossless`): every sum converted exactly;
- ``full_scale`` (:mod:`~rram_sim.adc.full_scale`): ``2**adc.bits`` codes over the largest sum;
- ``calibrated`` (:mod:`~rram_sim.adc.calibrated`): the codes over ``adc.calibration_fraction``
  of it; larger sums clip.

A new model is one file with an :class:`AdcModel` subclass (``name`` and ``from_config``) plus
its line in ``BUILTIN_MODELS`` below (or one :func:`register_adc_model` call from user code).
"""

from __future__ import annotations

from rram_sim.adc.base import AdcModel, max_line_sum, signed_fraction, uniform_model
from rram_sim.adc.calibrated import CalibratedAdc
from rram_sim.adc.full_scale import FullScaleAdc
from rram_sim.adc.lossless import LosslessAdc
from rram_sim.adc.registry import (
    ADC_MODELS,
    CONFIG_KEY,
    adc_model,
    adc_model_class,
    adc_model_names,
    register_adc_model,
)

# Registration order is the order error messages and docs/config.md list the names in.
BUILTIN_MODELS = (LosslessAdc, FullScaleAdc, CalibratedAdc)
for _model in BUILTIN_MODELS:
    register_adc_model(_model)

__all__ = ["ADC_MODELS", "BUILTIN_MODELS", "CONFIG_KEY", "AdcModel", "CalibratedAdc",
           "FullScaleAdc", "LosslessAdc", "adc_model", "adc_model_class", "adc_model_names",
           "max_line_sum", "register_adc_model", "signed_fraction", "uniform_model"]
