"""Everything a run's stage processes replay, computed once before the run starts: per stage and
pass its record, each group's work, and the messages of each edge; per edge its buffer capacity;
the flows that can contend. Pure: the model (:mod:`rram_sim.engine.model`) turns the edges into
channels and the passes into processes.

The events of every image are booked here, once per group (``times = n_images``): busy cycles,
digital ops, flits, hops and off-chip bytes (:mod:`.counting`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rram_sim.config import Config
from rram_sim.engine import counting
from rram_sim.engine.backward import Edge, edges
from rram_sim.engine.buffers import edge_capacity
from rram_sim.engine.messages import Message, contended_flows, multicasts
from rram_sim.engine.plan import Stage, consumers
from rram_sim.engine.records import StageRecord
from rram_sim.engine.work import group_holds, group_ops, shared_units
from rram_sim.noc import Topology


@dataclass
class StagePass:
    """One stage in one pass, ready to run."""

    stage: Stage
    backward: bool
    record: StageRecord
    ops: list[list]                              # per group: its work (:func:`.work.group_ops`)
    input_msgs: list[list[Message]] | None       # input stage: per group, the image's messages
    is_sink: bool                                # its groups complete images (the last sink)


@dataclass
class WiredEdge:
    """One edge with its buffer and the messages of each producer group."""

    edge: Edge
    capacity: int                                # groups its buffer holds
    msgs: list[list[Message]]                    # per producer group


@dataclass
class Wiring:
    """The passes (forward in graph order, then backward in reverse), the edges, the flows that
    can contend, and the link-cycles all messages hold."""

    passes: list[StagePass]
    edges: list[WiredEdge]
    contended: set
    link_busy_cycles: int


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

    # Each pass's holds, computed once: they decide which units are shared, then its work.
    b_order = list(reversed([s.name for s in stages if s.name in bwd]))
    passes = [(st, False) for st in stages] + [(bwd[n], True) for n in b_order]
    holds = {(st.name, backward): [group_holds(st, g, backward, fed_by_input(st), cfg)
                                   for g in range(st.groups)] for st, backward in passes}
    shared = shared_units((st.segment, holds[st.name, backward]) for st, backward in passes)
    recs = {(st.name, backward): StageRecord(st.name, st.op, "backward" if backward else "forward",
                                             st.tiles, first_layer=backward and fed_by_input(st))
            for st, backward in passes}
    rec_of = {id(st): recs[st.name, backward] for st, backward in passes}
    link_busy = 0
    wired, edge_msgs = [], []
    for e in all_edges:
        p, c = e.producer, e.consumer
        msgs = [multicasts(p.home, c.tiles, p.group_values(g) * bits_per_value, topology, cfg)
                for g in range(p.groups)]
        for m in (m for g_msgs in msgs for m in g_msgs):
            link_busy += counting.book_message(rec_of[id(p)], m, n_images)
            edge_msgs.append(m)
        wired.append(WiredEdge(e, edge_capacity(e, len(cons_f.get(p.name, [])) > 1, n_images, cfg),
                               msgs))
    input_flows = set()
    out = []
    for st, backward in passes:
        rec = recs[st.name, backward]
        ops = []
        for g, g_holds in enumerate(holds[st.name, backward]):
            counting.book_holds(rec, g_holds, n_images)
            counting.book_digital(rec, st, g, backward, n_images)
            ops.append(group_ops(g_holds, st.segment, shared))
        input_msgs = None
        if st.op == "input":
            # The image arrives over the off-chip links into the first tile's eDRAM.
            input_msgs = [multicasts(-1, (st.home,), st.group_values(g) * bits_per_value,
                                     topology, cfg) for g in range(st.groups)]
            for m in (m for g_msgs in input_msgs for m in g_msgs):
                link_busy += counting.book_message(rec, m, n_images)
                input_flows.add(m.flow)
        out.append(StagePass(st, backward, rec, ops, input_msgs,
                             not backward and st is sinks[-1]))
    return Wiring(out, wired, contended_flows(edge_msgs, input_flows), link_busy)
