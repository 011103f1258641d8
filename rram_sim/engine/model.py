"""The discrete-event chip model: one SimPy process per stage and pass, one event per vector.

This module only sequences; what it sequences is computed once per run, before it starts, by
pure modules beside it (:mod:`.wiring` gathers them): the stage graph's edges forward and
backward (:mod:`.backward`), the capacity of each edge's buffer (:mod:`.buffers`), the messages
that carry a vector over the NoC topology (:mod:`.messages`, :mod:`rram_sim.noc`), the phases of
each vector and the components they hold (:mod:`.work`, durations from :mod:`.timing`), the
events they add to a stage's record (:mod:`.counting`) and the occupancy of every component
(:mod:`.calendar`; the run keeps the calendars as rows of one array and reserves each vector in one
Numba call, :mod:`.calendar_bank`).

For every image and every vector of its output (one output position; the network input: one
row) a stage process (1) takes from its input channels the producer vectors its window needs
and waits until they have arrived and the previous vector has left its first phase (one event),
(2) reserves the vector's phases on their components, each beginning when the previous phase
ends (or, streaming, a fixed lead after it begins) and the component is free (:mod:`.calendar`:
a component grants holds in the order vectors become ready for their stage, the phases of one
vector reserved together when it enters), and (3) sends the vector to each consumer over the
NoC links (reserved likewise) and puts its arrival cycle into the consumer's channel.
Successive vectors thus overlap in the phases of a stage (ISAAC's pipeline: the initiation
interval is the phase that holds its component longest) and stages overlap each other
(inter-layer pipelining). The channels have a capacity (the vectors the consumer's
eDRAM buffer holds, at least one window), so a slow consumer back-pressures its producer.

Components: per tile the eDRAM port, the tile bus, its shift-and-add, activation and pooling
units; per layer copy its crossbars, ADC bank, PE shift-and-add, index unit and gradient unit
(forward and backward of one layer share them); per chip every directed NoC link and the pool of
off-chip links; per layer its write drivers (the update).

A training run adds one backward stage per node (error back-propagation through transposed reads
and the weight gradient, in reverse graph order), pipelined image by image behind the forward
stages, and after the last backward vector of the batch (the drain) the weight update of every
layer, all layers in parallel, each on its write drivers. The model counts every event SimPy
schedules (``SimResult.events``).

A network run in *reload segments* (stages with ``segment > 0``, see :mod:`.plan`) runs one segment
at a time on one chip: a coordinator process programs a segment's crossbars (a ``reload`` record
per layer: write pulses, time), opens the segment's stages, and waits for them to finish before
programming the next. Inference programs every segment per batch; a training step starts with
segment 0 on the chip (the previous step ended with it), runs the forward pass segment by segment,
the last segment's back-propagation right behind its forward, then reprograms and back-propagates
the earlier segments in reverse, each segment's update written while it is on the chip.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import simpy

from rram_sim.config import Config
from rram_sim.engine import counting
from rram_sim.engine import timing as T
from rram_sim.engine.calendar_bank import MSG_LINKS, MSG_POOL, CalendarBank, PyCalendarBank
from rram_sim.engine.messages import Message, links_in_use
from rram_sim.engine.plan import Stage
from rram_sim.engine.records import BUSY_KINDS, ComponentBusy, SimResult, StageRecord
from rram_sim.engine.wiring import StagePass, wire
from rram_sim.engine.work import bind
from rram_sim.noc import Topology, topology_for

__all__ = ["BUSY_KINDS", "Channel", "ChipModel", "CountingEnvironment", "SimResult",
           "StageRecord"]


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it schedules (SimPy numbers every scheduled
    event from one counter; reading it costs nothing per event)."""

    def __init__(self) -> None:
        super().__init__()
        self._n_read = 0

    @property
    def n_events(self) -> int:
        # ``_eid`` is SimPy's event-id counter; taking one id moves it on, so remember how many
        # ids this property took itself.
        n = next(self._eid) - self._n_read
        self._n_read += 1
        return n


class Channel:
    """A bounded FIFO of tokens (arrival cycles) from one stage to another (a lighter
    ``simpy.Store``): ``put`` returns None when there is room, or an event the producer waits on;
    ``get`` returns a token, or None when empty; ``wait`` fires on the next put."""

    __slots__ = ("env", "capacity", "items", "putters", "getter")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.items: deque = deque()
        self.putters: deque = deque()      # (event, token) waiting for room
        self.getter = None                 # the consumer's event, while it waits

    def put(self, tok):
        if len(self.items) < self.capacity:
            self.items.append(tok)
            if self.getter is not None:
                ev, self.getter = self.getter, None
                ev.succeed()
            return None
        ev = self.env.event()
        self.putters.append((ev, tok))
        return ev

    def get(self):
        if not self.items:
            return None
        tok = self.items.popleft()
        if self.putters:
            ev, waiting = self.putters.popleft()
            self.items.append(waiting)
            ev.succeed()
        return tok

    def wait(self):
        self.getter = self.env.event()
        return self.getter


