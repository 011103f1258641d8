"""The discrete-event chip model: SimPy processes for stages, resources for shared hardware.

One SimPy process runs each stage of the plan (:mod:`rram_sim.engine.plan`). For every image and
every row group of its output it (1) takes from its input ``Store``s the producer groups its window
needs, waiting for their NoC transfers to land, (2) spends the group's step time on the hardware it
uses, and (3) puts one token per consumer into the consumer's input ``Store`` and starts the
transfer of the group's data. The stores have a capacity (the rows the consumer's eDRAM buffer
holds, at least one window), so a slow consumer back-pressures its producer.

Shared, contended hardware is a capacity-1 FIFO server (the NoC links and the off-chip links are
``simpy.Resource``s; a unit whose every hold is known when requested is served arithmetically, with
the same times and no request or release events):

- per tile: the eDRAM port (input loads), the tile bus (partial sums), the digital units
  (activation, pooling, adders);
- per crossbar layer: its crossbar array (forward and transposed reads of one layer share it);
- per chip: the directed NoC links (XY routes, :mod:`rram_sim.engine.noc`) and the pool of
  off-chip links (multi-chip placements and the input image).

A training run adds one backward stage per node (error back-propagation through transposed reads
and the weight gradient, in reverse graph order), pipelined image by image behind the forward
stages, and after the last image of the batch (the drain) the weight update of every layer, all
layers in parallel. Durations are integer cycles from :mod:`rram_sim.engine.timing`; the model only
sequences them. The model counts every event SimPy schedules (``SimResult.events``).

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

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import simpy

from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.engine import timing as T
from rram_sim.engine.noc import Mesh, mesh_for, message_cycles
from rram_sim.engine.plan import Stage, consumers, groups_needed

BUSY_KINDS = ("crossbar", "edram", "bus", "digital", "noc", "offchip", "write")


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


@dataclass
class StageRecord:
    """What one stage did in one pass: when, how busy, and the events only the DES knows
    (NoC flits and hops, off-chip bytes, digital ops)."""

    name: str
    op: str
    pass_name: str                  # "forward" | "backward" | "update"
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


class ChipModel:
    """Build the processes of a plan and run them."""

    def __init__(self, cfg: Config, stages: list[Stage], n_images: int = 1,
                 training: bool = False, measured_pulses: dict[str, int] | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        self.cfg = cfg
        self.stages = stages
        self.by_name = {s.name: s for s in stages}
        self.n_images = int(n_images)
        self.training = training
        self.measured = dict(measured_pulses or {})
        self.progress = progress
        self.env = CountingEnvironment()
        self.mesh: Mesh = mesh_for(cfg)
        self._res: dict[tuple, simpy.Resource] = {}
        self.link_busy = 0
        self.offchip = simpy.Resource(self.env, capacity=max(1, cfg.chip.offchip_links))
        self.image_done: list[int] = []
        self.records: list[StageRecord] = []
        self.n_segments = 1 + max((s.segment for s in stages), default=0)
        self._flow_free: dict[tuple, int] = {}
        self._unit_free: dict[tuple, int] = {}

    # -- resources ------------------------------------------------------------------------------
    def resource(self, kind: str, key) -> simpy.Resource:
        k = (kind, key)
        r = self._res.get(k)
        if r is None:
            r = self._res[k] = simpy.Resource(self.env, capacity=1)
        return r

    def _hold(self, kind: str, key, cycles: int, rec: StageRecord, busy: str):
        if cycles <= 0:
            return
        if kind is None:
            yield self.env.timeout(cycles)
        else:
            res = self.resource(kind, key)
            with res.request() as req:
                yield req
                yield self.env.timeout(cycles)
        rec.busy_cycles[busy] += cycles

    # -- transfers -------------------------------------------------------------------------------
    def _multicasts(self, src: int, dst_tiles: tuple[int, ...], bits: int):
        """The messages that move one group from tile ``src`` to a consumer's tiles: one
        destination per distinct router, one multicast per chip (``src < 0`` or another chip:
        an off-chip transfer). Each is ``(flow key, links, cycles, flits, destinations,
        off-chip)``; several destinations form one multicast along the union of their XY routes,
        lasting as long as its longest route."""
        cfg = self.cfg
        n_tiles, conc = cfg.chip.tiles, self.mesh.concentration
        # Data already on one of the consumer's tiles needs no message to that tile's router.
        seen = {(src // n_tiles, (src % n_tiles) // conc)} if src in dst_tiles else set()
        by_chip: dict[int, list[int]] = {}
        for dst in dst_tiles:
            key = (dst // n_tiles, (dst % n_tiles) // conc)
            if dst == src or key in seen:
                continue
            seen.add(key)
            by_chip.setdefault(key[0], []).append(dst)
        out = []
        for dsts in by_chip.values():
            flow = (src, tuple(dsts))
            chip_s, chip_d = src // n_tiles, dsts[0] // n_tiles
            if src < 0 or chip_s != chip_d:
                out.append((flow, (), T.offchip_cycles(bits, cfg), math.ceil(bits / 8), 0, True))
                continue
            routes = [self.mesh.route(src % n_tiles, d % n_tiles) for d in dsts]
            links = tuple((chip_s,) + link for link in sorted({lk for r in routes for lk in r}))
            cyc = message_cycles(bits, max(len(r) for r in routes), cfg)
            out.append((flow, links, cyc, T.flits(bits, cfg), len(dsts), False))
        return out

    def _count_message(self, m, rec: StageRecord, times: int) -> None:
        _, links, cyc, n, n_dsts, off = m
        if off:
            rec.busy_cycles["offchip"] += cyc * times
            rec.counts.offchip_bytes += n * times
            return
        self.link_busy += cyc * len(links) * times
        rec.busy_cycles["noc"] += cyc * times
        rec.counts.noc_flits += n * n_dsts * times
        rec.counts.noc_flit_hops += n * len(links) * times

    def _transfer(self, m):
        """A message over contended links (taken in a global order, so two messages can never
        wait on each other) or over the pool of off-chip links."""
        _, links, cyc, _, _, off = m
        if off:
            with self.offchip.request() as req:
                yield req
                yield self.env.timeout(cyc)
            return
        reqs = []
        for link in links:
            res = self.resource("link", link)
            req = res.request()
            yield req
            reqs.append((res, req))
        yield self.env.timeout(cyc)
        for res, req in reqs:
            res.release(req)

    def _send(self, msgs) -> tuple[int, object]:
        """Start the messages of one group; returns its token: (arrival cycle of the messages
        that need no process, completion event of the others or None)."""
        now = self.env.now
        arrival, events = 0, []
        for m in msgs:
            flow, links, cyc = m[0], m[1], m[2]
            if flow in self._contended:
                events.append(self.env.process(self._transfer(m)))
            elif links:      # its own links: its messages follow one another
                t = max(now, self._flow_free.get(flow, 0)) + cyc
                self._flow_free[flow] = t
                arrival = max(arrival, t)
            else:            # through one router: no link to hold
                arrival = max(arrival, now + cyc)
        if not events:
            return arrival, None
        return arrival, events[0] if len(events) == 1 else simpy.AllOf(self.env, events)

    # -- work of one group -------------------------------------------------------------------------
    def _segments(self, st: Stage, g: int, backward: bool) -> list[tuple[str | None, object, int,
                                                                          str]]:
        """(resource kind, key, cycles, busy kind) in order, for group ``g`` of stage ``st``."""
        cfg = self.cfg
        segs = []
        if st.op in ("conv", "linear"):
            pos = st.group_positions(g) if not backward else \
                math.ceil(st.fwd_positions * st.group_rows(g) / st.rows)
            n = math.ceil(pos / st.copies)
            stepf = T.transposed_step if backward else T.forward_step
            step = stepf(st.geom, cfg)
            skip_transposed = backward and self.by_name[st.inputs[0]].op == "input"
            if not skip_transposed:
                segs += [("edram", st.home, n * step.load, "edram"),
                         ("xbar", st.name, n * (step.gather + step.crossbar), "crossbar"),
                         ("bus", st.home, n * (step.bus + step.reduce), "bus")]
            if backward:
                grad = T.gradient_cycles(st.geom, n, len(st.tiles), cfg)
                kind = "xbar" if cfg.training.gradient_unit == "crossbar" else None
                segs.append((kind, st.name, grad,
                             "crossbar" if kind else "digital"))
            return segs
        vals = st.group_values(g)
        if st.op == "input":
            return []
        if st.op in ("maxpool", "avgpool"):
            ops = vals * (1 if backward else st.pool_k)
            return [("digital", st.home, T.digital_cycles(ops, cfg.tile.maxpool_units, cfg),
                     "digital")]
        if st.op in ("relu", "softmax"):
            return [("digital", st.home, T.digital_cycles(vals, cfg.tile.sigmoid_units, cfg),
                     "digital")]
        if st.op == "add":
            return [("digital", st.home, T.digital_cycles(vals, cfg.tile.shift_add_units, cfg),
                     "digital")]
        return []  # flatten: a change of view, no work

    def _count_digital(self, st: Stage, g: int, rec: StageRecord, backward: bool,
                       times: int) -> None:
        vals = st.group_values(g) * times
        if st.op in ("maxpool", "avgpool"):
            rec.counts.pool_ops += vals * (1 if backward else st.pool_k)
        elif st.op in ("relu", "softmax"):
            rec.counts.activation_ops += vals
        elif st.op == "add":
            rec.counts.digital_adds += vals

    def _group_ops(self, st: Stage, g: int, rec: StageRecord, backward: bool) -> list:
        """The timed work of one group, computed once: plain delays (ints; back-to-back
        uncontended segments merged into one) and ``((kind, key), cycles)`` holds of a shared
        unit. Busy cycles and
        digital counts of all images are booked here."""
        ops: list = []
        pending = 0
        for kind, key, cyc, busy in self._segments(st, g, backward):
            if cyc <= 0:
                continue
            rec.busy_cycles[busy] += cyc * self.n_images
            if kind is None or (kind, key, st.segment) not in self.shared:
                pending += cyc
                continue
            if pending:
                ops.append(pending)
                pending = 0
            ops.append(((kind, key), cyc))
        if pending:
            ops.append(pending)
        self._count_digital(st, g, rec, backward, self.n_images)
        return ops

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

    def _capacity(self, producer: Stage, consumer: Stage, first_need: int, fan_out: bool) -> int:
        """Groups an edge buffers: what the consumer's eDRAM holds, at least its first window;
        a forking producer (residual) may run a whole image ahead of its slower branch."""
        group_bytes = max(1, producer.group_values(0) * self.cfg.precision.input_bits // 8)
        edram = self.cfg.tile.edram_kb * 1024 // group_bytes
        cap = max(first_need + 1, min(producer.groups, edram))
        if fan_out:
            cap = max(cap, producer.groups + 1)
        return cap

    def _edges(self):
        """(producer, consumer, need_fn) of every edge, forward and (training) backward."""
        stages = self.stages
        cons = consumers(stages)
        edges = []
        for st in stages:
            for src in st.inputs:
                p = self.by_name[src]
                edges.append((p, st, (lambda g, st=st, p=p: groups_needed(st, g, p)), False))
        if not self.training:
            return edges, {}
        bwd: dict[str, Stage] = {}
        for st in stages:
            if st.op == "input":
                continue
            src = self.by_name[st.inputs[0]]
            b = Stage(name=f"{st.name}", op=st.op, inputs=st.inputs, out_shape=src.out_shape,
                      rows=src.rows, rows_per_group=src.rows_per_group, dep=st.dep,
                      window=st.window, tiles=st.tiles, copies=st.copies, layout=st.layout,
                      geom=st.geom, pool_k=st.pool_k, fwd_positions=st.positions,
                      segment=st.segment, program_rows=st.program_rows)
            bwd[st.name] = b
        outputs = [s for s in stages if not cons[s.name] and s.op != "input"]
        for st in stages:
            if st.op == "input":
                continue
            b = bwd[st.name]
            ups = [bwd[c] for c in cons[st.name]] or []
            for u in ups:
                edges.append((u, b, (lambda g, b=b, st=st, u=u: self._bwd_need(b, st, u, g)),
                              True))
            if st in outputs:
                edges.append((st, b, (lambda g, st=st: st.groups), True))
        return edges, bwd

    @staticmethod
    def _bwd_need(b: Stage, fwd: Stage, up: Stage, g: int) -> int:
        """Error groups of ``fwd``'s output that the error of its input rows in group ``g``
        needs: the output rows whose window touches those input rows."""
        last_in = min(b.rows, (g + 1) * b.rows_per_group) - 1
        if fwd.dep == "all":
            need = up.rows
        elif fwd.dep == "same":
            need = min(up.rows, last_in + 1)
        else:
            _, s, p = fwd.window
            need = min(up.rows, (last_in + p) // s + 1)
        return min(up.groups, math.ceil(max(1, need) / up.rows_per_group))

    def run(self) -> SimResult:
        env, cfg = self.env, self.cfg
        edges, bwd = self._edges()
        cons_f = consumers(self.stages)
        self.shared = self._shared_keys(bwd)
        sinks = [s for s in self.stages if not cons_f[s.name]]
        bits_per_value = cfg.precision.input_bits
        # Records first (forward in graph order, backward in reverse), then their edges.
        f_recs = {st.name: StageRecord(st.name, st.op, "forward", st.tiles) for st in self.stages}
        b_order = list(reversed([s.name for s in self.stages if s.name in bwd]))
        b_recs = {n: StageRecord(n, bwd[n].op, "backward", bwd[n].tiles,
                                 first_layer=self.by_name[bwd[n].inputs[0]].op == "input")
                  for n in b_order}
        self.records += list(f_recs.values()) + [b_recs[n] for n in b_order]
        rec_of = {id(st): f_recs[st.name] for st in self.stages}
        rec_of.update({id(b): b_recs[n] for n, b in bwd.items()})
        in_edges: dict[int, list] = {}
        out_edges: dict[int, list] = {}
        offchip_flows: set = set()
        link_users: dict[tuple, set] = {}
        for p, c, need_fn, is_b in edges:
            fan_out = len(cons_f.get(p.name, [])) > 1 and not is_b
            if c.segment != p.segment:
                # Across a reload boundary the whole batch waits for the next segment.
                cap = p.groups * self.n_images + 1
            else:
                cap = self._capacity(p, c, need_fn(0), fan_out or is_b)
            ch = Channel(env, cap)
            in_edges.setdefault(id(c), []).append(
                (ch, [need_fn(g) for g in range(c.groups)], p.groups))
            msgs = [self._multicasts(p.home, c.tiles, p.group_values(g) * bits_per_value)
                    for g in range(p.groups)]
            out_edges.setdefault(id(p), []).append((ch, msgs))
            for g_msgs in msgs:
                for m in g_msgs:
                    self._count_message(m, rec_of[id(p)], self.n_images)
                    if m[5]:
                        offchip_flows.add(m[0])
                    for link in m[1]:
                        link_users.setdefault(link, set()).add(m[0])
        # A flow is contended when one of its links carries another flow too, or when it goes
        # off chip while other off-chip flows exist (besides the input, which waits for its own).
        contended = {f for users in link_users.values() if len(users) > 1 for f in users}
        procs_f: dict[int, list] = {}
        procs_b: dict[int, list] = {}
        S = self.n_segments
        ready_f = [env.event() for _ in range(S)] if S > 1 else [None]
        ready_b = [env.event() for _ in range(S)] if S > 1 else [None]
        input_flows = set()
        proc_args = []
        for st in self.stages:
            rec = f_recs[st.name]
            ops = [self._group_ops(st, g, rec, False) for g in range(st.groups)]
            input_msgs = None
            if st.op == "input":
                input_msgs = [self._multicasts(-1, (st.home,), st.group_values(g) * bits_per_value)
                              for g in range(st.groups)]
                for g_msgs in input_msgs:
                    for m in g_msgs:
                        self._count_message(m, rec, self.n_images)
                        input_flows.add(m[0])
            proc_args.append((procs_f, st, rec, ops, input_msgs, ready_f[st.segment if S > 1
                                                                         else 0],
                              st is sinks[-1]))
        for name in b_order:
            b = bwd[name]
            rec = b_recs[name]
            ops = [self._group_ops(b, g, rec, True) for g in range(b.groups)]
            proc_args.append((procs_b, b, rec, ops, None, ready_b[b.segment if S > 1 else 0],
                              False))
        # Off-chip messages share the pool of off-chip links; when only the input goes off chip
        # (its stage waits for each of its messages) nothing can contend for it.
        if offchip_flows:
            contended |= offchip_flows | input_flows
        self._contended = contended
        all_procs = []
        for procs, st, rec, ops, input_msgs, ready, is_sink in proc_args:
            pr = env.process(self._stage_proc(st, rec, in_edges.get(id(st), []),
                                              out_edges.get(id(st), []), ops, input_msgs, ready,
                                              is_sink))
            procs.setdefault(st.segment, []).append(pr)
            all_procs.append(pr)
        pulses: dict[str, int] = {}
        drain = [0]
        reload = {"cycles": 0, "count": 0, "pulses": {}, "times": {}}
        layers_of = [[st for st in self.stages if st.geom is not None and st.segment == s]
                     for s in range(S)]

        def program(s: int):
            cyc_max = 0
            p_cell = T.program_pulses_per_cell(cfg)
            for st in layers_of[s]:
                rec = StageRecord(st.name, st.op, "reload", st.tiles)
                self.records.append(rec)
                cyc = T.program_cycles(st.program_rows, cfg)
                n_pulses = st.geom.written_cells * st.copies * p_cell
                rec.counts.cell_write_pulses += n_pulses
                if cfg.training.write_scheme == "write_verify":
                    rec.counts.cell_verify_reads += n_pulses
                rec.busy_cycles["write"] += cyc
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
                cyc = T.update_cycles(st.geom, cfg, self.measured.get(st.name))
                p = T.update_pulses_per_cell(st.geom, cfg, self.measured.get(st.name))
                n_pulses = int(round(p * st.geom.written_cells)) * st.copies
                pulses[st.name] = n_pulses
                rec.counts.cell_write_pulses += n_pulses
                if cfg.training.write_scheme == "write_verify":
                    rec.counts.cell_verify_reads += n_pulses
                ups.append(env.process(self._hold(None, None, cyc, rec, "write")))
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
            n_links=self._n_links_used(), events=env.n_events, pulses_per_layer=pulses,
            segments=S, reloads=reload["count"], reload_cycles=reload["cycles"],
            reload_pulses_per_layer=reload["pulses"], reloads_per_layer=reload["times"])

    def _shared_keys(self, bwd: dict) -> set:
        """Resources more than one stage of a segment really uses (a segment of positive time):
        only these can be contended, so only these are requested; a stage's other segments are
        plain delays (same times, fewer events). Segments never run at the same time, so their
        users are counted apart."""
        users: dict[tuple, int] = {}
        passes = [(st, False) for st in self.stages] + [(b, True) for b in bwd.values()]
        for st, backward in passes:
            keys = {(kind, key, st.segment)
                    for g in range(st.groups)
                    for kind, key, cyc, _ in self._segments(st, g, backward)
                    if kind is not None and cyc > 0}
            for k in keys:
                users[k] = users.get(k, 0) + 1
        return {k for k, n in users.items() if n > 1}

    def _n_links_used(self) -> int:
        """Directed links of the chips in use (for link utilization)."""
        m = self.mesh
        w, h = m.width, m.height
        per_chip = 2 * ((w - 1) * h + (h - 1) * w)
        chips = {t // self.cfg.chip.tiles for s in self.stages for t in s.tiles}
        return max(1, per_chip * len(chips))
