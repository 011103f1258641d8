"""Placement: which chip, tile, PE and crossbar slot holds each crossbar of each layer.

A chip has ``chip.tiles`` tiles, a tile ``tile.pes`` PEs, a PE ``pe.crossbars`` crossbar slots.
Layers are placed in order, each on a fresh PE (a PE's input register feeds one layer's inputs, so
two layers never share a PE); with ``fresh_tile=True`` each layer also starts a fresh tile (one
layer per tile, ISAAC's pipelining granularity). Within a layer, crossbars fill the slots of a PE,
then the next PE of the tile, then the next tile. A layer replicated ``r`` times (PipeLayer-style
copies that process different images in parallel) places copy 0's crossbars, then copy 1's, and so
on, back to back; with ``fresh_pe_per_copy=True`` (the placement policies of
:mod:`rram_sim.placement_policies`) every copy starts a fresh PE, so copies never share a PE's ADC
bank or write drivers.

A network needing more tiles than one chip has raises :class:`MappingError` unless
``allow_multi_chip=True``, in which case the tiles spill onto further chips (chip 1, 2, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rram_sim.config import Config
from rram_sim.errors import MappingError

LOCATION_FIELDS = ("chip", "tile", "pe", "slot")


@dataclass
class Placement:
    """Where every crossbar of every layer sits.

    ``location[l]`` is int32 ``[replication[l], n_crossbars[l], 4]``: for copy ``k`` and crossbar
    ``x`` of layer ``l`` the chip, the tile within the chip, the PE within the tile and the crossbar
    slot within the PE. ``tiles_used[l]`` counts the distinct tiles layer ``l`` occupies.
    """

    layer_names: list[str]
    replication: list[int]
    location: list[np.ndarray]
    tiles_used: list[int]
    fresh_tile: bool = False
    allow_multi_chip: bool = False
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able part (the location arrays travel separately)."""
        return {"layer_names": list(self.layer_names), "replication": list(self.replication),
                "tiles_used": list(self.tiles_used), "fresh_tile": self.fresh_tile,
                "allow_multi_chip": self.allow_multi_chip, "figures": dict(self.figures)}


def resolve_replication(replication: int | Sequence[int] | Mapping[str, int] | None,
                        names: Sequence[str]) -> list[int]:
    """Per-layer copies from ``None`` (1 each), one int for all, a list, or a dict by layer name."""
    if replication is None:
        reps = [1] * len(names)
    elif isinstance(replication, Mapping):
        unknown = sorted(set(replication) - set(names))
        if unknown:
            raise MappingError(f"replication: unknown layer(s) {', '.join(unknown)}")
        reps = [replication.get(n, 1) for n in names]
    elif isinstance(replication, (int, np.integer)) and not isinstance(replication, bool):
        reps = [int(replication)] * len(names)
    else:
        reps = list(replication)
        if len(reps) != len(names):
            raise MappingError(f"replication: {len(reps)} values given for {len(names)} layers")
    for name, r in zip(names, reps):
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1:
            raise MappingError(f"replication of layer '{name}' = {r!r}: must be an integer >= 1")
    return [int(r) for r in reps]


