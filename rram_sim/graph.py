"""The network graph, typed once: how a network's layers, pools and activations connect.

A graph is a list of :class:`GraphNode` in topological order (every input names an earlier node).
The bundle stores it (:mod:`rram_sim.bundle`), the front-end builds it (``pruning.export``) and the
engine turns it into pipeline stages (:mod:`rram_sim.engine.plan`); all three use this one type and
these checks.

Ops: the crossbar ops ``conv`` and ``linear`` (a node named after its mapped layer), the digital ops
``relu``, ``maxpool``, ``avgpool``, ``add``, ``flatten``, ``softmax``, and ``input`` (the network's
input; ``params["shape"]`` is its ``(C, H, W)`` or ``(features,)`` shape when known).

:func:`check_graph` is the one home of graph checks: each node on its own (op, params, inputs),
the graph's structure, and the shapes propagated from the input through every node against every
layer's spec (:func:`graph_shapes`), so a graph the engine cannot run is refused when a bundle is
mapped or loaded.

Adding a new op: append its name to :data:`CROSSBAR_OPS` or :data:`DIGITAL_OPS`, give it a row in
:data:`OP_PARAMS` and :data:`OP_ARITY`, teach :func:`graph_shapes` its output shape and
``rram_sim.engine.plan.build_plan`` its output shape and row dependency.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rram_sim.errors import LayoutError
from rram_sim.layout import LAYER_KINDS
from rram_sim.limits import check_shape, short_repr

if TYPE_CHECKING:
    from rram_sim.layout import LayerSpec

CROSSBAR_OPS: tuple[str, ...] = LAYER_KINDS
DIGITAL_OPS = ("relu", "maxpool", "avgpool", "add", "flatten", "softmax")
OPS = ("input",) + CROSSBAR_OPS + DIGITAL_OPS


@dataclass
class GraphNode:
    """One node of the network graph. ``conv`` and ``linear`` nodes are named after their layer;
    ``params`` holds an op's settings (see :data:`OP_PARAMS`, e.g. ``{"kernel": 2, "stride": 2}``
    for a pool, ``{"shape": [1, 8, 8]}`` for the input)."""

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


def _is_int(v: Any, lo: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _int_or_pair(lo: int) -> Callable[[Any], str | None]:
    """A check: an integer >= lo, or a pair of them (rows, columns)."""
    def check(v: Any) -> str | None:
        if _is_int(v, lo):
            return None
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_int(i, lo) for i in v):
            return None
        return f"must be an integer >= {lo} or a pair of them"
    return check


def _shape(v: Any) -> str | None:
    if isinstance(v, (list, tuple)) and len(v) in (1, 3) and all(_is_int(i, 1) for i in v):
        return check_shape(v, "the shape")
    return "must be a list of 1 or 3 integers >= 1 ((features,) or (C, H, W))"


def _flag(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


_POOL = {"kernel": _int_or_pair(1), "kernel_size": _int_or_pair(1), "stride": _int_or_pair(1),
         "padding": _int_or_pair(0), "global": _flag}
# Per op: the params it accepts, each with a check returning None or the broken rule.
OP_PARAMS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "input": {"shape": _shape},
    "conv": {},
    "linear": {},
    "relu": {},
    "maxpool": _POOL,
    "avgpool": _POOL,
    "add": {},
    "flatten": {},
    "softmax": {},
}
# Per op: (fewest, most) inputs; None: no upper bound.
OP_ARITY: dict[str, tuple[int, int | None]] = {
    "input": (0, 0), "conv": (1, 1), "linear": (1, 1), "relu": (1, 1), "maxpool": (1, 1),
    "avgpool": (1, 1), "add": (2, None), "flatten": (1, 1), "softmax": (1, 1),
}


def check_node(node: GraphNode, index: int) -> None:
    """One node on its own: name, op, params (known keys, valid values) and input count.
    Raises LayoutError naming the node."""
    if not isinstance(node.name, str) or not node.name:
        raise LayoutError(f"graph node {index}: name {short_repr(node.name)} must be a non-empty "
                          f"string")
    where = f"graph node {index} ({short_repr(node.name)})"
    if not isinstance(node.op, str) or node.op not in OPS:
        raise LayoutError(f"{where}: op={short_repr(node.op)} must be one of {', '.join(OPS)}")
    if not isinstance(node.params, dict):
        raise LayoutError(f"{where}: params must be a mapping")
    allowed = OP_PARAMS[node.op]
    for key, value in node.params.items():
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise LayoutError(f"{where}: param {short_repr(key)} is not one of op {node.op}'s "
                              f"({known})")
        rule = allowed[key](value)
        if rule:
            raise LayoutError(f"{where}: params.{key}={short_repr(value)}: {rule}")
    lo, hi = OP_ARITY[node.op]
    n = len(node.inputs)
    if n < lo or (hi is not None and n > hi):
        want = (f"exactly {lo}" if lo == hi else f"at least {lo}" if hi is None
                else f"{lo} to {hi}")
        raise LayoutError(f"{where}: op {node.op} takes {want} input(s), got {n}")


def check_graph(graph: Sequence[GraphNode], specs: Sequence[LayerSpec],
                err: type[Exception] = LayoutError) -> None:
    """Every node valid (:func:`check_node`), names unique, inputs defined earlier, every layer of
    ``specs`` exactly once as its node, and the shapes chaining through the whole graph
    (:func:`graph_shapes`). Raises ``err`` with one line naming the node."""
    kinds = {s.name: s.kind for s in specs}
    seen: set[str] = set()
    for i, node in enumerate(graph):
        try:
            check_node(node, i)
        except LayoutError as exc:
            raise err(str(exc)) from None
        where = f"graph node {i} ({short_repr(node.name)})"
        if node.name in seen:
            raise err(f"{where}: duplicate node name")
        for src in node.inputs:
            if src not in seen:
                raise err(f"{where}: input {short_repr(src)} is not an earlier node")
        if node.op in CROSSBAR_OPS:
            if kinds.get(node.name) != node.op:
                raise err(f"{where}: a {node.op} node must be named after a {node.op} layer")
        elif node.name in kinds:
            raise err(f"{where}: layer '{node.name}' must be a {kinds[node.name]} node")
        seen.add(node.name)
    missing = [n for n in kinds if n not in seen]
    if graph and missing:
        raise err(f"graph: layer(s) {', '.join(missing)} have no node")
    if graph:
        try:
            graph_shapes(graph, specs)
        except LayoutError as exc:
            raise err(str(exc)) from None


def per_axis(v: Any, default: tuple[int, int]) -> tuple[int, int]:
    """A pool setting (an integer, a pair, or None for ``default``) as (rows, columns)."""
    if v is None:
        return default
    if isinstance(v, (list, tuple)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def pool_window(params: dict[str, Any]) -> tuple[int, int, int, int, int, int]:
    """A pool node's (kernel rows, kernel cols, stride rows, stride cols, padding rows, padding
    cols): kernel default 2x2, stride default the kernel, padding default 0."""
    kh, kw = per_axis(params.get("kernel", params.get("kernel_size")), (2, 2))
    sh, sw = per_axis(params.get("stride"), (kh, kw))
    ph, pw = per_axis(params.get("padding"), (0, 0))
    return kh, kw, sh, sw, ph, pw


def _pool_shape(node: GraphNode, src: tuple[int, ...], where: str) -> tuple[int, ...]:
    if len(src) != 3:
        raise LayoutError(f"{where}: pooling needs a (C, H, W) input, got shape {src}")
    c, h, w = src
    # The engine models square windows on square maps (as the front-end exports them).
    if node.params.get("global"):
        if h != w:
            raise LayoutError(f"{where}: a global pool needs a square map, got shape {src}")
        return (c, 1, 1)
    kh, kw, sh, sw, ph, pw = pool_window(node.params)
    if kh != kw or sh != sw or ph != pw:
        raise LayoutError(f"{where}: non-square pooling (kernel {kh}x{kw}, stride {sh}x{sw}, "
                          f"padding {ph}x{pw}) is not supported")
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise LayoutError(f"{where}: a {kh}x{kw} pool (padding {ph}, {pw}) does not fit its "
                          f"input of shape {src}")
    return (c, oh, ow)


def graph_shapes(graph: Sequence[GraphNode], specs: Sequence[LayerSpec]
                 ) -> dict[str, tuple[int, ...]]:
    """The output shape of every node of a structurally valid graph (see :func:`check_graph`),
    propagated from the input: an ``input`` node has its ``shape`` param (the first node may omit
    it and take the first layer's input shape, as the engine does); a ``conv`` or ``linear`` node
    must receive exactly its layer's ``input_shape`` and gives its ``output_shape``; pools shrink
    the map (and must fit it), ``flatten`` gives ``(C*H*W,)``, ``add`` needs equal shapes, ``relu``
    and ``softmax`` keep the shape. Raises LayoutError naming the first node that does not fit,
    or whose shape exceeds the size limits of :mod:`rram_sim.limits`."""
    by_name = {s.name: s for s in specs}
    shapes: dict[str, tuple[int, ...]] = {}
    for i, node in enumerate(graph):
        where = f"graph node {i} ({short_repr(node.name)})"
        ins = [shapes[s] for s in node.inputs]
        if node.op == "input":
            if "shape" in node.params:
                shape = tuple(int(v) for v in node.params["shape"])
            elif i == 0 and specs:
                shape = tuple(int(v) for v in specs[0].input_shape)
            else:
                raise LayoutError(f"{where}: an input node other than the first needs "
                                  f"params.shape")
        elif node.op in CROSSBAR_OPS:
            spec = by_name[node.name]
            want = tuple(int(v) for v in spec.input_shape)
            if ins[0] != want:
                raise LayoutError(f"{where}: receives shape {ins[0]} from "
                                  f"{short_repr(node.inputs[0])} but layer '{spec.name}' takes "
                                  f"input_shape {want}")
            shape = tuple(int(v) for v in spec.output_shape)
        elif node.op in ("maxpool", "avgpool"):
            shape = _pool_shape(node, ins[0], where)
        elif node.op == "flatten":
            shape = (math.prod(ins[0]),)
        elif node.op == "add":
            if any(s != ins[0] for s in ins[1:]):
                raise LayoutError(f"{where}: adds inputs of different shapes "
                                  f"{', '.join(str(s) for s in ins)}")
            shape = ins[0]
        else:   # relu, softmax
            shape = ins[0]
        problem = check_shape(shape, f"{where}: output shape {short_repr(shape)}")
        if problem:
            raise LayoutError(problem)
        shapes[node.name] = shape
    return shapes


def default_graph(specs: Sequence[LayerSpec]) -> list[GraphNode]:
    """A plain chain: input, then the layers in order, with a flatten before a linear layer that
    follows a conv. It has no activations or pools; pass a graph to describe them. (This is what
    a bundle mapped without a graph stores; the input node carries no shape.)"""
    graph = [GraphNode("input", "input")]
    prev, prev_kind = "input", None
    for s in specs:
        if s.kind == "linear" and prev_kind == "conv":
            graph.append(GraphNode(f"{s.name}.flatten", "flatten", [prev]))
            prev = graph[-1].name
        graph.append(GraphNode(s.name, s.kind, [prev]))
        prev, prev_kind = s.name, s.kind
    return graph


def chain_graph(specs: Sequence[LayerSpec]) -> list[GraphNode]:
    """:func:`default_graph` with the input node's ``shape`` (the first layer's input), as the
    engine needs it. Raises LayoutError for no layers."""
    if not specs:
        raise LayoutError("network: no layers to simulate")
    graph = default_graph(specs)
    graph[0].params["shape"] = tuple(specs[0].input_shape)
    return graph
