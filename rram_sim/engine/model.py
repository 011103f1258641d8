"""The discrete-event chip model: SimPy processes for stages, resources for shared hardware.

This module only sequences; what it sequences is computed once per run, before it starts, by
pure modules beside it (:mod:`.wiring` gathers them): the stage graph's edges forward and
backward (:mod:`.backward`), the capacity of each edge's buffer (:mod:`.buffers`), the messages
that carry a group's data over the NoC topology (:mod:`.messages`, :mod:`rram_sim.noc`), each
group's holds of hardware (:mod:`.work`, durations from :mod:`.timing`) and the events they add
to a stage's record (:mod:`.counting`).

One SimPy process runs each stage of the plan (:mod:`rram_sim.engine.plan`). For every image and
every row group of its output it (1) takes from its input channels the producer groups its window
needs, waiting for their NoC transfers to land, (2) spends the group's step time on the hardware it
uses, and (3) puts one token per consumer into the consumer's input channel and starts the
transfer of the group's data. The channels have a capacity (the rows the consumer's eDRAM buffer
holds, at least one window), so a slow consumer back-pressures its producer.

Shared, contended hardware is a capacity-1 FIFO server (the NoC links and the off-chip links are
``simpy.Resource``s; a unit whose every hold is known when requested is served arithmetically, with
the same times and no request or release events):

- per tile: the eDRAM port (input loads), the tile bus (partial sums), the digital units
  (activation, pooling, adders);
- per crossbar layer: its crossbar array (forward and transposed reads of one layer share it);
- per chip: the directed NoC links (routes of the ``noc.topology``, :mod:`rram_sim.noc`)
  and the pool of off-chip links (multi-chip placements and the input image).

A training run adds one backward stage per node (error back-propagation through transposed reads
and the weight gradient, in reverse graph order), pipelined image by image behind the forward
stages, and after the last image of the batch (the drain) the weight update of every layer, all
layers in parallel. The model counts every event SimPy schedules (``SimResult.events``).

A network run in *reload segments* (stages with ``segment > 0``, see :mod:`.plan`) runs one segment
at a time on one chip: a coordinator process programs a segment's crossbars (a ``reload`` record
per layer: write pulses, time), opens the segment's stages, and waits for them to finish before
programming the next. Inference programs every segment per batch; a training step starts with
segment 0 on the chip (the previous step ended with it), runs the forward pass segment by segment,
the last segment's back-propagation right behind its forward, then reprograms and back-propagates
the earlier segments in reverse, each segment's update written while it is on the chip.

What makes it fast (the simulated times are those of the plain model): each stage's per-group work
is computed once (durations, counts, transfers) and replayed per image; only hardware that two
stages of one segment use is a ``Resource``, the rest are plain delays; a message whose NoC links
no other flow uses is a number (its arrival cycle, serialized behind the flow's previous message)
instead of a process; inter-stage buffers are :class:`Channel`s that schedule an event only when
a stage has to wait.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import simpy

from rram_sim.config import Config
from rram_sim.engine import counting
from rram_sim.engine.messages import Message, links_in_use
from rram_sim.engine.plan import Stage
from rram_sim.engine.records import BUSY_KINDS, SimResult, StageRecord
from rram_sim.engine.wiring import wire
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
    """A bounded FIFO of tokens from one stage to another (a lighter ``simpy.Store``): ``put``
    returns None when there is room, or an event the producer waits on; ``get`` returns a token,
    or None when empty after arranging that ``wait`` fires on the next put."""

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
                 progress: Callable[[int], None] | None = None) -> None:
        self.cfg = cfg
        self.stages = stages
        self.n_images = int(n_images)
        self.training = training
        self.measured = dict(measured_pulses or {})
        self.progress = progress
        self.env = CountingEnvironment()
        self.topology: Topology = topology_for(cfg)
        self._res: dict[tuple, simpy.Resource] = {}
        self.link_busy = 0
        self.offchip = simpy.Resource(self.env, capacity=max(1, cfg.chip.offchip_links))
        self.image_done: list[int] = []
        self.records: list[StageRecord] = []
        self.n_segments = 1 + max((s.segment for s in stages), default=0)
        self._flow_free: dict[tuple, int] = {}
        self._unit_free: dict[tuple, int] = {}
        self._contended: set = set()

    # -- transfers -------------------------------------------------------------------------------
    def _link(self, link: tuple) -> simpy.Resource:
        r = self._res.get(link)
        if r is None:
            r = self._res[link] = simpy.Resource(self.env, capacity=1)
        return r

    def _transfer(self, m: Message):
        """A message over contended links (taken in a global order, so two messages can never
        wait on each other) or over the pool of off-chip links."""
        if m.offchip:
            with self.offchip.request() as req:
                yield req
                yield self.env.timeout(m.cycles)
            return
        reqs = []
        for link in m.links:
            res = self._link(link)
            req = res.request()
            yield req
            reqs.append((res, req))
        yield self.env.timeout(m.cycles)
        for res, req in reqs:
            res.release(req)

    def _send(self, msgs: list[Message]) -> tuple[int, object]:
        """Start the messages of one group; returns its token: (arrival cycle of the messages
        that need no process, completion event of the others or None)."""
        now = self.env.now
        arrival, events = 0, []
        for m in msgs:
            if m.flow in self._contended:
                events.append(self.env.process(self._transfer(m)))
            elif m.links:    # its own links: its messages follow one another
                t = max(now, self._flow_free.get(m.flow, 0)) + m.cycles
                self._flow_free[m.flow] = t
                arrival = max(arrival, t)
            else:            # through one router: no link to hold
                arrival = max(arrival, now + m.cycles)
        if not events:
            return arrival, None
        return arrival, events[0] if len(events) == 1 else simpy.AllOf(self.env, events)

    # -- processes ---------------------------------------------------------------------------------
    def _stage_proc(self, st: Stage, rec: StageRecord, in_edges, out_edges, ops, input_msgs,
                    ready, is_sink: bool):
        """``in_edges``: (channel, groups needed per group, groups per image); ``out_edges``:
        (channel, messages per group); ``ops[g]``: the group's work; ``input_msgs[g]``: the
        off-chip messages that bring an input group (None: not an input stage)."""
        env = self.env
        if ready is not None:
            yield ready
        got = [0] * len(in_edges)
        timeout = env.timeout
        free = self._unit_free
        for _img in range(self.n_images):
            for g in range(st.groups):
                for i, (ch, needs, per_image) in enumerate(in_edges):
                    target = _img * per_image + needs[g]
                    while got[i] < target:
                        tok = ch.get()
                        while tok is None:
                            yield ch.wait()
                            tok = ch.get()
                        got[i] += 1
                        arrival, ev = tok
                        if arrival > env.now:
                            yield timeout(arrival - env.now)
                        if ev is not None and not ev.processed:
                            yield ev
                start = env.now
                if input_msgs is not None:
                    # The image arrives over the off-chip links into the first tile's eDRAM.
                    arrival, ev = self._send(input_msgs[g])
                    if arrival > env.now:
                        yield timeout(arrival - env.now)
                    if ev is not None:
                        yield ev
                for op in ops[g]:
                    if op.__class__ is int:
                        yield timeout(op)
                    else:
                        # A shared unit is a FIFO server whose every hold is known when it is
                        # requested: it starts when the unit frees up (same times as a
                        # capacity-1 Resource, without the request and release events).
                        key, cyc = op
                        t = free.get(key, 0)
                        t = (t if t > env.now else env.now) + cyc
                        free[key] = t
                        yield timeout(t - env.now)
                rec.mark(start, env.now)
                for ch, msgs in out_edges:
                    wait = ch.put(self._send(msgs[g]))
                    if wait is not None:
                        yield wait
            if is_sink:
                self.image_done.append(env.now)
                if self.progress is not None:
                    self.progress(1)

    def _wait(self, cycles: int):
        """A private delay (a layer's update on its own write drivers)."""
        if cycles > 0:
            yield self.env.timeout(cycles)

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> SimResult:
        """Run the plan to its end (the last update of a training step) and say what happened."""
        env, cfg = self.env, self.cfg
        w = wire(self.stages, cfg, self.topology, self.n_images, self.training)
        self.records += [sp.record for sp in w.passes]
        self.link_busy = w.link_busy_cycles
        self._contended = w.contended
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
            pr = env.process(self._stage_proc(st, sp.record, in_edges.get(id(st), []),
                                              out_edges.get(id(st), []), sp.ops, sp.input_msgs,
                                              ready, sp.is_sink))
            (procs_b if sp.backward else procs_f).setdefault(st.segment, []).append(pr)
            all_procs.append(pr)
        pulses: dict[str, int] = {}
        drain = [0]
        reload = {"cycles": 0, "count": 0, "pulses": {}, "times": {}}
        layers_of = [[st for st in self.stages if st.geom is not None and st.segment == s]
                     for s in range(S)]

        def program(s: int):
            cyc_max = 0
            for st in layers_of[s]:
                rec = StageRecord(st.name, st.op, "reload", st.tiles)
                self.records.append(rec)
                cyc, n_pulses = counting.book_program(rec, st, cfg)
                rec.mark(env.now, env.now + cyc)
                reload["pulses"][st.name] = reload["pulses"].get(st.name, 0) + n_pulses
                reload["times"][st.name] = reload["times"].get(st.name, 0) + 1
                cyc_max = max(cyc_max, cyc)
            reload["count"] += 1
            reload["cycles"] += cyc_max
            if cyc_max:
                yield env.timeout(cyc_max)

        def update(layers):
            ups = []
            for st in layers:
                rec = StageRecord(st.name, st.op, "update", st.tiles)
                self.records.append(rec)
                cyc, n_pulses = counting.book_update(rec, st, cfg, self.measured.get(st.name))
                pulses[st.name] = n_pulses
                ups.append(env.process(self._wait(cyc)))
                rec.mark(env.now, env.now + cyc)
            if ups:
                yield simpy.AllOf(env, ups)

        def coordinator():
            if S > 1:
                for s in range(S):
                    if s > 0 or not self.training:
                        yield from program(s)
                    ready_f[s].succeed()
                    if self.training and s == S - 1:
                        ready_b[s].succeed()
                    yield simpy.AllOf(env, procs_f.get(s, []))
            if not self.training:
                return
            if S == 1:
                yield simpy.AllOf(env, all_procs)
                drain[0] = env.now
                yield from update(layers_of[0])
                return
            for s in reversed(range(S)):
                if s < S - 1:
                    yield from program(s)
                    ready_b[s].succeed()
                yield simpy.AllOf(env, procs_b.get(s, []))
                if s == 0:
                    drain[0] = env.now
                yield from update(layers_of[s])

        env.process(coordinator())
        env.run()
        unfinished = [p for p in all_procs if not p.processed]
        if unfinished:
            raise RuntimeError(f"engine deadlock: {len(unfinished)} stage(s) never finished")
        return SimResult(
            mode="training" if self.training else "inference", n_images=self.n_images,
            makespan_cycles=int(env.now), image_done_cycles=[int(t) for t in self.image_done],
            drain_cycles=int(drain[0]), records=self.records, link_busy_cycles=self.link_busy,
            n_links=links_in_use((t for st in self.stages for t in st.tiles), self.topology,
                                 cfg), events=env.n_events, pulses_per_layer=pulses,
            segments=S, reloads=reload["count"], reload_cycles=reload["cycles"],
            reload_pulses_per_layer=reload["pulses"], reloads_per_layer=reload["times"])
