"""The generic half of the cost model: a library's components, overrides, energy, leakage, roll-up.

A chip is a hierarchy: crossbars with their DACs, sample-and-holds and ADCs form a processing
element (PE, ISAAC's "IMA"); PEs share a buffer, a bus and digital units in a tile; tiles share
routers and the chip's off-chip links. Each component is a :class:`Component` with

* ``energy_pj`` — dynamic energy of one event, charged on one :class:`~rram_sim.counts.Counts` field
  (``event``) divided by ``events_per_unit`` (e.g. the bytes of one eDRAM access);
* ``leakage_mw`` — static power of one instance, charged over time;
* ``area_um2`` and ``latency_ns`` of one instance / one event;
* ``source`` — the paper and table the numbers come from, or the derivation from cited numbers.

The figures come from the library ``costs.library`` names (:mod:`rram_sim.costs.libraries`),
then every ``costs.overrides`` entry replaces the fields it sets (its source says so).

Energy of a run is ``sum(count / events_per_unit * energy_pj) + sum(instances * leakage_mw * time)``
(:func:`dynamic_energy_pj`, :func:`leakage_energy_pj`; ``costs.power_gating`` decides which tiles
leak). The chip roll-up (:func:`rollup`) adds instances x (leakage + energy per event x peak
event rate) to give peak power, and instances x area.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any

from rram_sim.config import Config
from rram_sim.costs.components import CATEGORIES, Component
from rram_sim.costs.libraries import LIBRARIES
from rram_sim.counts import COUNT_FIELDS, Counts
from rram_sim.errors import ConfigError
from rram_sim.noc import topology_for

__all__ = ["CATEGORIES", "Component"]


def _build(cfg: Config) -> dict[str, Component]:
    """The library's components with ``costs.overrides`` applied."""
    comps = LIBRARIES[cfg.costs.library](cfg)
    for name, fields in cfg.costs.overrides:
        c = comps[name]
        note = ", ".join(f"{k}={v:g}" for k, v in fields)
        comps[name] = dataclasses.replace(c, **dict(fields),
                                          source=f"costs.overrides ({note}); else {c.source}")
    return comps

@functools.lru_cache(maxsize=64)
def _library_cached(cfg: Config) -> tuple[Component, ...]:
    return tuple(_build(cfg).values())


def component_library(cfg: Config) -> dict[str, Component]:
    """Every component of the chip ``cfg`` describes, keyed by name, in a fixed order."""
    return {c.name: c for c in _library_cached(cfg)}


def _peak_events_per_ns(cfg: Config) -> dict[str, float]:
    """Events one instance can perform per ns at peak; leakage + energy x this = peak power."""
    clock = cfg.chip.clock_ghz
    t_read = cfg.crossbar.read_latency_ns
    return {
        "adc": cfg.adc.sample_rate_gsps,
        "dac": 1.0 / t_read,
        "sample_hold": 1.0 / t_read,
        "crossbar_read": 1.0 / t_read,     # one OU of a crossbar is active at a time
        "shift_add": clock,
        "input_register": clock,
        "output_register": clock,
        "index_unit": clock,
        "edram": clock,
        "bus": clock,
        "sigmoid": clock,
        "tile_shift_add": clock,
        "maxpool": clock,
        # the tile output register sustains one bus-wide access per cycle; its event is one flit
        "tile_output_register": clock * cfg.tile.edram_bus_bits / cfg.noc.flit_bits,
        "router": clock * topology_for(cfg).router_ports,
        "offchip_link": cfg.chip.offchip_link_gbps,
    }


def instances(cfg: Config, *, indexed: bool = False) -> dict[str, dict[str, int]]:
    """Instances of each component per level: per PE, per tile (plus its PEs), per chip.

    ``indexed`` adds an index unit per crossbar (compact / OU layouts with an indexed datapath).
    """
    xb = cfg.crossbar
    n_xb = cfg.pe.crossbars
    return {
        "pe": {
            "adc": n_xb * cfg.adcs_per_crossbar,
            "dac": n_xb * xb.rows,
            "sample_hold": n_xb * xb.cols,
            "crossbar_read": n_xb,
            "shift_add": cfg.pe.shift_add_units,
            "input_register": 1,
            "output_register": 1,
            "index_unit": n_xb if indexed else 0,
        },
        "tile": {
            "pe": cfg.tile.pes,
            "edram": 1,
            "bus": 1,
            "sigmoid": cfg.tile.sigmoid_units,
            "tile_shift_add": cfg.tile.shift_add_units,
            "maxpool": cfg.tile.maxpool_units,
            "tile_output_register": 1 if cfg.tile.output_register_kb > 0 else 0,
        },
        "chip": {
            "tile": cfg.chip.tiles,
            "router": topology_for(cfg).routers,
            "offchip_link": cfg.chip.offchip_links,
        },
    }


