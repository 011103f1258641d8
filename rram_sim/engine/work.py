"""The work of one group of a stage: which hardware it holds, in order, and for how long.
Pure: durations from :mod:`rram_sim.engine.timing`, the model (:mod:`rram_sim.engine.model`)
only spends them.

A crossbar layer's group loads its input vectors from the tile's eDRAM, reads its crossbars
(gather, DAC, array, ADC, shift-add: one hold of the layer's crossbars) and moves the partial sums
over the tile bus; its backward adds the weight gradient (on the crossbars or on digital units,
``training.gradient_unit``), and skips the transposed read when the layer is fed by the input.
Pooling, activation and residual adds run on the tile's digital units; a flatten is a change of
view and does no work.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from rram_sim.config import Config
from rram_sim.engine import timing as T
from rram_sim.engine.plan import Stage


@dataclass(frozen=True)
class Hold:
    """One piece of a group's work: ``cycles`` on unit ``(unit, key)``, counted as ``busy``."""

    unit: str | None      # "edram" | "xbar" | "bus" | "digital"; None: a private delay
    key: object           # which one: a tile (its home) or a layer (its name)
    cycles: int
    busy: str             # the BUSY_KINDS entry its cycles count as


def group_holds(st: Stage, g: int, backward: bool, fed_by_input: bool,
                cfg: Config) -> list[Hold]:
    """The holds of group ``g`` of stage ``st`` (its backward when ``backward``), in order;
    ``fed_by_input``: the stage's first input is the network's input."""
    if st.op in ("conv", "linear"):
        pos = st.group_positions(g) if not backward else \
            math.ceil(st.fwd_positions * st.group_rows(g) / st.rows)
        n = math.ceil(pos / st.copies)
        step = (T.transposed_step if backward else T.forward_step)(st.geom, cfg)
        holds = []
        if not (backward and fed_by_input):
            holds += [Hold("edram", st.home, n * step.load, "edram"),
                      Hold("xbar", st.name, n * (step.gather + step.crossbar), "crossbar"),
                      Hold("bus", st.home, n * (step.bus + step.reduce), "bus")]
        if backward:
            grad = T.gradient_cycles(st.geom, n, len(st.tiles), cfg)
            on_xbar = cfg.training.gradient_unit == "crossbar"
            holds.append(Hold("xbar" if on_xbar else None, st.name, grad,
                              "crossbar" if on_xbar else "digital"))
        return holds
    if st.op in ("maxpool", "avgpool"):
        ops = st.group_values(g) * (1 if backward else st.pool_k)
        units = cfg.tile.maxpool_units
    elif st.op in ("relu", "softmax"):
        ops, units = st.group_values(g), cfg.tile.sigmoid_units
    elif st.op == "add":
        ops, units = st.group_values(g), cfg.tile.shift_add_units
    else:
        return []      # input: no work on chip; flatten: a change of view
    return [Hold("digital", st.home, T.digital_cycles(ops, units, cfg), "digital")]


def shared_units(holds_of_passes: Iterable[tuple[int, list[list[Hold]]]]) -> set:
    """Units more than one stage of a reload segment really holds (for positive time), as
    ``(unit, key, segment)``: only these can be contended. ``holds_of_passes``: per stage and
    pass, its segment and the holds of each of its groups. Segments never run at the same time,
    so their users are counted apart."""
    users: dict[tuple, int] = {}
    for segment, groups in holds_of_passes:
        keys = {(h.unit, h.key, segment) for holds in groups for h in holds
                if h.unit is not None and h.cycles > 0}
        for k in keys:
            users[k] = users.get(k, 0) + 1
    return {k for k, n in users.items() if n > 1}


def group_ops(holds: list[Hold], segment: int, shared: set) -> list:
    """The timed work of one group as the model replays it: plain delays (ints; back-to-back
    holds of unshared units merged into one) and ``((unit, key), cycles)`` holds of a shared
    unit."""
    ops: list = []
    pending = 0
    for h in holds:
        if h.cycles <= 0:
            continue
        if h.unit is None or (h.unit, h.key, segment) not in shared:
            pending += h.cycles
            continue
        if pending:
            ops.append(pending)
            pending = 0
        ops.append(((h.unit, h.key), h.cycles))
    if pending:
        ops.append(pending)
    return ops
