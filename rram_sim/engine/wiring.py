"""Everything a run's stage processes replay, computed once before the run starts: per stage and
pass its record, the phases of one step and how many steps each vector does, and the messages of
each edge; per edge its buffer capacity. Pure: the model (:mod:`rram_sim.engine.model`) turns the
edges into channels and the passes into processes.

The events of every vector and image are booked here, in bulk: busy cycles, digital ops, flits,
hops and off-chip bytes (:mod:`.counting`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rram_sim.config import Config
from rram_sim.engine import counting
from rram_sim.engine import timing as T
from rram_sim.engine.backward import Edge, edges
from rram_sim.engine.buffers import edge_capacity
from rram_sim.engine.messages import Message, multicasts
from rram_sim.engine.plan import Stage, consumers
from rram_sim.engine.records import StageRecord
from rram_sim.engine.work import bind, step_phases, steps_per_vector
from rram_sim.noc import Topology


@dataclass
class StagePass:
    """One stage in one pass, ready to run."""

    stage: Stage
    backward: bool
    record: StageRecord
    phases: list[T.Phase]                        # one step's phases (:func:`.work.step_phases`)
    steps: list[int] | None                      # per vector, when not one step each
    input_msgs: list[Message] | None             # input stage: the messages of one row
    is_sink: bool                                # its vectors complete images (the last sink)


@dataclass
class WiredEdge:
    """One edge with its buffer and the messages that carry one producer vector."""

    edge: Edge
    capacity: int                                # vectors its buffer holds
    msgs: list[Message]


@dataclass
class Wiring:
    """The passes (forward in graph order, then backward in reverse) and the edges."""

    passes: list[StagePass]
    edges: list[WiredEdge]


def wire(stages: list[Stage], cfg: Config, topology: Topology, n_images: int,
         training: bool) -> Wiring:
    """The wiring of a run of ``n_images`` over ``stages`` (a training step when ``training``)."""
    by_name = {s.name: s for s in stages}
    all_edges, bwd = edges(stages, training)
    cons_f = consumers(stages)
    sinks = [s for s in stages if not cons_f[s.name]]
    bits_per_value = cfg.precision.input_bits

    def fed_by_input(st: Stage) -> bool:
        return bool(st.inputs) and by_name[st.inputs[0]].op == "input"

    b_order = list(reversed([s.name for s in stages if s.name in bwd]))
    passes = [(st, False) for st in stages] + [(bwd[n], True) for n in b_order]
    recs = {(st.name, backward): StageRecord(st.name, st.op, "backward" if backward else "forward",
                                             st.tiles, first_layer=backward and fed_by_input(st))
            for st, backward in passes}
    rec_of = {id(st): recs[st.name, backward] for st, backward in passes}
    wired = []
    for e in all_edges:
        p, c = e.producer, e.consumer
        msgs = multicasts(p.home, c.tiles, p.group_values(0) * bits_per_value, topology, cfg)
        for m in msgs:
            counting.book_message(rec_of[id(p)], m, p.groups * n_images)
        wired.append(WiredEdge(e, edge_capacity(e, len(cons_f.get(p.name, [])) > 1, n_images, cfg),
                               msgs))
    out = []
    for st, backward in passes:
        rec = recs[st.name, backward]
        phases = step_phases(st, backward, fed_by_input(st), cfg)
        steps = steps_per_vector(st, backward)
        n_steps = st.groups if steps is None else sum(steps)
        counting.book_holds(rec, bind(phases, st, 0), n_steps * n_images)
        counting.book_digital(rec, st, backward, n_images)
        input_msgs = None
        if st.op == "input":
            # The image arrives over the off-chip links into the first tile's eDRAM, row by row.
            input_msgs = multicasts(-1, (st.home,), st.group_values(0) * bits_per_value,
                                    topology, cfg)
            for m in input_msgs:
                counting.book_message(rec, m, st.groups * n_images)
        out.append(StagePass(st, backward, rec, phases, steps, input_msgs,
                             not backward and st is sinks[-1]))
    return Wiring(out, wired)