def _chip_instances(cfg: Config, n_tiles: int, indexed: bool) -> dict[str, int]:
    """Instances of each component on ``n_tiles`` tiles plus their routers and the chip's links."""
    inst = instances(cfg, indexed=indexed)
    pes = inst["tile"]["pe"]
    out = {name: k * pes * n_tiles for name, k in inst["pe"].items()}
    out.update({name: k * n_tiles for name, k in inst["tile"].items() if name != "pe"})
    out["router"] = topology_for(cfg, tiles=n_tiles).routers
    out["offchip_link"] = inst["chip"]["offchip_link"]
    return out


def dynamic_energy_pj(counts: Counts, cfg: Config) -> dict[str, float]:
    """Dynamic energy of ``counts`` per component: count / events_per_unit x energy per event."""
    out = {}
    for name, comp in component_library(cfg).items():
        n = getattr(counts, comp.event) if comp.event else 0
        out[name] = n / comp.events_per_unit * comp.energy_pj
    return out


def leakage_energy_pj(cfg: Config, time_ns: float, n_tiles_used: int | None = None, *,
                      indexed: bool = False) -> dict[str, float]:
    """Static energy over ``time_ns`` per component (mW x ns = pJ).

    With ``costs.power_gating: unused`` only the ``n_tiles_used`` tiles that hold layers leak
    (the others are power-gated), with the routers serving them; with ``none`` every tile of the
    chip leaks once any is used. The off-chip links always leak (their static power is 0 in the
    built-in libraries; an override may set one). ``None`` means every tile.
    """
    if not (isinstance(time_ns, (int, float)) and math.isfinite(time_ns) and time_ns >= 0):
        raise ValueError(f"time_ns={time_ns!r}: must be a finite number >= 0")
    n = cfg.chip.tiles if n_tiles_used is None else n_tiles_used
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= cfg.chip.tiles:
        raise ConfigError(f"n_tiles_used={n_tiles_used!r}: must be an integer in "
                          f"0..chip.tiles={cfg.chip.tiles}")
    if cfg.costs.power_gating == "none" and n > 0:
        n = cfg.chip.tiles      # nothing is gated: every tile of a chip in use leaks
    count = _chip_instances(cfg, n, indexed)
    return {name: count.get(name, 0) * comp.leakage_mw * time_ns
            for name, comp in component_library(cfg).items()}


def energy_by_category(per_component: dict[str, float], cfg: Config) -> dict[str, float]:
    """Sum per-component energies into :data:`CATEGORIES`, in that order."""
    lib = component_library(cfg)
    out = dict.fromkeys(CATEGORIES, 0.0)
    for name, e in per_component.items():
        if name not in lib:
            raise KeyError(f"component '{name}' is not in the component library "
                           f"(known: {', '.join(lib)})")
        out[lib[name].category] += e
    return out


# Count fields that measure the same work two ways; a library prices one of each group (the
# pooling unit per comparison, as ISAAC's, or per window, as MNSIM 2.0's).
ALTERNATIVE_COUNTS = (("pool_ops", "pool_windows"),)


def uncharged_count_fields(cfg: Config) -> list[str]:
    """Counts fields no component is charged on: only ``adc_clipped`` (a diagnostic count), and
    any group of :data:`ALTERNATIVE_COUNTS` none of whose fields is charged (all of them, then)."""
    charged = {c.event for c in component_library(cfg).values()}
    covered = {f for group in ALTERNATIVE_COUNTS if charged & set(group) for f in group}
    return [f for f in COUNT_FIELDS if f not in charged and f not in covered]


