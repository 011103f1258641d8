"""The plan: a network graph turned into pipeline stages the discrete-event model can run.

Each node of the network graph (``input``, ``conv``, ``linear``, ``relu``, ``maxpool``, ``avgpool``,
``add``, ``flatten``, ``softmax``) becomes a :class:`Stage` whose output is a stream of *vectors*:
a 3-D output ``(C, H, W)`` has ``H x W`` output positions in raster order, each one vector of ``C``
values (for a crossbar layer: one input vector into its crossbars, one MVM); a 1-D output is one
vector. Every stage moves one vector per group (one event sequence per vector and stage), except
the network input, which arrives row by row over the off-chip links (one group = one row).
The simulator's work grows with layers x output positions x images, not with MACs.

A stage's input edge says how many producer positions an output vector needs (raster order):

- ``window``: a conv or pooling window, output ``(r, c)`` needs the input up to row
  ``r*stride - pad + k - 1`` and, in that row, column ``c*stride - pad + k - 1`` (ISAAC: a layer
  starts a vector as soon as its window has arrived);
- ``same``: position ``i`` needs position ``i`` (activation, residual add);
- ``all``: the whole input (linear layers, flatten, softmax).

Every stage sits on tiles: a crossbar layer on the tiles of its placement (its *home* tile, the
first, gathers the outputs and sends them on), a digital stage on the home tile of its first input.

A network too large for the chip can run in *segments* (``overflow="reload"``): consecutive crossbar
layers that fit the chip together (:func:`rram_sim.placement.segment_layers`), each placed on the
chip from its first PE, programmed in turn over the previous one. Every stage carries its segment
(a digital stage: the latest segment among its inputs) and, for a crossbar layer, the rows its
busiest PE programs (``program_rows``: rows x batches of ``pe.write_drivers`` cells), from which
:func:`.timing.program_cycles` follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rram_sim.config import Config
from rram_sim.engine.timing import LayerGeometry, geometry_from_layout, write_batches_per_crossbar
from rram_sim.errors import ConfigError, LayoutError
from rram_sim.graph import CROSSBAR_OPS, OPS, GraphNode, chain_graph

OVERFLOW_POLICIES = ("error", "multi_chip", "reload")


@dataclass
class Stage:
    """One pipeline stage (see the module docstring)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    out_shape: tuple[int, ...]
    rows: int                      # output rows per image
    group_len: int                 # output positions per group (1: one vector; input: one row)
    dep: str                       # "window" | "same" | "all" | "none"
    window: tuple[int, int, int]   # (kernel rows, stride, padding) for dep "window"
    tiles: tuple[int, ...]         # global tile ids (chip * chip.tiles + tile), home first
    copies: int = 1
    layout: Any = None
    geom: LayerGeometry | None = None
    pool_k: int = 1                # kernel elements per pooled output
    fwd_positions: int = 0         # backward stages: output positions of the forward layer
    segment: int = 0               # reload segment the stage runs in (0 when the network fits)
    program_rows: int = 0          # row batches the busiest PE writes to program the layer

    def __post_init__(self) -> None:
        self._values = int(np.prod(self.out_shape))
        self._positions = self.rows * self.width

    @property
    def width(self) -> int:
        """Output positions per row."""
        return int(self.out_shape[2]) if len(self.out_shape) == 3 else 1

    @property
    def groups(self) -> int:
        return -(-self._positions // self.group_len)

    @property
    def home(self) -> int:
        return self.tiles[0]

    @property
    def values(self) -> int:
        """Output values per image."""
        return self._values

    @property
    def positions(self) -> int:
        """Output positions per image (input vectors of a crossbar layer)."""
        return self._positions

    def group_positions(self, g: int) -> int:
        return min(self._positions, (g + 1) * self.group_len) - g * self.group_len

    def group_values(self, g: int) -> int:
        return self.values * self.group_positions(g) // self._positions


def needs_of(consumer: Stage, producer: Stage) -> list[int]:
    """Per consumer group: producer groups it waits for (non-decreasing: a consumer takes its
    producer's groups in order)."""
    pp = producer.positions
    last = np.minimum(consumer.positions,
                      (np.arange(consumer.groups) + 1) * consumer.group_len) - 1
    if consumer.dep == "all":
        need = np.full(consumer.groups, pp)
    elif consumer.dep == "same":
        need = np.minimum(pp, -(-(last + 1) * pp // consumer.positions))
    else:
        k, s, p = consumer.window
        r, c = np.divmod(last, consumer.width)
        rows = np.clip(r * s - p + k, 1, producer.rows)
        cols = np.clip(c * s - p + k, 1, producer.width)
        need = (rows - 1) * producer.width + cols
    groups = np.minimum(producer.groups, -(-need // producer.group_len))
    return np.maximum.accumulate(groups).astype(int).tolist()


def _pair(v: Any, default: int) -> int:
    if v is None:
        return default
    if isinstance(v, (list, tuple)):
        return int(v[0])
    return int(v)


def _shape_rows(shape: tuple[int, ...]) -> int:
    return int(shape[1]) if len(shape) == 3 else 1


def _group_len(op: str, shape: tuple[int, ...]) -> int:
    """One vector per group; the network input arrives one row per group."""
    return int(shape[2]) if op == "input" and len(shape) == 3 else 1


def build_plan(graph: list[GraphNode], layouts: dict[str, Any], cfg: Config,
               tiles: dict[str, tuple[int, ...]], copies: dict[str, int] | None = None,
               segments: dict[str, int] | None = None,
               program_rows: dict[str, int] | None = None) -> list[Stage]:
    """Stages in graph order; ``tiles[layer]`` lists a crossbar layer's global tile ids,
    ``segments[layer]`` its reload segment and ``program_rows[layer]`` the rows its busiest PE
    programs (both optional: one segment, nothing to program)."""
    copies = copies or {}
    segments = segments or {}
    program_rows = program_rows or {}
    stages: dict[str, Stage] = {}
    for node in graph:
        if node.op not in OPS:
            raise LayoutError(f"graph node '{node.name}': op '{node.op}' is not one of "
                              f"{', '.join(OPS)}")
        for src in node.inputs:
            if src not in stages:
                raise LayoutError(f"graph node '{node.name}': input '{src}' is not an earlier "
                                  f"node of the graph")
        ins = [stages[s] for s in node.inputs]
        params = dict(node.params or {})
        window = (1, 1, 0)
        layout, geom, pool_k = None, None, 1
        seg = max((s.segment for s in ins), default=0)
        prog = 0
        if node.op == "input":
            shape = tuple(int(v) for v in params.get("shape", ()))
            if not shape:
                raise LayoutError(f"graph node '{node.name}': input without a 'shape'")
            dep, node_tiles = "none", None
        elif node.op in CROSSBAR_OPS:
            key = params.get("layer", node.name)
            if key not in layouts:
                raise LayoutError(f"graph node '{node.name}': no mapped layer named '{key}'")
            layout = layouts[key]
            geom = geometry_from_layout(layout, cfg)
            spec = layout.spec
            shape = tuple(spec.output_shape)
            if node.op == "conv":
                dep, window = "window", (spec.weight_shape[2], spec.stride[0], spec.padding[0])
            else:
                dep = "all"
            node_tiles = tuple(tiles[key])
            own = int(segments.get(key, 0))
            if own < seg:
                raise LayoutError(f"graph node '{node.name}': reload segment {own} runs before "
                                  f"segment {seg} of its input; segments follow the graph order")
            seg, prog = own, int(program_rows.get(key, 0))
        else:
            if not ins:
                raise LayoutError(f"graph node '{node.name}': op '{node.op}' needs an input")
            src = ins[0].out_shape
            node_tiles = (ins[0].home,)
            if node.op in ("maxpool", "avgpool"):
                if len(src) != 3:
                    raise LayoutError(f"graph node '{node.name}': pooling needs a (C, H, W) input")
                k = _pair(params.get("kernel", params.get("kernel_size")), 2)
                s = _pair(params.get("stride"), k)
                p = _pair(params.get("padding"), 0)
                if params.get("global"):
                    k, s, p = src[1], 1, 0
                oh = (src[1] + 2 * p - k) // s + 1
                ow = (src[2] + 2 * p - k) // s + 1
                shape, dep, window, pool_k = (src[0], oh, ow), "window", (k, s, p), k * k
            elif node.op == "flatten":
                shape, dep = (int(np.prod(src)),), "all"
            elif node.op == "softmax":
                shape, dep = tuple(src), "all"
            else:  # relu, add
                shape, dep = tuple(src), "same"
        rows = _shape_rows(shape)
        st = Stage(name=node.name, op=node.op, inputs=tuple(node.inputs), out_shape=shape,
                   rows=rows, group_len=_group_len(node.op, shape), dep=dep,
                   window=window, tiles=node_tiles or (0,), copies=int(copies.get(node.name, 1)),
                   layout=layout, geom=geom, pool_k=pool_k, segment=seg, program_rows=prog)
        stages[node.name] = st
    return list(stages.values())


def consumers(stages: list[Stage]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {s.name: [] for s in stages}
    for s in stages:
        for i in s.inputs:
            out[i].append(s.name)
    return out


def _graph_from_bundle(bundle) -> list[GraphNode]:
    """The bundle's graph (copied; the input node given the first layer's input shape when it
    has none), or the plain chain of its layers when it has no graph."""
    graph = getattr(bundle, "graph", None)
    if not graph:
        return chain_graph([lay.spec for lay in bundle.layers])
    nodes = [GraphNode(g.name, g.op, list(g.inputs), dict(g.params)) for g in graph]
    if nodes[0].op == "input" and "shape" not in nodes[0].params and bundle.layers:
        nodes[0].params["shape"] = tuple(bundle.layers[0].spec.input_shape)
    return nodes


def tiles_from_placement(placement, cfg: Config) -> tuple[dict[str, tuple[int, ...]],
                                                          dict[str, int]]:
    """Global tile ids (first tile of copy 0 first) and copies per layer of a Placement."""
    tiles, copies = {}, {}
    for name, loc, rep in zip(placement.layer_names, placement.location, placement.replication):
        flat = np.asarray(loc).reshape(-1, 4)
        gid = flat[:, 0].astype(np.int64) * cfg.chip.tiles + flat[:, 1]
        _, first = np.unique(gid, return_index=True)
        tiles[name] = tuple(int(t) for t in gid[np.sort(first)]) or (0,)
        copies[name] = int(rep)
    return tiles, copies


def _program_rows(placement, layouts: dict[str, Any], cfg: Config) -> dict[str, int]:
    """Per layer: row batches (:func:`.timing.write_batches_per_crossbar`) over the crossbars of
    its busiest PE, all copies (one write-driver set per PE programs its crossbars one after
    another)."""
    out = {}
    for name, loc in zip(placement.layer_names, placement.location):
        rows = write_batches_per_crossbar(geometry_from_layout(layouts[name], cfg), cfg)
        loc = np.asarray(loc, dtype=np.int64)
        if rows.size == 0 or loc.size == 0:
            out[name] = 0
            continue
        pe = (loc[..., 0] * cfg.chip.tiles + loc[..., 1]) * cfg.tile.pes + loc[..., 2]
        per_pe = np.bincount(pe.ravel(), weights=np.broadcast_to(rows, pe.shape).ravel())
        out[name] = int(per_pe.max())
    return out


def plan_from_bundle(bundle, cfg: Config, replace_placement: bool = False,
                     overflow: str | None = None,
                     replication: dict[str, int] | None = None) -> list[Stage]:
    """Stages of a mapped network (a :class:`rram_sim.bundle.Bundle`).

    ``overflow=None`` honours the bundle's placement (``replace_placement`` places the crossbars
    afresh on ``cfg``, a chip of another size than the bundle's, spilling onto more chips if
    needed). Otherwise the crossbars are placed afresh on ``cfg`` and a network larger than one
    chip raises MappingError (``"error"``), spills onto further chips (``"multi_chip"``) or runs
    on one chip in reload segments (``"reload"``). ``replication`` (copies per layer, from a
    placement policy of :mod:`rram_sim.placement_policies`) replaces the bundle's copies: the
    crossbars are placed afresh, every copy on fresh PEs (reload segments are refused)."""
    from rram_sim.placement import place, segment_layers

    if overflow is not None and overflow not in OVERFLOW_POLICIES:
        raise ConfigError(f"overflow={overflow!r}: must be one of {', '.join(OVERFLOW_POLICIES)}")
    layouts = {lay.spec.name: lay for lay in bundle.layers}
    graph = _graph_from_bundle(bundle)
    placement = getattr(bundle, "placement", None)
    reps = dict(zip(placement.layer_names, placement.replication)) if placement else None
    fresh = bool(placement.fresh_tile) if placement else False
    if replication is not None:
        if overflow == "reload":
            raise ConfigError("overflow='reload' with a placement policy's copies: a reload runs "
                              "the network segment by segment, copies are placed on one chip; "
                              "use placement 'none'")
        reps = dict(replication)
    if overflow is None and placement is not None and not replace_placement \
            and replication is None:
        tiles, copies = tiles_from_placement(placement, cfg)
        return build_plan(graph, layouts, cfg, tiles, copies)
    # Execution order: the crossbar layers as the graph visits them.
    order = [n.params.get("layer", n.name) for n in graph if n.op in CROSSBAR_OPS]
    order = [k for k in dict.fromkeys(order) if k in layouts]
    order += [k for k in layouts if k not in order]
    n_xb = [layouts[k].n_crossbars for k in order]
    if overflow == "reload":
        groups = segment_layers(n_xb, cfg, names=order, replication=reps, fresh_tile=fresh)
    else:
        groups = [list(range(len(order)))]
    tiles, copies, segments, prog = {}, {}, {}, {}
    for s_i, idx in enumerate(groups):
        names = [order[i] for i in idx]
        pl = place([n_xb[i] for i in idx], cfg, names=names,
                   replication={k: reps[k] for k in names if k in reps} if reps else None,
                   allow_multi_chip=overflow in (None, "multi_chip"), fresh_tile=fresh,
                   fresh_pe_per_copy=replication is not None)
        t, c = tiles_from_placement(pl, cfg)
        tiles.update(t)
        copies.update(c)
        segments.update(dict.fromkeys(names, s_i))
        if len(groups) > 1:
            prog.update(_program_rows(pl, layouts, cfg))
    return build_plan(graph, layouts, cfg, tiles, copies, segments, prog)