class ChipModel:
    """Build the processes of a plan and run them."""

    def __init__(self, cfg: Config, stages: list[Stage], n_images: int = 1,
                 training: bool = False, measured_pulses: dict[str, int] | None = None,
                 progress: Callable[[int], None] | None = None,
                 calendars: str = "bank") -> None:
        if calendars not in ("bank", "python"):
            raise ValueError(f"calendars={calendars!r}: must be 'bank' or 'python'")
        self.cfg = cfg
        self.stages = stages
        self.n_images = int(n_images)
        self.training = training
        self.measured = dict(measured_pulses or {})
        self.progress = progress
        self.env = CountingEnvironment()
        self.topology: Topology = topology_for(cfg)
        # every component's calendar: rows of one array, each vector reserved in one Numba call
        # (:mod:`.calendar_bank`); "python": the same on :class:`.calendar.Calendar` objects
        self.bank = CalendarBank() if calendars == "bank" else PyCalendarBank()
        self.units: dict[tuple, int] = {}               # (kind, key) -> its calendar's index
        self.offchip = [self.bank.add() for _ in range(max(1, cfg.chip.offchip_links))]
        self.horizon = 0                                # the last reserved cycle so far
        self.image_done: list[int] = []
        self.records: list[StageRecord] = []
        self.n_segments = 1 + max((s.segment for s in stages), default=0)
        self.crossbars_of: dict[tuple, int] = {}        # (kind, key) -> crossbars it stands for

    # -- components ------------------------------------------------------------------------------
    def _unit(self, key: tuple) -> int:
        c = self.units.get(key)
        if c is None:
            c = self.units[key] = self.bank.add()
        return c

    def _routes(self, msgs: list[Message] | None) -> tuple:
        """The messages of one vector as ``(kind, cycles, calendars)``: the pool of off-chip links
        (``MSG_POOL``, the one free first) or the links a message holds at once (``MSG_LINKS``;
        none: through one router)."""
        return tuple((MSG_POOL, m.cycles, tuple(self.offchip)) if m.offchip
                     else (MSG_LINKS, m.cycles, tuple(self._unit(("link", lk)) for lk in m.links))
                     for m in msgs or ())

    def _vector_ops(self, sp: StagePass) -> list[tuple]:
        """Per vector of ``sp``: its holds as ``(calendar, cycles, lead, tail)``, shared by every
        vector with the same copy and step count."""
        st = sp.stage
        cache: dict[tuple, tuple] = {}

        def ops(copy: int, steps: int) -> tuple:
            k = (copy, steps)
            got = cache.get(k)
            if got is None:
                holds = bind(sp.phases, st, copy, steps) if steps else []
                for h in holds:
                    if h.unit == "xbar" and st.geom is not None:
                        self.crossbars_of[h.component] = st.geom.n_crossbars
                got = cache[k] = tuple((self._unit(h.component), h.cycles, h.lead, h.tail)
                                       for h in holds)
            return got

        copies = max(1, st.copies)
        steps = sp.steps
        if steps is None:
            return [ops(g % copies, 1) for g in range(st.groups)]
        # Backward, each vector goes to the copy with the fewest steps so far (the lowest on a
        # tie): a strided layer's errors land on some input positions only, and unevenly (1, 2
        # or 4 steps a position), so `g mod copies` or a plain turn would pile them onto a few
        # copies.
        out, load = [], [0] * copies
        for g in range(st.groups):
            c = load.index(min(load)) if steps[g] else 0
            load[c] += steps[g]
            out.append(ops(c, steps[g]))
        return out

    # -- processes ---------------------------------------------------------------------------------
    def _stage_proc(self, sp: StagePass, in_edges, out_edges, ready_ev):
        """``in_edges``: (channel, producer vectors needed per vector, producer vectors per
        image); ``out_edges``: (channel, messages of one vector)."""
        env = self.env
        st, rec = sp.stage, sp.record
        if ready_ev is not None:
            yield ready_ev
        vec_ops = self._vector_ops(sp)
        in_routes = self._routes(sp.input_msgs)
        routes = [self._routes(msgs) for _, msgs in out_edges]
        bank = self.bank
        progs_of: dict[int, object] = {}       # one program per distinct holds
        for ops in vec_ops:
            if id(ops) not in progs_of:
                progs_of[id(ops)] = bank.program(in_routes, ops, routes[0] if routes else ())
        progs = [progs_of[id(ops)] for ops in vec_ops]
        step, kernel = bank.step, bank.kernel
        # The first consumer's messages are reserved with the vector (one call), the others' after
        # its put (one call each).
        out_edges = [(ch, bank.program((), (), r) if i and r else None)
                     for i, ((ch, _), r) in enumerate(zip(out_edges, routes))]
        from_input = sp.input_msgs is not None
        got = [0] * len(in_edges)
        timeout = env.timeout
        first_start = -1
        last_end = 0
        gate = 0          # when the previous vector has left its first phase
        for img in range(self.n_images):
            for g in range(st.groups):
                ready = gate
                for i, (ch, needs, per_image) in enumerate(in_edges):
                    target = img * per_image + needs[g]
                    items = ch.items
                    while got[i] < target:
                        if not items:
                            yield ch.wait()
                            continue
                        # :meth:`Channel.get`, inlined
                        tok = items.popleft()
                        if ch.putters:
                            ev, waiting = ch.putters.popleft()
                            items.append(waiting)
                            ev.succeed()
                        got[i] += 1
                        if tok > ready:
                            ready = tok
                # Reserve when the vector is ready (its inputs have arrived and the previous
                # vector has left the first phase), so that components are granted in the order
                # vectors become ready for them (first come, first served): one event per vector.
                now = env._now
                yield timeout(ready - now if ready > now else 0)
                ready = env._now
                # The vector's phases, each on its component (see the module docstring), after
                # its input messages (an input row: the image arrives over the off-chip links
                # into the first tile's eDRAM), and its messages to the first consumer.
                if kernel is not None:
                    r = kernel(bank.cal, progs[g], ready)
                    if r[0]:
                        r = step(progs[g], ready)
                else:
                    r = step(progs[g], ready)
                _, t0, first_end, pe, arrival, arrived = r
                if first_start < 0:
                    first_start = t0
                if pe > last_end:
                    last_end = pe
                for i, (ch, msgs) in enumerate(out_edges):
                    if i:
                        arrival = bank.send(msgs, pe) if msgs is not None else pe
                    if arrival > self.horizon:
                        self.horizon = arrival
                    items = ch.items
                    if len(items) < ch.capacity:     # :meth:`Channel.put` with room, inlined
                        items.append(arrival)
                        if ch.getter is not None:
                            ev, ch.getter = ch.getter, None
                            ev.succeed()
                    else:
                        yield ch.put(arrival)
                if pe > self.horizon:
                    self.horizon = pe
                if sp.is_sink and g == st.groups - 1:
                    self.image_done.append(pe)
                    if self.progress is not None:
                        self.progress(1)
                # The next vector enters when this one has left its first phase (an input row:
                # when it has arrived).
                gate = arrived if from_input else first_end
        rec.mark(max(first_start, 0), last_end)

    def _settle(self):
        """Advance to the last reserved cycle (the work already booked ends there)."""
        if self.horizon > self.env.now:
            yield self.env.timeout(self.horizon - self.env.now)

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> SimResult:
        """Run the plan to its end (the last update of a training step) and say what happened."""
        env, cfg = self.env, self.cfg
        w = wire(self.stages, cfg, self.topology, self.n_images, self.training)
        self.records += [sp.record for sp in w.passes]
        in_edges: dict[int, list] = {}
        out_edges: dict[int, list] = {}
        for we in w.edges:
            p, ch = we.edge.producer, Channel(env, we.capacity)
            in_edges.setdefault(id(we.edge.consumer), []).append((ch, we.edge.needs, p.groups))
            out_edges.setdefault(id(p), []).append((ch, we.msgs))
        S = self.n_segments
        ready_f = [env.event() for _ in range(S)] if S > 1 else [None]
        ready_b = [env.event() for _ in range(S)] if S > 1 else [None]
        procs_f: dict[int, list] = {}
        procs_b: dict[int, list] = {}
        all_procs = []
        for sp in w.passes:
            st = sp.stage
            ready = (ready_b if sp.backward else ready_f)[st.segment if S > 1 else 0]
            pr = env.process(self._stage_proc(sp, in_edges.get(id(st), []),
                                              out_edges.get(id(st), []), ready))
            (procs_b if sp.backward else procs_f).setdefault(st.segment, []).append(pr)
            all_procs.append(pr)
        pulses: dict[str, int] = {}
        drain = [0]
        reload = {"cycles": 0, "count": 0, "pulses": {}, "times": {}}
        layers_of = [[st for st in self.stages if st.geom is not None and st.segment == s]
                     for s in range(S)]

        def write_phase(booked, not_before=None):
            """Book each layer's writes on its own write drivers, all layers in parallel up to
            the chip's write power budget (:func:`.counting.write_windows`); a layer's record
            ends no earlier than ``not_before[name]``. Returns the phase's cycles."""
            win = counting.write_windows([job for *_, job in booked], cfg)
            cyc_max = 0
            for st, rec, _ in booked:
                lo, hi = win[st.name]
                if hi > lo:
                    self.bank.take(self._unit(("write", st.name)), env.now + lo, hi - lo)
                end = max(hi, (not_before or {}).get(st.name, 0))
                rec.mark(env.now + lo, env.now + end)
                cyc_max = max(cyc_max, end)
            return cyc_max

        def program(s: int):
            booked = []
            for st in layers_of[s]:
                rec = StageRecord(st.name, st.op, "reload", st.tiles)
                self.records.append(rec)
                cyc, n_pulses = counting.book_program(rec, st, cfg)
                booked.append((st, rec, counting.program_job(st, cfg, cyc)))
                reload["pulses"][st.name] = reload["pulses"].get(st.name, 0) + n_pulses
                reload["times"][st.name] = reload["times"].get(st.name, 0) + 1
            # Their weights stream in from off-chip memory, layer after layer over all the
            # off-chip links; programming overlaps the stream row by row, so a layer is done no
            # earlier than its last weights have arrived.
            fetched, arrived = 0, {}
            for st, _, _ in booked:
                fetch = T.fetch_cycles(T.weight_fetch_bits(st.geom, cfg), cfg)
                if fetch:
                    for cal in self.offchip:
                        self.bank.take(cal, env.now + fetched, fetch)
                fetched += fetch
                arrived[st.name] = fetched
            cyc_max = write_phase(booked, arrived)
            reload["count"] += 1
            reload["cycles"] += cyc_max
            if cyc_max:
                yield env.timeout(cyc_max)
            self.horizon = max(self.horizon, env.now)

        def update(layers):
            booked = []
            for st in layers:
                rec = StageRecord(st.name, st.op, "update", st.tiles)
                self.records.append(rec)
                measured = self.measured.get(st.name)
                cyc, n_pulses = counting.book_update(rec, st, cfg, measured)
                pulses[st.name] = n_pulses
                booked.append((st, rec, counting.update_job(st, cfg, measured, cyc)))
            cyc_max = write_phase(booked)
            if cyc_max:
                yield env.timeout(cyc_max)
            self.horizon = max(self.horizon, env.now)

        def finish(procs):
            yield simpy.AllOf(env, procs)
            yield from self._settle()

        def coordinator():
            if S > 1:
                for s in range(S):
                    if s > 0 or not self.training:
                        yield from program(s)
                    ready_f[s].succeed()
                    if self.training and s == S - 1:
                        ready_b[s].succeed()
                    yield from finish(procs_f.get(s, []))
            if not self.training:
                yield from finish(all_procs)
                return
            if S == 1:
                yield from finish(all_procs)
                drain[0] = env.now
                yield from update(layers_of[0])
                return
            for s in reversed(range(S)):
                if s < S - 1:
                    yield from program(s)
                    ready_b[s].succeed()
                yield from finish(procs_b.get(s, []))
                if s == 0:
                    drain[0] = env.now
                yield from update(layers_of[s])

        env.process(coordinator())
        env.run()
        unfinished = [p for p in all_procs if not p.processed]
        if unfinished:
            raise RuntimeError(f"engine deadlock: {len(unfinished)} stage(s) never finished")
        makespan = max(int(env.now), self.horizon)
        return SimResult(
            mode="training" if self.training else "inference", n_images=self.n_images,
            makespan_cycles=makespan, image_done_cycles=[int(t) for t in self.image_done],
            drain_cycles=int(drain[0]), records=self.records,
            link_busy_cycles=sum(self.bank.busy(c) for k, c in self.units.items()
                                 if k[0] == "link"),
            n_links=links_in_use((t for st in self.stages for t in st.tiles), self.topology,
                                 cfg), events=env.n_events, pulses_per_layer=pulses,
            segments=S, reloads=reload["count"], reload_cycles=reload["cycles"],
            reload_pulses_per_layer=reload["pulses"], reloads_per_layer=reload["times"],
            components=self._components())

    def _components(self) -> list[ComponentBusy]:
        out = []
        bank = self.bank
        for (kind, key), cal in self.units.items():
            if bank.busy(cal) == 0:
                continue
            out.append(ComponentBusy(kind, _key_name(kind, key),
                                     self.crossbars_of.get((kind, key), 1), bank.busy(cal),
                                     bank.intervals(cal)))
        for i, cal in enumerate(self.offchip):
            if bank.busy(cal):
                out.append(ComponentBusy("offchip", f"link {i}", 1, bank.busy(cal),
                                         bank.intervals(cal)))
        return out


def _key_name(kind: str, key) -> str:
    if kind == "link":
        chip, a, b = key
        return f"chip {chip} router {a}->{b}"
    if kind == "write":
        return str(key)
    if isinstance(key, tuple):
        return f"{key[0]} copy {key[1]}"
    return f"tile {key}"
