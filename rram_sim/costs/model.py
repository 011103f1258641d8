"""The cost model: energy, leakage, area and latency of every hardware component, with sources.

A chip is a hierarchy: crossbars with their DACs, sample-and-holds and ADCs form a processing
element (PE, ISAAC's "IMA"); PEs share an eDRAM buffer, a bus and digital units in a tile; tiles
share routers and the chip's off-chip links. Each component is a :class:`Component` with

* ``energy_pj`` — dynamic energy of one event, charged on one :class:`~rram_sim.counts.Counts` field
  (``event``) divided by ``events_per_unit`` (e.g. the bytes of one eDRAM access);
* ``leakage_mw`` — static power of one instance, charged over time;
* ``area_um2`` and ``latency_ns`` of one instance / one event;
* ``source`` — the paper and table the numbers come from, or the derivation from cited numbers.

Energy of a run is ``sum(count / events_per_unit * energy_pj) + sum(instances * leakage_mw * time)``
(:func:`dynamic_energy_pj`, :func:`leakage_energy_pj`). The chip roll-up (:func:`rollup`) adds
instances x (leakage + energy per event x peak event rate) to give peak power, and instances x area.

The reference point is ISAAC-CE (Shafiee et al., ISCA 2016, Table 6; 32 nm, 1.2 GHz). ISAAC gives
peak power and area per component; the per-event energies here are derived from that power and the
component's peak event rate, and every constant scales with the configuration by a stated law
(ADC energy ~ 2**bits at a fixed Walden figure of merit, registers and eDRAM with size and width,
routers with ports and flit width). With the ``isaac`` preset the roll-up reproduces ISAAC's
component rows and its tile (330 mW, 0.372 mm^2) and chip (65.8 W, 85.4 mm^2) totals; docs/costs.md
lists every constant and assumption.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any

from rram_sim.config import Config
from rram_sim.counts import COUNT_FIELDS, Counts
from rram_sim.errors import ConfigError
from rram_sim.noc import topology_for

CATEGORIES = ("adc", "dac", "crossbar", "sample_hold", "shift_add_digital", "buffers",
              "interconnect", "index_datapath", "writes")   # fixed order used in every plot

ISAAC = "ISAAC (Shafiee et al., ISCA 2016), Table 6"

# ---------------------------------------------------------------------------------------------
# Reference constants: ISAAC-CE, Table 6 (32 nm, 1.2 GHz). Per-instance values are the table's
# row totals divided by the instance count the row names.
# ---------------------------------------------------------------------------------------------
REF_CLOCK_GHZ = 1.2              # ISAAC's digital clock
REF_READ_NS = 100.0              # ISAAC's crossbar read (100 ns per 1-bit input chunk)
REF_ROWS = REF_COLS = 128        # ISAAC's 128x128 crossbar

ADC_REF_BITS = 8
ADC_REF_GSPS = 1.28
ADC_POWER_MW = 16.0 / 8          # 8 ADCs per IMA: 16 mW
ADC_AREA_UM2 = 9600.0 / 8        # 0.0096 mm^2 for 8 ADCs
DAC_POWER_MW = 4.0 / (8 * 128)   # 8 x 128 1-bit DACs per IMA: 4 mW
DAC_AREA_UM2 = 170.0 / (8 * 128)  # 0.00017 mm^2
SH_POWER_MW = 0.01 / (8 * 128)   # 8 x 128 S+H per IMA: 10 uW
SH_AREA_UM2 = 40.0 / (8 * 128)   # 0.00004 mm^2
XBAR_POWER_MW = 2.4 / 8          # 8 arrays of 128x128 2-bit cells per IMA: 2.4 mW
XBAR_AREA_UM2 = 200.0 / 8        # 0.0002 mm^2
SA_POWER_MW = 0.2 / 4            # 4 shift-and-add units per IMA: 0.2 mW
SA_AREA_UM2 = 240.0 / 4          # 0.00024 mm^2
IR_POWER_MW, IR_AREA_UM2, IR_REF_BYTES = 1.24, 2100.0, 2048      # input register 2 KB
OR_POWER_MW, OR_AREA_UM2, OR_REF_BYTES = 0.23, 770.0, 256        # output register 256 B
EDRAM_POWER_MW, EDRAM_AREA_UM2, EDRAM_REF_KB = 20.7, 83000.0, 64  # eDRAM 64 KB per tile
EDRAM_REF_BUS_BITS = 256         # ISAAC's eDRAM / bus width (256-bit bus)
BUS_POWER_MW, BUS_AREA_UM2, BUS_REF_PES = 7.0, 90000.0, 12        # tile bus joining 12 IMAs
SIGMOID_POWER_MW, SIGMOID_AREA_UM2 = 0.52 / 2, 600.0 / 2          # 2 sigmoid units per tile
TILE_SA_POWER_MW, TILE_SA_AREA_UM2 = 0.05, 60.0                   # 1 tile shift-and-add unit
MAXPOOL_POWER_MW, MAXPOOL_AREA_UM2 = 0.4, 240.0                   # 1 max-pool unit
TILE_OR_POWER_MW, TILE_OR_AREA_UM2, TILE_OR_REF_KB = 1.68, 3200.0, 3  # tile output register 3 KB
ROUTER_POWER_MW, ROUTER_AREA_UM2 = 42.0, 151000.0                 # one router per 4 tiles
ROUTER_REF_FLIT_BITS, ROUTER_REF_PORTS = 32, 8                    # 32-bit flits, 8 ports
LINK_POWER_MW = 10400.0 / 4      # HyperTransport, 4 links: 10.4 W
LINK_AREA_UM2 = 22.88e6 / 4      # 22.88 mm^2
LINK_REF_GBPS = 6.4              # 6.4 GB/s per link

# ISAAC reports peak power only. Assumption (ours, not ISAAC's): analog blocks (ADC, DAC, S+H,
# crossbar) draw power only while converting or reading, so all of it is dynamic; every digital
# block (registers, eDRAM, bus, router, digital units, index unit, off-chip link) leaks this
# fraction of its peak power whether or not it is used.
DIGITAL_STATIC_FRACTION = 0.10
# Digital multiply-accumulate of the weight gradient (training.gradient_unit = digital): Horowitz,
# "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm: integer multiply
# 0.2 pJ at 8 bits and 3.1 pJ at 32 bits (an array multiplier grows with bits^2: 0.2 x (32/8)^2 =
# 3.2), integer add 0.03 pJ at 8 bits and 0.1 pJ at 32 bits (linear between). Not scaled to
# other nodes.
MAC_MULT_8B_PJ = 0.2
MAC_ADD_8B_PJ, MAC_ADD_32B_PJ = 0.03, 0.1
HOROWITZ = "Horowitz, ISSCC 2014 (45 nm)"


def gradient_mac_pj(bits: int) -> float:
    """One ``bits`` x ``bits`` multiply plus a ``2 x bits`` accumulate (Horowitz's figures)."""
    acc = 2 * bits
    add = MAC_ADD_8B_PJ + (acc - 8) * (MAC_ADD_32B_PJ - MAC_ADD_8B_PJ) / 24
    return MAC_MULT_8B_PJ * (bits / 8) ** 2 + add


# Index-table entries of the indexed datapath hold a 16-bit original row/column index (inputs and
# outputs of one layer up to 65 536), an assumption sized for VGG-16's largest unrolled matrix.
INDEX_BITS = 16


@dataclass(frozen=True)
class Component:
    """One kind of hardware block: its per-event energy, static power, area and latency."""

    name: str
    category: str
    energy_pj: float
    event: str
    events_per_unit: float
    leakage_mw: float
    area_um2: float
    latency_ns: float
    source: str


def _dig_leak(power_mw: float) -> float:
    return DIGITAL_STATIC_FRACTION * power_mw


def _dig_dyn(power_mw: float) -> float:
    return (1.0 - DIGITAL_STATIC_FRACTION) * power_mw


# Per-byte dynamic energy of ISAAC's registers: one access of the 256-bit bus width per 1.2 GHz
# cycle at peak, so (1 - static) x P / 1.2 GHz per 32 bytes.
_IR_PJ_PER_BYTE = _dig_dyn(IR_POWER_MW) / REF_CLOCK_GHZ / (EDRAM_REF_BUS_BITS / 8)
_OR_PJ_PER_BYTE = _dig_dyn(OR_POWER_MW) / REF_CLOCK_GHZ / (EDRAM_REF_BUS_BITS / 8)
_TILE_OR_PJ_PER_BYTE = _dig_dyn(TILE_OR_POWER_MW) / REF_CLOCK_GHZ / (EDRAM_REF_BUS_BITS / 8)
_EDRAM_PJ_PER_BYTE = _dig_dyn(EDRAM_POWER_MW) / REF_CLOCK_GHZ / (EDRAM_REF_BUS_BITS / 8)
_IR_BITS = IR_REF_BYTES * 8


def _adc_scale(bits: int) -> float:
    """Energy per conversion and area relative to 8 bits: 2**(bits-8).

    Walden figure of merit FOM = P / (fs * 2**ENOB) is roughly constant across resolutions for
    SAR ADCs (Murmann, "ADC Performance Survey 1997-2024"), so energy per conversion ~ 2**bits; a
    SAR's area is dominated by its 2**bits-unit capacitor DAC (Saberi et al., IEEE TCAS-I 2011).
    """
    return 2.0 ** (bits - ADC_REF_BITS)


def _build(cfg: Config) -> dict[str, Component]:
    xb, ou, pe, tile, noc, chip = cfg.crossbar, cfg.ou, cfg.pe, cfg.tile, cfg.noc, cfg.chip
    t_read = xb.read_latency_ns
    clock = chip.clock_ghz
    bus_bytes = tile.edram_bus_bits / 8
    flit_bytes = noc.flit_bits / 8
    ports = topology_for(cfg).router_ports
    cell_mw = XBAR_POWER_MW / (REF_ROWS * REF_COLS)
    cell_read_pj = cell_mw * t_read
    adc_pj = ADC_POWER_MW / ADC_REF_GSPS * _adc_scale(cfg.adc.bits)
    sh_pj = SH_POWER_MW * t_read
    dac_levels = 2 ** cfg.dac.bits - 1
    bus_scale = (tile.edram_bus_bits / EDRAM_REF_BUS_BITS) * (tile.pes / BUS_REF_PES)
    router_scale = (noc.flit_bits / ROUTER_REF_FLIT_BITS) * (ports / ROUTER_REF_PORTS)
    index_entry_bits = (xb.rows + cfg.logical_cols_per_crossbar) * INDEX_BITS

    comps = [
        Component(
            "adc", "adc", adc_pj, "adc_conversions", 1.0, 0.0,
            ADC_AREA_UM2 * _adc_scale(cfg.adc.bits), 1.0 / cfg.adc.sample_rate_gsps,
            f"{ISAAC}: 8 ADCs (8-bit, 1.28 GS/s) 16 mW, 0.0096 mm^2 -> 2 mW / 1.28 GS/s = "
            "1.5625 pJ per conversion, 1200 um^2; energy and area x 2**(bits-8) (constant "
            "Walden FOM, Murmann ADC survey; SAR capacitor DAC, Saberi et al. TCAS-I 2011); "
            "power = energy x sample rate; all dynamic"),
        Component(
            "dac", "dac", DAC_POWER_MW * dac_levels * t_read, "dac_drives", 1.0, 0.0,
            DAC_AREA_UM2 * dac_levels, t_read,
            f"{ISAAC}: 8x128 1-bit DACs 4 mW, 0.00017 mm^2 -> 3.906 uW per DAC held for one "
            "read (x read_latency_ns: 0.3906 pJ per drive at 100 ns); energy and area x "
            "(2**bits - 1) unit elements; all dynamic"),
        Component(
            "sample_hold", "sample_hold", sh_pj, "sample_holds", 1.0, 0.0, SH_AREA_UM2, t_read,
            f"{ISAAC}: 8x128 S+H 10 uW, 0.00004 mm^2 -> 9.77 nW per S+H over one read "
            "(x read_latency_ns); all dynamic"),
        Component(
            "crossbar_read", "crossbar", cell_read_pj * ou.rows * ou.cols, "ou_activations",
            1.0, 0.0, XBAR_AREA_UM2 / (REF_ROWS * REF_COLS) * xb.rows * xb.cols, t_read,
            f"{ISAAC}: 8 arrays 128x128 2.4 mW, 0.0002 mm^2 -> 0.3 mW per array = 30 pJ per "
            "100 ns read of all 16384 cells; charged per activated cell (ou.rows x ou.cols per OU "
            "activation) x read_latency_ns; area per cell x rows x cols; all dynamic"),
        Component(
            "shift_add", "shift_add_digital", _dig_dyn(SA_POWER_MW) / REF_CLOCK_GHZ, "shift_adds",
            1.0, _dig_leak(SA_POWER_MW), SA_AREA_UM2, 1.0 / clock,
            f"{ISAAC}: 4 S+A per IMA 0.2 mW, 0.00024 mm^2 -> 0.05 mW each at one operation per "
            "1.2 GHz cycle; 10 % static (assumption)"),
        Component(
            "input_register", "buffers", _IR_PJ_PER_BYTE * bus_bytes, "input_register_bytes",
            bus_bytes, _dig_leak(IR_POWER_MW) * pe.input_register_bytes / IR_REF_BYTES,
            IR_AREA_UM2 * pe.input_register_bytes / IR_REF_BYTES, 1.0 / clock,
            f"{ISAAC}: IR 2 KB 1.24 mW, 0.0021 mm^2; one 256-bit write per 1.2 GHz cycle at peak "
            "-> 0.0291 pJ/B dynamic (access = edram_bus_bits); leakage and area x size/2 KB; 10 % "
            "static (assumption)"),
        Component(
            "input_register_read", "buffers",
            _IR_PJ_PER_BYTE * xb.rows * cfg.dac.bits / 8, "crossbar_activations", 1.0, 0.0, 0.0,
            1.0 / clock,
            f"{ISAAC}: IR per-byte energy (0.0291 pJ/B, see input_register) x the rows x dac.bits "
            "/ 8 bytes latched into the DACs per crossbar read; same hardware as input_register "
            "(no own instance)"),
        Component(
            "output_register", "buffers", _OR_PJ_PER_BYTE * bus_bytes, "output_register_bytes",
            bus_bytes, _dig_leak(OR_POWER_MW) * pe.output_register_bytes / OR_REF_BYTES,
            OR_AREA_UM2 * pe.output_register_bytes / OR_REF_BYTES, 1.0 / clock,
            f"{ISAAC}: OR 256 B 0.23 mW, 0.00077 mm^2; one 256-bit access per 1.2 GHz cycle at "
            "peak; leakage and area x size/256 B; 10 % static (assumption)"),
        Component(
            "index_unit", "index_datapath", 2 * INDEX_BITS * _IR_PJ_PER_BYTE / 8, "index_lookups",
            1.0, 2 * index_entry_bits * _dig_leak(IR_POWER_MW) / _IR_BITS,
            2 * index_entry_bits * IR_AREA_UM2 / _IR_BITS, 1.0 / clock,
            f"derived from {ISAAC} IR per bit (0.128 um^2, 3.63 fJ per access): AUTO-PRUNE index "
            f"unit per crossbar = index registers of (rows + logical columns) x {INDEX_BITS}-bit "
            "entries plus "
            "a gather mux assumed equal in size ((N-1) x w 2:1 mux cells ~ N x w register cells): "
            f"area and leakage 2 x bits x per-bit; one lookup reads {INDEX_BITS} bits and crosses "
            "the mux (2 x 16 x per-bit energy)"),
        Component(
            "edram", "buffers", _EDRAM_PJ_PER_BYTE * bus_bytes, "buffer_read_bytes", bus_bytes,
            _dig_leak(EDRAM_POWER_MW) * tile.edram_kb / EDRAM_REF_KB,
            EDRAM_AREA_UM2 * tile.edram_kb / EDRAM_REF_KB, 1.0 / clock,
            f"{ISAAC}: eDRAM 64 KB 20.7 mW, 0.083 mm^2; one 256-bit access per 1.2 GHz cycle at "
            "peak -> 15.5 pJ per 256-bit read (x edram_bus_bits/256); leakage (incl. refresh) and "
            "area x size/64 KB; 10 % static (assumption)"),
        Component(
            "edram_write", "buffers", _EDRAM_PJ_PER_BYTE * bus_bytes, "buffer_write_bytes",
            bus_bytes, 0.0, 0.0, 1.0 / clock,
            f"{ISAAC}: eDRAM write, same energy per access as a read (see edram); same hardware"),
        Component(
            "bus", "interconnect", _dig_dyn(BUS_POWER_MW) * bus_scale / REF_CLOCK_GHZ,
            "buffer_read_bytes", bus_bytes, _dig_leak(BUS_POWER_MW) * bus_scale,
            BUS_AREA_UM2 * bus_scale, 1.0 / clock,
            f"{ISAAC}: tile bus 7 mW, 0.090 mm^2 (256 bits, 12 IMAs); one transfer per 1.2 GHz "
            "cycle at peak -> 5.25 pJ per 256-bit transfer; energy, leakage and area x width/256 "
            "x pes/12 (wire length); every eDRAM byte read crosses it; 10 % static (assumption)"),
        Component(
            "bus_write", "interconnect", _dig_dyn(BUS_POWER_MW) * bus_scale / REF_CLOCK_GHZ,
            "buffer_write_bytes", bus_bytes, 0.0, 0.0, 1.0 / clock,
            f"{ISAAC}: tile bus carrying bytes into the eDRAM (see bus); same hardware"),
        Component(
            "sigmoid", "shift_add_digital", _dig_dyn(SIGMOID_POWER_MW) / REF_CLOCK_GHZ,
            "activation_ops", 1.0, _dig_leak(SIGMOID_POWER_MW), SIGMOID_AREA_UM2, 1.0 / clock,
            f"{ISAAC}: 2 sigmoid units 0.52 mW, 0.0006 mm^2; one evaluation per 1.2 GHz cycle at "
            "peak; 10 % static (assumption)"),
        Component(
            "tile_shift_add", "shift_add_digital", _dig_dyn(TILE_SA_POWER_MW) / REF_CLOCK_GHZ,
            "digital_adds", 1.0, _dig_leak(TILE_SA_POWER_MW), TILE_SA_AREA_UM2, 1.0 / clock,
            f"{ISAAC}: tile S+A 0.05 mW, 0.00006 mm^2; one add per 1.2 GHz cycle at peak; 10 % "
            "static (assumption)"),
        Component(
            "gradient_mac", "shift_add_digital", gradient_mac_pj(cfg.precision.input_bits),
            "gradient_macs", 1.0, 0.0, 0.0, 1.0 / clock,
            f"{HOROWITZ}: input_bits x input_bits multiply (0.2 pJ x (bits/8)^2) plus a "
            "2 x input_bits accumulate (0.03 pJ at 8 bits, 0.1 pJ at 32, linear): 0.9 pJ at 16 "
            "bits; one MAC per stored weight and output position; runs on the tile's digital "
            "units (no own instance)"),
        Component(
            "maxpool", "shift_add_digital", _dig_dyn(MAXPOOL_POWER_MW) / REF_CLOCK_GHZ,
            "pool_ops", 1.0, _dig_leak(MAXPOOL_POWER_MW), MAXPOOL_AREA_UM2, 1.0 / clock,
            f"{ISAAC}: max-pool unit 0.4 mW, 0.00024 mm^2; one comparison per 1.2 GHz cycle at "
            "peak; 10 % static (assumption)"),
        Component(
            "tile_output_register", "buffers", _TILE_OR_PJ_PER_BYTE * flit_bytes, "noc_flits",
            1.0, _dig_leak(TILE_OR_POWER_MW) * tile.output_register_kb / TILE_OR_REF_KB,
            TILE_OR_AREA_UM2 * tile.output_register_kb / TILE_OR_REF_KB, 1.0 / clock,
            f"{ISAAC}: tile OR 3 KB 1.68 mW, 0.0032 mm^2; one 256-bit access per 1.2 GHz cycle at "
            "peak (0.0394 pJ/B); every flit injected into the NoC is read from it (x flit bytes); "
            "leakage and area x size/3 KB; 10 % static (assumption)"),
        Component(
            "router", "interconnect",
            _dig_dyn(ROUTER_POWER_MW) / (REF_CLOCK_GHZ * ROUTER_REF_PORTS)
            * noc.flit_bits / ROUTER_REF_FLIT_BITS, "noc_flit_hops", 1.0,
            _dig_leak(ROUTER_POWER_MW) * router_scale, ROUTER_AREA_UM2 * router_scale,
            noc.hop_latency_cycles / clock,
            f"{ISAAC}: router (32-bit flits, 8 ports, shared by 4 tiles) 42 mW, 0.151 mm^2; at "
            "peak every port forwards one flit per 1.2 GHz cycle -> 3.94 pJ per flit-hop "
            "(x flit_bits/32); leakage and area x flit_bits/32 x ports/8 with ports = "
            "concentration + the noc.topology's neighbour ports (4 on a mesh) (assumption: "
            "buffer-dominated router); 10 % static (assumption)"),
        Component(
            "offchip_link", "interconnect", _dig_dyn(LINK_POWER_MW) / LINK_REF_GBPS,
            "offchip_bytes", 1.0, _dig_leak(LINK_POWER_MW), LINK_AREA_UM2,
            1.0 / chip.offchip_link_gbps,
            f"{ISAAC}: HyperTransport 4 links 10.4 W, 22.88 mm^2 -> 2.6 W, 5.72 mm^2 per link at "
            "6.4 GB/s -> 365.6 pJ per byte dynamic; power x offchip_link_gbps/6.4; 10 % static "
            "(assumption)"),
        Component(
            "cell_write", "writes", cfg.cell.write_energy_pj, "cell_write_pulses", 1.0, 0.0, 0.0,
            cfg.cell.write_latency_ns,
            "config cell.write_energy_pj / cell.write_latency_ns per SET/RESET pulse (device "
            "data; see docs/costs.md); write drivers not modeled separately"),
        Component(
            "cell_verify", "writes", cell_read_pj + sh_pj + adc_pj, "cell_verify_reads", 1.0,
            0.0, 0.0, t_read + 1.0 / cfg.adc.sample_rate_gsps,
            f"{ISAAC}-derived: one cell read (0.3 mW / 16384 cells x read_latency_ns) + one S+H "
            "capture + one ADC conversion per verify read"),
    ]
    return {c.name: c for c in comps}


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

    Only the ``n_tiles_used`` tiles that hold layers leak (the others are power-gated), with the
    routers serving them; the off-chip links always leak. ``None`` means every tile.
    """
    if not (isinstance(time_ns, (int, float)) and math.isfinite(time_ns) and time_ns >= 0):
        raise ValueError(f"time_ns={time_ns!r}: must be a finite number >= 0")
    n = cfg.chip.tiles if n_tiles_used is None else n_tiles_used
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= cfg.chip.tiles:
        raise ConfigError(f"n_tiles_used={n_tiles_used!r}: must be an integer in "
                          f"0..chip.tiles={cfg.chip.tiles}")
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


def uncharged_count_fields(cfg: Config) -> list[str]:
    """Counts fields no component is charged on (only ``adc_clipped``, a diagnostic count)."""
    charged = {c.event for c in component_library(cfg).values()}
    return [f for f in COUNT_FIELDS if f not in charged]


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
