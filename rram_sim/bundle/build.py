"""Building a bundle: map every layer of a network, place its crossbars, gather the figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rram_sim import __version__
from rram_sim.bundle.types import Bundle
from rram_sim.config import Config
from rram_sim.errors import MappingError
from rram_sim.graph import GraphNode, check_graph, default_graph
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer, network_figures
from rram_sim.placement import place


def _per_layer(arg: Any, specs: Sequence[LayerSpec], what: str, required: bool) -> list[Any]:
    names = [s.name for s in specs]
    if arg is None:
        if required:
            raise MappingError(f"{what}: required, one per layer")
        return [None] * len(specs)
    if isinstance(arg, Mapping):
        unknown = sorted(set(arg) - set(names))
        if unknown:
            raise MappingError(f"{what}: unknown layer(s) {', '.join(unknown)}")
        missing = [n for n in names if n not in arg]
        if required and missing:
            raise MappingError(f"{what}: missing for layer(s) {', '.join(missing)}")
        return [arg.get(n) for n in names]
    arg = list(arg)
    if len(arg) != len(specs):
        raise MappingError(f"{what}: {len(arg)} given for {len(specs)} layers")
    return arg


def map_network(specs: Sequence[LayerSpec], weights: Any, cfg: Config, scheme: str = "dense",
                masks: Any = None, biases: Any = None, graph: Sequence[GraphNode] | None = None,
                replication: Any = None, allow_multi_chip: bool = False,
                fresh_tile: bool = False) -> Bundle:
    """Map every layer (weights, masks, biases: lists aligned with ``specs`` or dicts by layer
    name), place the crossbars, and gather the figures. Golden vectors start empty; add them with
    ``bundle.golden[name] = golden_from_numpy(...)``."""
    specs = list(specs)
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise MappingError(f"layers: duplicate name(s) {', '.join(dup)}")
    ws = _per_layer(weights, specs, "weights", required=True)
    ms = _per_layer(masks, specs, "masks", required=False)
    bs = _per_layer(biases, specs, "biases", required=False)
    layers = [map_layer(s, w, cfg, scheme, mask=m, bias=b) for s, w, m, b in zip(specs, ws, ms, bs)]
    graph = list(graph) if graph is not None else default_graph(specs)
    check_graph(graph, specs, MappingError)
    placement = place([lay.n_crossbars for lay in layers], cfg, names=names,
                      replication=replication, allow_multi_chip=allow_multi_chip,
                      fresh_tile=fresh_tile)
    figures = {**network_figures([lay.figures for lay in layers]), **placement.figures}
    meta = {"producer": "rram_sim.bundle.map_network", "rram_sim_version": __version__,
            "config_hash": cfg.config_hash()}
    return Bundle(config=cfg, scheme=scheme, layers=layers, placement=placement, graph=graph,
                  golden={}, figures=figures, meta=meta)
