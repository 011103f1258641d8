"""The plan: a network graph turned into pipeline stages the discrete-event model can run.

Each node of the network graph (``input``, ``conv``, ``linear``, ``relu``, ``maxpool``, ``avgpool``,
``add``, ``flatten``, ``softmax``) becomes a :class:`Stage` that produces its output as a stream of
*row groups*: a 3-D output ``(C, H, W)`` has ``H`` rows (one row = ``W`` output positions moving in
lockstep); a vector has one row. Rows are grouped so that no stage has more than ``max_groups``
groups per image (``rows_per_group = ceil(H / max_groups)``): one event sequence per group,
so the simulator's work grows with layers x output rows, not with MACs.

A stage's input edge says how many producer rows an output group needs:

- ``window``: a conv or pooling window, output row ``r`` needs input rows up to
  ``r*stride - pad + k - 1`` (ISAAC: a layer starts a row as soon as its window has arrived);
- ``same``: row ``r`` needs row ``r`` (activation, residual add);
- ``all``: the whole input (linear layers, flatten, softmax).

Every stage sits on tiles: a crossbar layer on the tiles of its placement (its *home* tile, the
first, gathers the outputs and sends them on), a digital stage on the home tile of its first input.

A network too large for the chip can run in *segments* (``overflow="reload"``): consecutive crossbar
layers that fit the chip together (:func:`rram_sim.placement.segment_layers`), each placed on the
chip from its first PE, programmed in turn over the previous one. Every stage carries its segment
(a digital stage: the latest segment among its inputs) and, for a crossbar layer, the rows its
busiest PE programs (``program_rows``), from which :func:`.timing.program_cycles` follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rram_sim.config import Config
from rram_sim.engine.timing import LayerGeometry, geometry_from_layout
from rram_sim.errors import ConfigError, LayoutError
from rram_sim.graph import CROSSBAR_OPS, OPS, GraphNode, chain_graph

OVERFLOW_POLICIES = ("error", "multi_chip", "reload")
DEFAULT_MAX_GROUPS = 8


@dataclass
class Stage:
    """One pipeline stage (see the module docstring)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    out_shape: tuple[int, ...]
    rows: int                      # output rows per image
    rows_per_group: int
    dep: str                       # "window" | "same" | "all" | "none"
    window: tuple[int, int, int]   # (kernel rows, stride, padding) for dep "window"
    tiles: tuple[int, ...]         # global tile ids (chip * chip.tiles + tile), home first
    copies: int = 1
    layout: Any = None
    geom: LayerGeometry | None = None
    pool_k: int = 1                # kernel elements per pooled output
    fwd_positions: int = 0         # backward stages: output positions of the forward layer
    segment: int = 0               # reload segment the stage runs in (0 when the network fits)
    program_rows: int = 0          # rows the busiest PE writes to program the layer (all copies)

    def __post_init__(self) -> None:
        self._values = int(np.prod(self.out_shape))

    @property
    def groups(self) -> int:
        return math.ceil(self.rows / self.rows_per_group)

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
        return self.rows * (self.out_shape[2] if len(self.out_shape) == 3 else 1)

    def group_rows(self, g: int) -> int:
        return min(self.rows, (g + 1) * self.rows_per_group) - g * self.rows_per_group

    def group_positions(self, g: int) -> int:
        return self.group_rows(g) * (self.out_shape[2] if len(self.out_shape) == 3 else 1)

    def group_values(self, g: int) -> int:
        return self.values * self.group_rows(g) // self.rows


def rows_needed(dep: str, window: tuple[int, int, int], last_row: int, in_rows: int) -> int:
    """Input rows (counted from 0) an output row ``last_row`` needs."""
    if dep == "all":
        return in_rows
    if dep == "same":
        return min(in_rows, last_row + 1)
    k, s, p = window
    return max(1, min(in_rows, last_row * s - p + k))


