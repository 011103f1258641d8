"""ADC energy per conversion and area against resolution and sample rate, from a survey fit.

The law is the one the Accelergy ADC plug-in fits to B. Murmann's "ADC Performance Survey
1997-2024" (github.com/Accelergy-Project/accelergy-adc-plug-in, ``adc_data/model.yaml`` and
``model.py``, commit 2136e9e; T. Andrulis et al., "Modeling analog-digital-converter energy and
area for compute-in-memory accelerator design", arXiv 2404.06553):

- the best Schreier figure of merit the survey reaches at sample rate ``f`` (Hz) is
  ``FOM_S(f) = min(180.14, 302.74 - 6.4608 ln f)`` dB (flat below about 175 MHz, then falling:
  faster converters are less efficient);
- a resolution of ``b`` bits needs ``SNDR = 6.0206 b + 1.761`` dB;
- with ``FOM_S = SNDR + 10 log10(f / 2 / P)`` the energy per conversion is
  ``E = P / f = 1 / (2 * 10**((FOM_S - SNDR) / 10))`` J (so ~4x per bit: thermal-noise limited);
- area: ``ln(A / um^2) = 0.06666 ln f + 0.79732 ln(node / nm) - 0.13437 b + 0.42366 ln(E / pJ)
  + 4.8506``.

A library anchors the law on one published converter: :func:`energy_ratio` and
:func:`area_ratio` give the factor from the anchor's (bits, rate) to the configured one, so the
anchor point itself keeps its published figures exactly (ISAAC's 8-bit, 1.28 GS/s ADC:
1.5625 pJ, 1200 um^2). Technology cancels in the ratio (both points at the chip's node).
"""

from __future__ import annotations

import math

FOMS_MAX_DB = 180.14159078904734          # model.yaml: FOMS_hf max value
FOMS_INTERCEPT_DB = 302.7387019052544     # model.yaml: FOMS_hf intercept
FOMS_PER_LN_HZ = -6.460790934271676       # model.yaml: FOMS_hf frequency coefficient
AREA_PER_LN_HZ = 0.06665851895885958      # model.yaml: area, frequency (ln Hz)
AREA_PER_BIT = -0.13437278622014803       # model.yaml: area, number of bits
AREA_PER_LN_PJ = 0.4236571760437834       # model.yaml: area, energy (ln pJ/op)
SOURCE = ("Schreier-FOM fit to the Murmann ADC survey (Accelergy ADC plug-in, adc_data/model.yaml; "
          "Andrulis et al., arXiv 2404.06553)")


def energy_pj(bits: int, rate_gsps: float) -> float:
    """Energy of one conversion (pJ) the survey fit gives at ``bits`` and ``rate_gsps``."""
    f_hz = rate_gsps * 1e9
    foms = min(FOMS_MAX_DB, FOMS_INTERCEPT_DB + FOMS_PER_LN_HZ * math.log(f_hz))
    sndr = bits * 20 * math.log10(2) + 10 * math.log10(1.5)
    return 1e12 / (2 * 10 ** ((foms - sndr) / 10))


def _ln_area_rel(bits: int, rate_gsps: float) -> float:
    """ln(area) up to the technology and intercept terms (they cancel in a ratio)."""
    return (AREA_PER_LN_HZ * math.log(rate_gsps * 1e9) + AREA_PER_BIT * bits
            + AREA_PER_LN_PJ * math.log(energy_pj(bits, rate_gsps)))


def energy_ratio(bits: int, rate_gsps: float, ref_bits: int, ref_rate_gsps: float) -> float:
    """Energy per conversion at (bits, rate) over that at the anchor (ref_bits, ref_rate)."""
    return energy_pj(bits, rate_gsps) / energy_pj(ref_bits, ref_rate_gsps)


def area_ratio(bits: int, rate_gsps: float, ref_bits: int, ref_rate_gsps: float) -> float:
    """Area at (bits, rate) over that at the anchor (ref_bits, ref_rate)."""
    return math.exp(_ln_area_rel(bits, rate_gsps) - _ln_area_rel(ref_bits, ref_rate_gsps))
