"""The discrete-event chip model: SimPy processes for stages, resources for shared hardware.

One SimPy process runs each stage of the plan (:mod:`rram_sim.engine.plan`). For every image and
every row group of its output it (1) takes from its input ``Store``s the producer groups its window
needs, waiting for their NoC transfers to land, (2) spends the group's step time on the hardware it
uses, and (3) puts one token per consumer into the consumer's input ``Store`` and starts the
transfer of the group's data. The stores have a capacity (the rows the consumer's eDRAM buffer
holds, at least one window), so a slow consumer back-pressures its producer.

Shared, contended hardware is a ``simpy.Resource``:

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
"""

from __future__ import annotations

import math
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
    """A SimPy environment that counts the events it schedules."""

    def __init__(self) -> None:
        super().__init__()
        self.n_events = 0

    def schedule(self, event, priority=1, delay=0):  # noqa: D102 - simpy signature
        self.n_events += 1
        super().schedule(event, priority, delay)


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
    def _transfer(self, src: int, dsts: tuple[int, ...], bits: int, rec: StageRecord):
        """Move ``bits`` from tile ``src`` to tiles ``dsts`` of one chip (``src < 0`` or another
        chip: over an off-chip link). Several destinations form one multicast along the union of
        their XY routes; it lasts as long as its longest route."""
        cfg = self.cfg
        n_tiles = cfg.chip.tiles
        chip_s, chip_d = src // n_tiles, dsts[0] // n_tiles
        if src < 0 or chip_s != chip_d:
            cyc = T.offchip_cycles(bits, cfg)
            with self.offchip.request() as req:
                yield req
                yield self.env.timeout(cyc)
            rec.busy_cycles["offchip"] += cyc
            rec.counts.offchip_bytes += math.ceil(bits / 8)
            return
        routes = [self.mesh.route(src % n_tiles, d % n_tiles) for d in dsts]
        links = sorted({link for r in routes for link in r})
        cyc = message_cycles(bits, max(len(r) for r in routes), cfg)
        # Links are taken in a global order, so two messages can never wait on each other.
        reqs = []
        for link in links:
            res = self.resource("link", (chip_s,) + link)
            req = res.request()
            yield req
            reqs.append((res, req))
        yield self.env.timeout(cyc)
        for res, req in reqs:
            res.release(req)
        n_flits = T.flits(bits, cfg)
        self.link_busy += cyc * len(links)
        rec.busy_cycles["noc"] += cyc
        rec.counts.noc_flits += n_flits * len(dsts)
        rec.counts.noc_flit_hops += n_flits * len(links)

    def _send(self, src: int, dst_tiles: tuple[int, ...], bits: int, rec: StageRecord):
        """Start the transfer of one group to a consumer's tiles (one destination per distinct
        router, one multicast per chip); returns its completion event, or None."""
        n_tiles, conc = self.cfg.chip.tiles, self.mesh.concentration
        # Data already on one of the consumer's tiles needs no message to that tile's router.
        seen = {(src // n_tiles, (src % n_tiles) // conc)} if src in dst_tiles else set()
        by_chip: dict[int, list[int]] = {}
        for dst in dst_tiles:
            key = (dst // n_tiles, (dst % n_tiles) // conc)
            if dst == src or key in seen:
                continue
            seen.add(key)
            by_chip.setdefault(key[0], []).append(dst)
        events = [self.env.process(self._transfer(src, tuple(d), bits, rec))
                  for d in by_chip.values()]
        if not events:
            return None
        return events[0] if len(events) == 1 else simpy.AllOf(self.env, events)

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
            return [] if backward else [(None, None, 0, "offchip")]
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

    def _count_digital(self, st: Stage, g: int, rec: StageRecord, backward: bool) -> None:
        vals = st.group_values(g)
        if st.op in ("maxpool", "avgpool"):
            rec.counts.pool_ops += vals * (1 if backward else st.pool_k)
        elif st.op in ("relu", "softmax"):
            rec.counts.activation_ops += vals
        elif st.op == "add":
            rec.counts.digital_adds += vals

    # -- processes ---------------------------------------------------------------------------------
    def _stage_proc(self, st: Stage, rec: StageRecord, in_edges, out_edges, backward: bool,
                    is_sink: bool):
        env = self.env
        got = [0] * len(in_edges)
        bits_per_value = self.cfg.precision.input_bits
        for img in range(self.n_images):
            for g in range(st.groups):
                for i, (store, need_fn, per_image) in enumerate(in_edges):
                    target = img * per_image + need_fn(g)
                    while got[i] < target:
                        tok = yield store.get()
                        got[i] += 1
                        if tok is not None and not tok.processed:
                            yield tok
                start = env.now
                if st.op == "input":
                    # The image arrives over the off-chip links into the first tile's eDRAM.
                    bits = st.group_values(g) * bits_per_value
                    yield env.process(self._transfer(-1, (st.home,), bits, rec))
                pending = 0  # uncontended segments run back to back: one timeout for all
                for kind, key, cyc, busy in self._segments(st, g, backward):
                    if cyc <= 0:
                        continue
                    if kind is None or (kind, key) not in self.shared:
                        pending += cyc
                        rec.busy_cycles[busy] += cyc
                        continue
                    if pending:
                        yield env.timeout(pending)
                        pending = 0
                    yield from self._hold(kind, key, cyc, rec, busy)
                if pending:
                    yield env.timeout(pending)
                self._count_digital(st, g, rec, backward)
                rec.mark(start, env.now)
                bits = st.group_values(g) * bits_per_value
                for store, dst_tiles in out_edges:
                    tok = self._send(st.home, dst_tiles, bits, rec)
                    yield store.put(tok)
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
                      geom=st.geom, pool_k=st.pool_k, fwd_positions=st.positions)
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
        in_edges: dict[int, list] = {}
        out_edges: dict[int, list] = {}
        for p, c, need_fn, is_b in edges:
            fan_out = len(cons_f.get(p.name, [])) > 1 and not is_b
            cap = self._capacity(p, c, need_fn(0), fan_out or is_b)
            store = simpy.Store(env, capacity=cap)
            in_edges.setdefault(id(c), []).append((store, need_fn, p.groups))
            out_edges.setdefault(id(p), []).append((store, c.tiles))
        self.shared = self._shared_keys(bwd)
        procs_f, procs_b = [], []
        sinks = [s for s in self.stages if not cons_f[s.name]]
        for st in self.stages:
            rec = StageRecord(st.name, st.op, "forward", st.tiles)
            self.records.append(rec)
            procs_f.append(env.process(self._stage_proc(
                st, rec, in_edges.get(id(st), []), out_edges.get(id(st), []), False,
                is_sink=(st is sinks[-1]))))
        for name in reversed([s.name for s in self.stages if s.name in bwd]):
            b = bwd[name]
            rec = StageRecord(b.name, b.op, "backward", b.tiles,
                              first_layer=self.by_name[b.inputs[0]].op == "input")
            self.records.append(rec)
            procs_b.append(env.process(self._stage_proc(
                b, rec, in_edges.get(id(b), []), out_edges.get(id(b), []), True,
                is_sink=False)))
        pulses: dict[str, int] = {}
        drain = [0]
        if self.training:
            def updater():
                yield simpy.AllOf(env, procs_b + procs_f)
                drain[0] = env.now
                ups = []
                for st in self.stages:
                    if st.geom is None:
                        continue
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
            env.process(updater())
        env.run()
        unfinished = [p for p in procs_f + procs_b if not p.processed]
        if unfinished:
            raise RuntimeError(f"engine deadlock: {len(unfinished)} stage(s) never finished")
        return SimResult(
            mode="training" if self.training else "inference", n_images=self.n_images,
            makespan_cycles=int(env.now), image_done_cycles=[int(t) for t in self.image_done],
            drain_cycles=int(drain[0]), records=self.records, link_busy_cycles=self.link_busy,
            n_links=self._n_links_used(), events=env.n_events, pulses_per_layer=pulses)

    def _shared_keys(self, bwd: dict) -> set:
        """Resources more than one stage uses: only these can be contended, so only these are
        requested; a stage's other segments are plain delays (same times, fewer events)."""
        users: dict[tuple, int] = {}
        all_stages = list(self.stages) + list(bwd.values())
        for st in all_stages:
            keys = {("edram", st.home), ("bus", st.home), ("digital", st.home)}
            if st.geom is not None:
                keys.add(("xbar", st.name))
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
