"""What a simulated run returns: one :class:`StageRecord` per stage and pass, one
:class:`SimResult` per run. Plain data, filled by the model (:mod:`rram_sim.engine.model`) and the
event counting (:mod:`rram_sim.engine.counting`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rram_sim.counts import Counts

BUSY_KINDS = ("crossbar", "adc", "index", "edram", "bus", "digital", "noc", "offchip", "write")


@dataclass
class StageRecord:
    """What one stage did in one pass: when, how busy, and the events only the DES knows
    (NoC flits and hops, off-chip bytes, digital ops)."""

    name: str
    op: str
    pass_name: str                  # "forward" | "backward" | "update" | "reload"
    tiles: tuple[int, ...]
    start_cycles: int = -1
    end_cycles: int = 0
    busy_cycles: dict[str, int] = field(default_factory=lambda: {k: 0 for k in BUSY_KINDS})
    counts: Counts = field(default_factory=Counts)
    first_layer: bool = False       # backward of a layer fed by the input: no transposed read

    def mark(self, start: int, end: int) -> None:
        if self.start_cycles < 0 or start < self.start_cycles:
            self.start_cycles = start
        self.end_cycles = max(self.end_cycles, end)


@dataclass
class SimResult:
    """The outcome of one simulated run, in cycles."""

    mode: str                       # "inference" | "training"
    n_images: int
    makespan_cycles: int
    image_done_cycles: list[int]
    drain_cycles: int               # training: end of the last backward stage (0 for inference)
    records: list[StageRecord]
    link_busy_cycles: int
    n_links: int
    events: int
    pulses_per_layer: dict[str, int] = field(default_factory=dict)
    segments: int = 1               # reload segments the network ran in
    reloads: int = 0                # segment programmings in this run
    reload_cycles: int = 0          # time spent programming segments
    reload_pulses_per_layer: dict[str, int] = field(default_factory=dict)
    reloads_per_layer: dict[str, int] = field(default_factory=dict)
    components: list[ComponentBusy] = field(default_factory=list)


@dataclass
class ComponentBusy:
    """One component instance (a tile's eDRAM or bus, a layer copy's crossbars or ADC bank, a NoC
    link, ...): the cycles it was held and its busy intervals ``(start, end)``, adjacent ones
    merged (at most :data:`MAX_INTERVALS`: beyond that the closest neighbours are merged)."""

    kind: str                       # a unit kind of :mod:`.timing` (``PHASE_UNITS``), "link",
                                    # "offchip" or "write"
    key: str                        # which one, e.g. "tile 3", "conv1 copy 0", "link 0:2->3"
    units: int                      # identical parallel units it stands for (crossbars of a
                                    # layer copy; 1 otherwise): the utilization denominator
    busy_cycles: int
    intervals: list[tuple[int, int]]


MAX_INTERVALS = 256
