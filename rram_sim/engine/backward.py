"""The dependencies between stages: which producer groups each consumer group waits for, forward
and, in a training run, backward. Pure: the model (:mod:`rram_sim.engine.model`) turns each edge
into a buffer between two processes.

Forward, a group of a stage needs the producer rows its window covers
(:func:`rram_sim.engine.plan.groups_needed`). Backward, every node but the input gets an error
stage shaped like its input (a layer's error back-propagation and weight gradient), and the error
of its input rows waits for the error groups of the stages it feeds whose windows touch those
rows; a network output's error stage waits for its whole forward output (the loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rram_sim.engine.plan import Stage, consumers, groups_needed


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
                 rows=src.rows, rows_per_group=src.rows_per_group, dep=st.dep,
                 window=st.window, tiles=st.tiles, copies=st.copies, layout=st.layout,
                 geom=st.geom, pool_k=st.pool_k, fwd_positions=st.positions,
                 segment=st.segment, program_rows=st.program_rows)


def backward_need(b: Stage, fwd: Stage, up: Stage, g: int) -> int:
    """Error groups of ``up`` (the error stage of a consumer of ``fwd``) that group ``g`` of
    ``b`` (the error stage of ``fwd``) needs: the output rows whose window touches the input
    rows of ``g``."""
    last_in = min(b.rows, (g + 1) * b.rows_per_group) - 1
    if fwd.dep == "all":
        need = up.rows
    elif fwd.dep == "same":
        need = min(up.rows, last_in + 1)
    else:
        _, s, p = fwd.window
        need = min(up.rows, (last_in + p) // s + 1)
    return min(up.groups, math.ceil(max(1, need) / up.rows_per_group))


def edges(stages: list[Stage], training: bool) -> tuple[list[Edge], dict[str, Stage]]:
    """Every edge, forward (in graph order) then backward, and the error stage of each node but
    the input (by name; empty for inference)."""
    by_name = {s.name: s for s in stages}
    out = []
    for st in stages:
        for src in st.inputs:
            p = by_name[src]
            out.append(Edge(p, st, [groups_needed(st, g, p) for g in range(st.groups)], False))
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
            out.append(Edge(u, b, [backward_need(b, st, u, g) for g in range(b.groups)], True))
        if not cons[st.name]:
            # A network output: its error waits for its whole output (the loss).
            out.append(Edge(st, b, [st.groups] * b.groups, True))
    return out, bwd
