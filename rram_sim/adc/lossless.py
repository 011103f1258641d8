"""``lossless``: an ideal, unlimited-resolution ADC that converts every sum exactly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rram_sim.adc.base import AdcModel, max_line_sum, signed_fraction

if TYPE_CHECKING:
    from rram_sim.config import Config


class LosslessAdc(AdcModel):
    """Every sum converted exactly, whatever ``adc.bits`` says (step 1, no clipping)."""

    name = "lossless"

    @classmethod
    def from_config(cls, cfg: Config, lines: int) -> AdcModel:
        """The exact model for reads of ``lines`` lines (``adc.bits`` is not used)."""
        m = max_line_sum(lines, cfg.dac.bits, cfg.cell.bits)
        return cls(cls.name, True, 1.0, m, 0.0, -signed_fraction(cfg.dac.bits) * m, m)
