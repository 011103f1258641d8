"""The dependencies between stages: which producer groups each consumer group waits for, forward
and, in a training run, backward. Pure: the model (:mod:`rram_sim.engine.model`) turns each edge
into a buffer between two processes.

Forward, a vector of a stage needs the producer positions its window covers
(:func:`rram_sim.engine.plan.needs_of`). Backward, every node but the input gets an error stage
shaped like its input (a layer's error back-propagation and weight gradient, one vector per input
position), and the error at an input position waits for the error vectors of the stages it feeds
whose windows touch that position; a network output's error stage waits for its whole forward
output (the loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rram_sim.engine.plan import Stage, consumers, needs_of


@dataclass
class Edge:
    """``consumer`` waits for ``needs[g]`` groups of ``producer`` (per image) before its group
    ``g``."""

    producer: Stage
    consumer: Stage
    needs: list[int]
    backward: bool


def backward_stage(st: Stage, src: Stage) -> Stage:
    """The error stage of ``st`` (fed by ``src``): its output is the error of ``st``'s input,
    so it has ``src``'s rows and grouping, on ``st``'s hardware."""
    return Stage(name=st.name, op=st.op, inputs=st.inputs, out_shape=src.out_shape,
                 rows=src.rows, group_len=1, dep=st.dep,
                 window=st.window, tiles=st.tiles, copies=st.copies, layout=st.layout,
                 geom=st.geom, pool_k=st.pool_k, fwd_positions=st.positions,
                 segment=st.segment, program_rows=st.program_rows)


def backward_need(b: Stage, fwd: Stage, up: Stage, g: int) -> int:
    """Error vectors of ``up`` (the error stage of a consumer of ``fwd``, shaped like ``fwd``'s
    output) that vector ``g`` of ``b`` (the error stage of ``fwd``, shaped like ``fwd``'s input)
    needs: up to the last output position whose window touches input position ``g``."""
    if fwd.dep == "all":
        return up.groups
    if fwd.dep == "same":
        return min(up.groups, math.ceil((g + 1) * up.positions / b.positions))
    _, s, p = fwd.window
    r, c = divmod(g, b.width)
    ro = min(up.rows - 1, (r + p) // s)
    co = min(up.width - 1, (c + p) // s)
    return min(up.groups, ro * up.width + co + 1)


def backward_needs(b: Stage, fwd: Stage, up: Stage) -> list[int]:
    """:func:`backward_need` of every vector of ``b`` (vectorized), made non-decreasing (vectors
    are taken in order)."""
    g = np.arange(b.groups)
    if fwd.dep == "all":
        need = np.full(b.groups, up.groups)
    elif fwd.dep == "same":
        need = np.minimum(up.groups, -(-(g + 1) * up.positions // b.positions))
    else:
        _, s, p = fwd.window
        r, c = np.divmod(g, b.width)
        ro = np.minimum(up.rows - 1, (r + p) // s)
        co = np.minimum(up.width - 1, (c + p) // s)
        need = np.minimum(up.groups, ro * up.width + co + 1)
    return np.maximum.accumulate(need).astype(int).tolist()


def edges(stages: list[Stage], training: bool) -> tuple[list[Edge], dict[str, Stage]]:
    """Every edge, forward (in graph order) then backward, and the error stage of each node but
    the input (by name; empty for inference)."""
    by_name = {s.name: s for s in stages}
    out = []
    for st in stages:
        for src in st.inputs:
            p = by_name[src]
            out.append(Edge(p, st, needs_of(st, p), False))
    if not training:
        return out, {}
    bwd = {st.name: backward_stage(st, by_name[st.inputs[0]])
           for st in stages if st.op != "input"}
    cons = consumers(stages)
    for st in stages:
        if st.op == "input":
            continue
        b = bwd[st.name]
        for u in (bwd[c] for c in cons[st.name]):
            out.append(Edge(u, b, backward_needs(b, st, u), True))
        if not cons[st.name]:
            # A network output: its error waits for its whole output (the loss).
            out.append(Edge(st, b, [st.groups] * b.groups, True))
    return out, bwd