def place(n_crossbars: Sequence[int], cfg: Config, names: Sequence[str] | None = None,
          replication: int | Sequence[int] | Mapping[str, int] | None = None,
          allow_multi_chip: bool = False, fresh_tile: bool = False,
          fresh_pe_per_copy: bool = False) -> Placement:
    """Place each layer's crossbars (times its replication) onto PEs, tiles and chips in order
    (``fresh_pe_per_copy``: each copy of a layer starts a fresh PE)."""
    names = list(names) if names is not None else [f"layer{i}" for i in range(len(n_crossbars))]
    if len(names) != len(n_crossbars):
        raise MappingError(f"placement: {len(names)} names for {len(n_crossbars)} layers")
    reps = resolve_replication(replication, names)
    per_pe, pes, tiles = cfg.pe.crossbars, cfg.tile.pes, cfg.chip.tiles
    next_pe = 0                     # global index of the first free PE
    locations, tiles_used = [], []
    first_over = None
    for name, n, r in zip(names, n_crossbars, reps):
        if fresh_tile:
            next_pe = -(-next_pe // pes) * pes
        if fresh_pe_per_copy:
            pes_per_copy = -(-n // per_pe)
            g = ((next_pe + pes_per_copy * np.arange(r, dtype=np.int64))[:, None] * per_pe
                 + np.arange(n, dtype=np.int64)[None, :]).ravel()
        else:
            g = next_pe * per_pe + np.arange(n * r, dtype=np.int64)   # global crossbar slot
        pe_global = g // per_pe
        tile_global = pe_global // pes
        loc = np.stack([tile_global // tiles, tile_global % tiles, pe_global % pes, g % per_pe],
                       axis=-1).astype(np.int32).reshape(r, n, 4)
        locations.append(loc)
        tiles_used.append(int(np.unique(tile_global).size))
        next_pe += r * -(-n // per_pe) if fresh_pe_per_copy else -(-(n * r) // per_pe)
        if first_over is None and -(-next_pe // pes) > tiles:
            first_over = name
    tiles_needed = -(-next_pe // pes)
    if tiles_needed > tiles and not allow_multi_chip:
        raise MappingError(
            f"placement: the network needs {tiles_needed} tiles ({next_pe} PEs of "
            f"{per_pe} crossbars, {pes} PEs per tile) but chip '{cfg.name}' has chip.tiles={tiles} "
            f"(layer '{first_over}' is the first that does not fit); allow multiple chips to spill "
            f"over")
    return Placement(layer_names=names, replication=reps, location=locations,
                     tiles_used=tiles_used, fresh_tile=fresh_tile,
                     allow_multi_chip=allow_multi_chip, figures=placement_figures(locations, cfg))


def placement_figures(locations: list[np.ndarray], cfg: Config) -> dict[str, int]:
    """Crossbars placed (replicas included), PEs, tiles and chips occupied, and the crossbar
    slots of the chips used."""
    allloc = np.concatenate([loc.reshape(-1, 4) for loc in locations] + [np.zeros((0, 4), int)])
    chips = int(allloc[:, 0].max()) + 1 if len(allloc) else 0
    return {
        "crossbars_placed": int(len(allloc)),
        "pes_occupied": int(np.unique(allloc[:, :3], axis=0).shape[0]),
        "tiles_occupied": int(np.unique(allloc[:, :2], axis=0).shape[0]),
        "chips_used": chips,
        "crossbar_slots_available": chips * cfg.chip.tiles * cfg.tile.pes * cfg.pe.crossbars,
    }



def segment_layers(n_crossbars: Sequence[int], cfg: Config, names: Sequence[str] | None = None,
                   replication: int | Sequence[int] | Mapping[str, int] | None = None,
                   fresh_tile: bool = False) -> list[list[int]]:
    """Split the layers, in order, into *segments*: runs of consecutive layers that fit one chip
    together under :func:`place`'s rules (fresh PE per layer, copies included). A network that
    does not fit runs segment by segment on one chip, reprogramming the crossbars in between
    (the engine's ``overflow="reload"``). Returns the layer indices of each segment; a layer that
    alone needs more crossbar slots than the chip has raises :class:`MappingError`."""
    names = list(names) if names is not None else [f"layer{i}" for i in range(len(n_crossbars))]
    if len(names) != len(n_crossbars):
        raise MappingError(f"placement: {len(names)} names for {len(n_crossbars)} layers")
    reps = resolve_replication(replication, names)
    per_pe, pes, tiles = cfg.pe.crossbars, cfg.tile.pes, cfg.chip.tiles
    chip_pes = tiles * pes
    segments: list[list[int]] = []
    next_pe = 0
    for i, (name, n, r) in enumerate(zip(names, n_crossbars, reps)):
        need = -(-(int(n) * r) // per_pe)
        if need > chip_pes:
            raise MappingError(
                f"layer '{name}': {int(n) * r} crossbars ({int(n)} x {r} copies) need {need} PEs "
                f"but chip '{cfg.name}' has {tiles * pes * per_pe} crossbar slots ({tiles} tiles x "
                f"{pes} PEs x {per_pe} crossbars); a reload cannot split a layer")
        start = -(-next_pe // pes) * pes if fresh_tile else next_pe
        if not segments or start + need > chip_pes:
            segments.append([])
            start = 0
        segments[-1].append(i)
        next_pe = start + need
    return segments
