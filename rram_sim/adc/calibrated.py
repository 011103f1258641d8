"""``calibrated``: ``2**adc.bits`` codes spanning a fraction of the largest possible sum."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rram_sim.adc.base import AdcModel, max_line_sum, uniform_model

if TYPE_CHECKING:
    from rram_sim.config import Config


class CalibratedAdc(AdcModel):
    """Range width ``W = adc.calibration_fraction x M``: a finer step than ``full_scale``, and sums
    above ``lo + W`` clip (each clipped conversion is counted in ``Counts.adc_clipped``)."""

    name = "calibrated"

    @classmethod
    def from_config(cls, cfg: Config, lines: int) -> AdcModel:
        """The calibrated model for reads of ``lines`` lines."""
        m = max_line_sum(lines, cfg.dac.bits, cfg.cell.bits)
        return uniform_model(cls, cfg, m, cfg.adc.calibration_fraction * m)
