"""``full_scale``: ``2**adc.bits`` codes spanning the largest sum a read can produce."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rram_sim.adc.base import AdcModel, max_line_sum, uniform_model

if TYPE_CHECKING:
    from rram_sim.config import Config


class FullScaleAdc(AdcModel):
    """Range width ``W = M``: exact when ``M < 2**adc.bits``, otherwise ``step = M / (2**bits-1)``;
    never clips."""

    name = "full_scale"

    @classmethod
    def from_config(cls, cfg: Config, lines: int) -> AdcModel:
        """The full-scale model for reads of ``lines`` lines."""
        m = max_line_sum(lines, cfg.dac.bits, cfg.cell.bits)
        return uniform_model(cls, cfg, m, float(m))
