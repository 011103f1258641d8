"""The ADC model contract: how a column (in a transposed read, a row) sum becomes a digital code.

A crossbar read produces, on every active bitline, an integer sum ``s = sum_r chunk_r * level_r``
of input chunks times cell levels. The largest sum one read can produce is

    M = lines x (2**dac.bits - 1) x (2**cell.bits - 1)

where ``lines`` is the number of driven lines of one read (``ou.rows`` for a forward read, the
logical columns of one OU column group for a transposed read). An ADC model covers a range of
width ``W`` with codes ``0 .. max_code`` starting at ``lo``, one code worth ``step``: the code of a
sum is ``rint((s - lo) / step)``, clipped to the codes, and the reconstructed value is
``lo + code x step``. An unclipped conversion errs by at most ``step/2``; an ``exact`` model
converts every sum a read can produce without error (the kernels then skip the conversion).

``lo`` is 0 for every read except the most significant input chunk, which carries the sign of
two's-complement inputs (see ``docs/datapath.md``, "Crossbar model"): its sums lie in
``[-2**(dac.bits-1) x lines x Lmax, (2**(dac.bits-1) - 1) x lines x Lmax]``, a range of the same
width ``M``, so the ADC's range is shifted to start at
``lo = -W x 2**(dac.bits-1) / (2**dac.bits - 1)``.

The models themselves (one file each, selected by ``adc.range_policy``) are in
:mod:`rram_sim.adc`; this module holds what every model shares.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from rram_sim.config import Config


def max_line_sum(lines: int, dac_bits: int, cell_bits: int) -> int:
    """Largest sum one read can put on a bitline: ``lines x (2**dac_bits-1) x (2**cell_bits-1)``."""
    return int(lines) * ((1 << dac_bits) - 1) * ((1 << cell_bits) - 1)


def signed_fraction(dac_bits: int) -> float:
    """Share of a read's range below zero for the signed (most significant) input chunk:
    ``2**(dac_bits-1) / (2**dac_bits - 1)``."""
    return (1 << (dac_bits - 1)) / ((1 << dac_bits) - 1)


@dataclass(frozen=True)
class AdcModel(ABC):
    """One ADC's transfer function for reads of ``lines`` driven lines.

    A model is a subclass that names itself (``name``, the value of ``adc.range_policy`` that
    selects it) and builds its numbers from the chip in :meth:`from_config`. The kernels use only
    the fields below: ``exact`` to skip conversion, ``lo_*``/``step``/``max_code`` for the uniform
    rule of the module docstring, and :meth:`lookup` (built from :meth:`convert`) for small ranges.
    """

    name: ClassVar[str] = ""

    policy: str          # the adc.range_policy that built this model
    exact: bool          # every sum a read can produce converts without error and without clipping
    step: float          # value of one code (1.0 when exact)
    max_code: int        # codes are 0 .. max_code
    lo_unsigned: float   # range start for reads of unsigned input chunks
    lo_signed: float     # range start for the read of the signed (most significant) input chunk
    max_sum: int         # M, the largest possible sum of one read

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: Config, lines: int) -> AdcModel:
        """The model for chip ``cfg`` and reads that drive ``lines`` lines at once."""

    def convert(self, s: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray]:
        """Reference (numpy) conversion: ``(reconstructed values, clipped mask)``."""
        s = np.asarray(s, dtype=np.float64)
        if self.exact:
            return s.copy(), np.zeros(s.shape, dtype=bool)
        lo = self.lo_signed if signed else self.lo_unsigned
        code = np.rint((s - lo) / self.step)
        clipped = (code < 0) | (code > self.max_code)
        code = np.clip(code, 0, self.max_code)
        return lo + code * self.step, clipped

    def lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """Every conversion a read can make, as tables indexed ``[signed, s + max_sum]`` for the
        integer sums ``s`` in ``[-max_sum, max_sum]``: ``(values float64, clipped uint8)``, each
        ``[2, 2 x max_sum + 1]``, computed by :meth:`convert` (so a lookup is bit-identical to a
        conversion)."""
        s = np.arange(-self.max_sum, self.max_sum + 1, dtype=np.float64)
        values = np.empty((2, len(s)), dtype=np.float64)
        clipped = np.empty((2, len(s)), dtype=np.uint8)
        for signed in (0, 1):
            values[signed], c = self.convert(s, bool(signed))
            clipped[signed] = c
        return values, clipped


def uniform_model(cls: type[AdcModel], cfg: Config, max_sum: int, width: float) -> AdcModel:
    """A ``cls`` ADC of ``2**adc.bits`` codes spanning ``width`` (sums above ``lo + width`` clip).

    When ``width`` fits the codes the step is 1 (integer sums land on integer codes, so the signed
    range start is rounded down to an integer); otherwise ``step = width / (2**adc.bits - 1)``.
    """
    codes = (1 << cfg.adc.bits) - 1
    if width <= codes:
        step, max_code = 1.0, int(math.floor(width))
    else:
        step, max_code = width / codes, codes
    lo_signed = -signed_fraction(cfg.dac.bits) * width
    if step == 1.0:
        lo_signed = float(math.floor(lo_signed))  # keep integer sums on integer codes
    exact = step == 1.0 and max_code >= max_sum
    return cls(cls.name, exact, step, max_code, 0.0, lo_signed, max_sum)
