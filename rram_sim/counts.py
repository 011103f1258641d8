"""Event counts: what every hardware block did during a run.

The functional kernels and the discrete-event engine both produce a :class:`Counts`; energy is
then ``counts x energy per event`` (``rram_sim.costs``) plus leakage x time. There is one accounting
path, so a functional run and a timed run of the same layer and inputs give the same dynamic energy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass
class Counts:
    """Event counts of one run (a layer pass, a whole network pass, ...). All fields are integers.

    Units are in the names: ``*_bytes`` are bytes moved; everything else is a number of events.
    """

    crossbar_activations: int = 0   # crossbar reads: one input chunk applied to one crossbar
    ou_activations: int = 0         # operation-unit reads (= crossbar reads when OU = crossbar)
    dac_drives: int = 0             # wordline DAC conversions (one per active row per read)
    sample_holds: int = 0           # bitline sample-and-hold captures (one per active column/read)
    adc_conversions: int = 0        # ADC conversions (one per active physical column per read)
    adc_clipped: int = 0            # conversions whose column sum exceeded the ADC range
    shift_adds: int = 0             # shift-and-add operations combining ADC codes
    digital_adds: int = 0           # row-block partial-sum additions and bias/offset corrections
    gradient_macs: int = 0          # weight-gradient multiply-accumulates on the digital unit
    index_lookups: int = 0          # index-table reads of the indexed datapath (rows + columns)
    input_register_bytes: int = 0   # bytes written into PE input registers
    output_register_bytes: int = 0  # bytes written into PE output registers
    buffer_read_bytes: int = 0      # eDRAM bytes read
    buffer_write_bytes: int = 0     # eDRAM bytes written
    noc_flits: int = 0              # flits injected into the on-chip network
    noc_flit_hops: int = 0          # flit x router hops
    offchip_bytes: int = 0          # bytes over chip-to-chip links
    activation_ops: int = 0         # activation-function evaluations
    pool_ops: int = 0               # pooling-window comparisons (pool_k inputs per output)
    pool_windows: int = 0           # pooling windows: pooled outputs (backward: routed errors)
    cell_write_pulses: int = 0      # write pulses applied to cells (weight updates)
    cell_verify_reads: int = 0      # verify reads after write pulses

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                         for f in dataclasses.fields(self)})

    def __iadd__(self, other: Counts) -> Counts:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def scaled(self, k: int) -> Counts:
        """The counts of ``k`` identical repetitions."""
        return Counts(**{f.name: getattr(self, f.name) * k for f in dataclasses.fields(self)})

    def to_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, int]) -> Counts:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown count fields: {', '.join(sorted(unknown))}")
        return cls(**{k: int(v) for k, v in d.items()})


COUNT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Counts))