# ---------------------------------------------------------------------------------------------
# Roll-up: peak power and area per PE, tile and chip
# ---------------------------------------------------------------------------------------------

@dataclass
class RollupRow:
    """One line of the roll-up: ``count`` instances of ``component`` in one ``level`` unit.

    ``area_um2``, ``power_mw`` (peak) and ``leakage_mw`` are totals over the ``count`` instances.
    ``count`` is fractional only for the router's share of a tile (1 / tiles per router).
    """

    level: str
    component: str
    category: str
    count: float
    area_um2: float
    power_mw: float
    leakage_mw: float


@dataclass
class Rollup:
    """Peak power and area of a PE, a tile (with its router share, as ISAAC counts it) and the
    chip (tiles, the noc.topology's routers, off-chip links)."""

    name: str
    rows: list[RollupRow] = field(default_factory=list)
    pe_area_um2: float = 0.0
    pe_power_mw: float = 0.0
    tile_area_mm2: float = 0.0
    tile_power_mw: float = 0.0
    chip_area_mm2: float = 0.0
    chip_power_w: float = 0.0
    chip_leakage_w: float = 0.0

    def level_rows(self, level: str) -> list[RollupRow]:
        return [r for r in self.rows if r.level == level]

    def row(self, level: str, component: str) -> RollupRow:
        for r in self.rows:
            if r.level == level and r.component == component:
                return r
        raise KeyError(f"no roll-up row {level}/{component}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pe": {"area_um2": self.pe_area_um2, "power_mw": self.pe_power_mw},
            "tile": {"area_mm2": self.tile_area_mm2, "power_mw": self.tile_power_mw},
            "chip": {"area_mm2": self.chip_area_mm2, "power_w": self.chip_power_w,
                     "leakage_w": self.chip_leakage_w},
            "components": [dataclasses.asdict(r) for r in self.rows],
        }


def rollup(cfg: Config, *, indexed: bool = False) -> Rollup:
    """Peak power (leakage + energy per event x peak event rate) and area, level by level."""
    lib = component_library(cfg)
    rate = _peak_events_per_ns(cfg)
    inst = instances(cfg, indexed=indexed)

    def row(level: str, name: str, count: float) -> RollupRow:
        c = lib[name]
        return RollupRow(level, name, c.category, count, count * c.area_um2,
                         count * (c.leakage_mw + c.energy_pj * rate[name]), count * c.leakage_mw)

    rows = [row("pe", name, k) for name, k in inst["pe"].items() if k > 0]
    pe_area = sum(r.area_um2 for r in rows)
    pe_power = sum(r.power_mw for r in rows)
    pe_leak = sum(r.leakage_mw for r in rows)

    pes = inst["tile"]["pe"]
    tile_rows = [RollupRow("tile", "pe", "", pes, pes * pe_area, pes * pe_power, pes * pe_leak)]
    tile_rows += [row("tile", name, k) for name, k in inst["tile"].items()
                  if name != "pe" and k > 0]
    own_area = sum(r.area_um2 for r in tile_rows)
    own_power = sum(r.power_mw for r in tile_rows)
    own_leak = sum(r.leakage_mw for r in tile_rows)
    share = row("tile", "router", 1.0 / topology_for(cfg).concentration)
    tile_rows.append(share)

    chip_rows = [RollupRow("chip", "tile", "", inst["chip"]["tile"],
                           inst["chip"]["tile"] * own_area, inst["chip"]["tile"] * own_power,
                           inst["chip"]["tile"] * own_leak),
                 row("chip", "router", inst["chip"]["router"])]
    if inst["chip"]["offchip_link"] > 0:
        chip_rows.append(row("chip", "offchip_link", inst["chip"]["offchip_link"]))

    return Rollup(
        name=cfg.name, rows=rows + tile_rows + chip_rows,
        pe_area_um2=pe_area, pe_power_mw=pe_power,
        tile_area_mm2=(own_area + share.area_um2) * 1e-6,
        tile_power_mw=own_power + share.power_mw,
        chip_area_mm2=sum(r.area_um2 for r in chip_rows) * 1e-6,
        chip_power_w=sum(r.power_mw for r in chip_rows) * 1e-3,
        chip_leakage_w=sum(r.leakage_mw for r in chip_rows) * 1e-3,
    )