def groups_needed(consumer: Stage, g: int, producer: Stage, dep: str | None = None,
                  window: tuple[int, int, int] | None = None, rows: int | None = None) -> int:
    """Producer groups the consumer's group ``g`` waits for."""
    last = min(consumer.rows, (g + 1) * consumer.rows_per_group) - 1
    in_rows = producer.rows if rows is None else rows
    need = rows_needed(dep or consumer.dep, window or consumer.window, last, in_rows)
    if in_rows != producer.rows:  # a row-space change (e.g. error rows): scale proportionally
        need = math.ceil(need * producer.rows / in_rows)
    return min(producer.groups, math.ceil(need / producer.rows_per_group))


def _pair(v: Any, default: int) -> int:
    if v is None:
        return default
    if isinstance(v, (list, tuple)):
        return int(v[0])
    return int(v)


def _shape_rows(shape: tuple[int, ...]) -> int:
    return int(shape[1]) if len(shape) == 3 else 1


def _rows_per_group(rows: int, max_groups: int) -> int:
    return max(1, math.ceil(rows / max_groups))


def build_plan(graph: list[GraphNode], layouts: dict[str, Any], cfg: Config,
               tiles: dict[str, tuple[int, ...]], copies: dict[str, int] | None = None,
               max_groups: int = DEFAULT_MAX_GROUPS, segments: dict[str, int] | None = None,
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
                   rows=rows, rows_per_group=_rows_per_group(rows, max_groups), dep=dep,
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
    """Per layer: used rows over the crossbars of its busiest PE, all copies (one write-driver
    set per PE programs its crossbars one after another)."""
    out = {}
    for name, loc in zip(placement.layer_names, placement.location):
        rows = np.asarray(geometry_from_layout(layouts[name], cfg).rows_per_crossbar, np.int64)
        loc = np.asarray(loc, dtype=np.int64)
        if rows.size == 0 or loc.size == 0:
            out[name] = 0
            continue
        pe = (loc[..., 0] * cfg.chip.tiles + loc[..., 1]) * cfg.tile.pes + loc[..., 2]
        per_pe = np.bincount(pe.ravel(), weights=np.broadcast_to(rows, pe.shape).ravel())
        out[name] = int(per_pe.max())
    return out


def plan_from_bundle(bundle, cfg: Config, max_groups: int = DEFAULT_MAX_GROUPS,
                     replace_placement: bool = False, overflow: str | None = None) -> list[Stage]:
    """Stages of a mapped network (a :class:`rram_sim.bundle.Bundle`).

    ``overflow=None`` honours the bundle's placement (``replace_placement`` places the crossbars
    afresh on ``cfg``, a chip of another size than the bundle's, spilling onto more chips if
    needed). Otherwise the crossbars are placed afresh on ``cfg`` and a network larger than one
    chip raises MappingError (``"error"``), spills onto further chips (``"multi_chip"``) or runs
    on one chip in reload segments (``"reload"``)."""
    from rram_sim.placement import place, segment_layers

    if overflow is not None and overflow not in OVERFLOW_POLICIES:
        raise ConfigError(f"overflow={overflow!r}: must be one of {', '.join(OVERFLOW_POLICIES)}")
    layouts = {lay.spec.name: lay for lay in bundle.layers}
    graph = _graph_from_bundle(bundle)
    placement = getattr(bundle, "placement", None)
    reps = dict(zip(placement.layer_names, placement.replication)) if placement else None
    fresh = bool(placement.fresh_tile) if placement else False
    if overflow is None and placement is not None and not replace_placement:
        tiles, copies = tiles_from_placement(placement, cfg)
        return build_plan(graph, layouts, cfg, tiles, copies, max_groups)
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
                   allow_multi_chip=overflow in (None, "multi_chip"), fresh_tile=fresh)
        t, c = tiles_from_placement(pl, cfg)
        tiles.update(t)
        copies.update(c)
        segments.update(dict.fromkeys(names, s_i))
        if len(groups) > 1:
            prog.update(_program_rows(pl, layouts, cfg))
    return build_plan(graph, layouts, cfg, tiles, copies, max_groups, segments, prog)
