"""The work of one vector of a stage: which components it holds, in order, for how long. Pure:
durations from :mod:`rram_sim.engine.timing`, the model (:mod:`rram_sim.engine.model`) only
reserves them.

A crossbar layer's vector runs the phases of :func:`.timing.forward_phases` (eDRAM read, bus,
index gather, crossbar reads, ADC conversions, shift-and-add, partial sums over the bus, tile
reduction, eDRAM write). Its backward vector runs the transposed phases (none for a layer fed by
the input: no error goes further back) beside the weight gradient. The ``phases`` are bound to
components (:class:`Hold`): the tile's eDRAM, bus, shift-and-add, activation and pooling units
belong to the stage's home tile and are shared by every stage on that tile; the crossbars, ADC
banks, shift-and-add units, index units and gradient unit belong to one copy of the layer (a
layer with ``r`` copies sends forward vector ``v`` to copy ``v mod r``, and each backward vector
to the copy with the fewest backward steps so far), and forward and backward of one layer share
them.

A backward crossbar stage has one vector per *input* position of its layer; the layer's output
positions (one transposed MVM each) are spread evenly over them (:func:`steps_per_vector`), so a
vector does 0, 1 or more transposed MVMs (a strided layer: fewer MVMs than input positions).
"""

from __future__ import annotations

from dataclasses import dataclass

from rram_sim.config import Config
from rram_sim.engine import timing as T
from rram_sim.engine.plan import Stage


@dataclass(frozen=True)
class Hold:
    """One phase of a vector bound to its component ``(unit, key)``: ``key`` is a tile (its
    home) for tile units, ``(layer, copy)`` for a layer's own units."""

    unit: str
    key: object
    cycles: int
    lead: int
    tail: int
    work: int
    busy: str             # the BUSY_KINDS entry its work counts as

    @property
    def component(self) -> tuple:
        return (self.unit, self.key)


def step_phases(st: Stage, backward: bool, fed_by_input: bool, cfg: Config) -> list[T.Phase]:
    """The phases of one step of ``st`` (one MVM of a crossbar layer, one vector of a digital
    stage); ``fed_by_input``: the stage's first input is the network's input."""
    if st.op in ("conv", "linear"):
        if not backward:
            return T.forward_phases(st.geom, cfg)
        return T.backward_phases(st.geom, len(st.tiles), fed_by_input, cfg)
    return T.digital_phase(st.op, st.values // max(1, st.positions), st.pool_k, backward, cfg)


def steps_per_vector(st: Stage, backward: bool) -> list[int] | None:
    """Steps each vector of ``st`` does, when not one each (None): a backward crossbar stage
    spreads its layer's output positions evenly over its vectors (the layer's input positions)."""
    if not backward or st.op not in ("conv", "linear") or st.fwd_positions == st.groups:
        return None
    f, p = st.fwd_positions, st.groups
    return [(i + 1) * f // p - i * f // p for i in range(p)]


def bind(phases: list[T.Phase], st: Stage, copy: int, steps: int = 1) -> list[Hold]:
    """``phases`` of ``steps`` steps of ``st`` bound to their components (copy ``copy`` of the
    layer's own units)."""
    out = []
    for p in phases:
        key = (st.name, copy) if p.unit in T.LAYER_UNITS else st.home
        out.append(Hold(p.unit, key, p.cycles * steps, p.lead, p.tail, p.work * steps,
                        T.BUSY_OF_UNIT[p.unit]))
    return out
