"""The ``isaac`` cost library: ISAAC-CE (Shafiee et al., ISCA 2016, Table 6; 32 nm, 1.2 GHz).

ISAAC gives peak power and area per component; the per-event energies here are derived from that
power and the component's peak event rate, and every constant scales with the configuration by a
stated law (ADC energy and area with resolution and sample rate by the survey fit of
:mod:`rram_sim.costs.adc_model`, registers and eDRAM with size and width, routers with ports and
flit width). With the ``isaac`` preset the roll-up reproduces ISAAC's component rows and its tile
(330 mW, 0.372 mm^2) and chip (65.8 W, 85.4 mm^2) totals; docs/costs.md lists every constant.

Static power: ISAAC reports peak power only. Each block's static power comes from a model of that
kind of block (CACTI 7 for the memories, the router and the bus wires at ISAAC's 32 nm; Aladdin's
40 nm characterisation for adders, multipliers and comparators); the ADC, DAC, S+H, crossbar and
off-chip links draw power only while working. The rest of ISAAC's peak power is dynamic, so the
roll-up still reproduces Table 6. ``costs.overrides.NAME.leakage_mw`` replaces any of them.
"""

from __future__ import annotations

from rram_sim.config import Config, charged_adc_bits
from rram_sim.costs import adc_model
from rram_sim.costs.components import Component
from rram_sim.noc import topology_for

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

# ---------------------------------------------------------------------------------------------
# Static power per instance (mW), subthreshold + gate leakage, each from a model of that kind of
# block; docs/costs.md ("Static power") gives the commands that reproduce the CACTI figures.
# ---------------------------------------------------------------------------------------------
CACTI = ("CACTI 7 (github.com/HewlettPackard/cacti @1ffd8df; 32 nm, 'ram', 1 bank, 32-byte "
         "lines, ITRS low-operating-power (itrs-lop) peripherals, 360 K)")
# eDRAM 64 KB, lp-dram cells: leakage 1.24041 + gate 0.0173251 + refresh 0.0320262 mW. With these
# settings CACTI gives 15.69 pJ per 256-bit read, x 1.2 GHz + leakage = 20.1 mW: ISAAC's 20.7 mW
# row, which is why the low-operating-power device type is the one used throughout.
EDRAM_LEAK_MW = 1.24041 + 0.0173251 + 0.0320262
IR_LEAK_MW = 0.328565 + 0.00343352       # 2 KB SRAM (itrs-lop cells)
TILE_OR_LEAK_MW = 0.478754 + 0.0047841   # 3 KB SRAM (itrs-lop cells)
# OR 256 B: CACTI finds no organisation that small; the 2 KB IR's leakage per byte x 256.
OR_LEAK_MW = IR_LEAK_MW * OR_REF_BYTES / IR_REF_BYTES
# Router: CACTI 7's router model (router.cc, from ORION) at 32 nm with 32-bit flits, 8 input and
# 8 output ports, 4 virtual channels of 8 flits (CACTI's own NUCA router buffering), itrs-lop:
# leakage 2.64164 + gate 0.0749517 mW, area 0.125 mm^2 (ISAAC: 0.151 mm^2).
ROUTER_LEAK_MW = 2.64164 + 0.0749517
# Bus: CACTI 7 repeated global wire (Wire(Global)), itrs-lop: 0.00535964 + 0.0000951743 mW per
# bit per mm; 256 bits over the side of ISAAC's 0.372 mm^2 tile (assumption: the bus crosses the
# tile once to join its 12 IMAs).
WIRE_LEAK_MW_PER_BIT_MM = 0.00535964 + 9.51743e-05
BUS_REF_LENGTH_MM = 0.372 ** 0.5
BUS_LEAK_MW = WIRE_LEAK_MW_PER_BIT_MM * EDRAM_REF_BUS_BITS * BUS_REF_LENGTH_MM
# Logic: Aladdin (Shao et al., ISCA 2014) 40 nm unit characterisation, as tabulated in the
# hwcomponents library (Accelergy-Project/hwcomponents-library, library/aladdin.py): 32-bit adder
# 2.4 uW, 32x32-bit multiplier 80 uW, 32-bit comparator 0.0251 uW of leakage; linear in width for
# adders and comparators, quadratic for multipliers (that file's scaling). Not scaled to 32 nm.
ALADDIN = "Aladdin (Shao et al., ISCA 2014), 40 nm, via hwcomponents-library aladdin.py"
ADDER32_LEAK_MW = 2.4e-3
MULT32_LEAK_MW = 0.08
COMPARATOR32_LEAK_MW = 2.51e-5


def adder_leak_mw(bits: int) -> float:
    return ADDER32_LEAK_MW * bits / 32


def mult_leak_mw(bits: int) -> float:
    return MULT32_LEAK_MW * (bits / 32) ** 2


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


def build(cfg: Config) -> dict[str, Component]:
    """Every component of the chip ``cfg`` describes, priced from ISAAC's Table 6."""
    acc_bits = cfg.precision.input_bits + cfg.precision.weight_bits
    in_bits = cfg.precision.input_bits
    sa_leak = adder_leak_mw(acc_bits)
    sigmoid_leak = mult_leak_mw(in_bits) + adder_leak_mw(in_bits)
    maxpool_leak = COMPARATOR32_LEAK_MW * in_bits / 32
    # ISAAC's peak power less the static power at ISAAC's own point (16-bit data) is dynamic
    sa_ref_leak = adder_leak_mw(32)
    sigmoid_ref_leak = mult_leak_mw(16) + adder_leak_mw(16)
    maxpool_ref_leak = COMPARATOR32_LEAK_MW * 16 / 32

    # Per-byte dynamic energy of ISAAC's registers: one access of the 256-bit bus width per
    # 1.2 GHz cycle at peak, so (P - static) / 1.2 GHz per 32 bytes.
    ref_bytes = EDRAM_REF_BUS_BITS / 8
    ir_pj_per_byte = (IR_POWER_MW - IR_LEAK_MW) / REF_CLOCK_GHZ / ref_bytes
    or_pj_per_byte = (OR_POWER_MW - OR_LEAK_MW) / REF_CLOCK_GHZ / ref_bytes
    tile_or_pj_per_byte = (TILE_OR_POWER_MW - TILE_OR_LEAK_MW) / REF_CLOCK_GHZ / ref_bytes
    edram_pj_per_byte = (EDRAM_POWER_MW - EDRAM_LEAK_MW) / REF_CLOCK_GHZ / ref_bytes
    ir_bits = IR_REF_BYTES * 8
    xb, ou, pe, tile, noc, chip = cfg.crossbar, cfg.ou, cfg.pe, cfg.tile, cfg.noc, cfg.chip
    t_read = xb.read_latency_ns
    clock = chip.clock_ghz
    bus_bytes = tile.edram_bus_bits / 8
    flit_bytes = noc.flit_bits / 8
    ports = topology_for(cfg).router_ports
    cell_mw = XBAR_POWER_MW / (REF_ROWS * REF_COLS)
    cell_read_pj = cell_mw * t_read
    adc_e = adc_model.energy_ratio(charged_adc_bits(cfg), cfg.adc.sample_rate_gsps, ADC_REF_BITS,
                                   ADC_REF_GSPS)
    adc_a = adc_model.area_ratio(charged_adc_bits(cfg), cfg.adc.sample_rate_gsps, ADC_REF_BITS,
                                 ADC_REF_GSPS)
    adc_pj = ADC_POWER_MW / ADC_REF_GSPS * adc_e
    sh_pj = SH_POWER_MW * t_read
    dac_levels = 2 ** cfg.dac.bits - 1
    bus_scale = (tile.edram_bus_bits / EDRAM_REF_BUS_BITS) * (tile.pes / BUS_REF_PES)
    router_scale = (noc.flit_bits / ROUTER_REF_FLIT_BITS) * (ports / ROUTER_REF_PORTS)
    index_entry_bits = (xb.rows + cfg.logical_cols_per_crossbar) * INDEX_BITS

    comps = [
        Component(
            "adc", "adc", adc_pj, "adc_conversions", 1.0, 0.0,
            ADC_AREA_UM2 * adc_a, 1.0 / cfg.adc.sample_rate_gsps,
            f"{ISAAC}: 8 ADCs (8-bit, 1.28 GS/s) 16 mW, 0.0096 mm^2 -> 2 mW / 1.28 GS/s = "
            "1.5625 pJ per conversion, 1200 um^2 at that point; energy and area scaled to "
            f"adc.bits and adc.sample_rate_gsps by the {adc_model.SOURCE}; power = energy x "
            "sample rate; all dynamic"),
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
            "shift_add", "shift_add_digital", (SA_POWER_MW - sa_ref_leak) / REF_CLOCK_GHZ,
            "shift_adds", 1.0, sa_leak, SA_AREA_UM2, 1.0 / clock,
            f"{ISAAC}: 4 S+A per IMA 0.2 mW, 0.00024 mm^2 -> 0.05 mW each at one operation per "
            f"1.2 GHz cycle, less static; static: {ALADDIN}, one adder of input_bits + "
            "weight_bits (2.4 uW per 32 bits)"),
        Component(
            "input_register", "buffers", ir_pj_per_byte * bus_bytes, "input_register_bytes",
            bus_bytes, IR_LEAK_MW * pe.input_register_bytes / IR_REF_BYTES,
            IR_AREA_UM2 * pe.input_register_bytes / IR_REF_BYTES, 1.0 / clock,
            f"{ISAAC}: IR 2 KB 1.24 mW, 0.0021 mm^2; one 256-bit write per 1.2 GHz cycle at peak "
            "-> (1.24 - 0.332) mW / 1.2 GHz = 0.0237 pJ/B dynamic (access = edram_bus_bits); "
            f"static 0.332 mW for 2 KB from {CACTI}; static and area x size/2 KB"),
        Component(
            "input_register_read", "buffers",
            ir_pj_per_byte * xb.rows * cfg.dac.bits / 8, "crossbar_activations", 1.0, 0.0, 0.0,
            1.0 / clock,
            f"{ISAAC}: IR per-byte energy (0.0291 pJ/B, see input_register) x the rows x dac.bits "
            "/ 8 bytes latched into the DACs per crossbar read; same hardware as input_register "
            "(no own instance)"),
        Component(
            "output_register", "buffers", or_pj_per_byte * bus_bytes, "output_register_bytes",
            bus_bytes, OR_LEAK_MW * pe.output_register_bytes / OR_REF_BYTES,
            OR_AREA_UM2 * pe.output_register_bytes / OR_REF_BYTES, 1.0 / clock,
            f"{ISAAC}: OR 256 B 0.23 mW, 0.00077 mm^2; one 256-bit access per 1.2 GHz cycle at "
            f"peak, less static; static: the IR's {CACTI} figure per byte x 256 B (CACTI has no "
            "organisation this small); static and area x size/256 B"),
        Component(
            "index_unit", "index_datapath", 2 * INDEX_BITS * ir_pj_per_byte / 8, "index_lookups",
            1.0, 2 * index_entry_bits * IR_LEAK_MW / ir_bits,
            2 * index_entry_bits * IR_AREA_UM2 / ir_bits, 1.0 / clock,
            f"derived from {ISAAC} IR per bit (0.128 um^2, 2.96 fJ per access, 20.3 nW static "
            "from CACTI): AUTO-PRUNE index "
            f"unit per crossbar = index registers of (rows + logical columns) x {INDEX_BITS}-bit "
            "entries plus "
            "a gather mux assumed equal in size ((N-1) x w 2:1 mux cells ~ N x w register cells): "
            f"area and leakage 2 x bits x per-bit; one lookup reads {INDEX_BITS} bits and crosses "
            "the mux (2 x 16 x per-bit energy)"),
        Component(
            "edram", "buffers", edram_pj_per_byte * bus_bytes, "buffer_read_bytes", bus_bytes,
            EDRAM_LEAK_MW * tile.edram_kb / EDRAM_REF_KB,
            EDRAM_AREA_UM2 * tile.edram_kb / EDRAM_REF_KB, 1.0 / clock,
            f"{ISAAC}: eDRAM 64 KB 20.7 mW, 0.083 mm^2; one 256-bit access per 1.2 GHz cycle at "
            "peak, less static -> 16.2 pJ per 256-bit read (x edram_bus_bits/256); static "
            f"1.29 mW (leakage + gate leakage + refresh of lp-dram cells) from {CACTI}; static "
            "and area x size/64 KB"),
        Component(
            "edram_write", "buffers", edram_pj_per_byte * bus_bytes, "buffer_write_bytes",
            bus_bytes, 0.0, 0.0, 1.0 / clock,
            f"{ISAAC}: eDRAM write, same energy per access as a read (see edram); same hardware"),
        Component(
            "bus", "interconnect", (BUS_POWER_MW - BUS_LEAK_MW) * bus_scale / REF_CLOCK_GHZ,
            "buffer_read_bytes", bus_bytes, BUS_LEAK_MW * bus_scale,
            BUS_AREA_UM2 * bus_scale, 1.0 / clock,
            f"{ISAAC}: tile bus 7 mW, 0.090 mm^2 (256 bits, 12 IMAs); one transfer per 1.2 GHz "
            "cycle at peak, less static -> 5.12 pJ per 256-bit transfer; static: 256 repeated "
            f"global wires of {CACTI} (5.45 uW per bit per mm) over the 0.61 mm side of ISAAC's "
            "tile (assumption) = 0.85 mW; energy, static and area x width/256 x pes/12 (wire "
            "length); every eDRAM byte read crosses it"),
        Component(
            "bus_write", "interconnect", (BUS_POWER_MW - BUS_LEAK_MW) * bus_scale / REF_CLOCK_GHZ,
            "buffer_write_bytes", bus_bytes, 0.0, 0.0, 1.0 / clock,
            f"{ISAAC}: tile bus carrying bytes into the eDRAM (see bus); same hardware"),
        Component(
            "sigmoid", "shift_add_digital", (SIGMOID_POWER_MW - sigmoid_ref_leak) / REF_CLOCK_GHZ,
            "activation_ops", 1.0, sigmoid_leak, SIGMOID_AREA_UM2, 1.0 / clock,
            f"{ISAAC}: 2 sigmoid units 0.52 mW, 0.0006 mm^2; one evaluation per 1.2 GHz cycle at "
            f"peak, less static; static: {ALADDIN}, one input_bits multiplier and one adder per "
            "unit (a piecewise-linear segment: assumption), 21.2 uW at 16 bits"),
        Component(
            "tile_shift_add", "shift_add_digital",
            (TILE_SA_POWER_MW - sa_ref_leak) / REF_CLOCK_GHZ, "digital_adds", 1.0, sa_leak,
            TILE_SA_AREA_UM2, 1.0 / clock,
            f"{ISAAC}: tile S+A 0.05 mW, 0.00006 mm^2; one add per 1.2 GHz cycle at peak, less "
            f"static; static: {ALADDIN}, one adder of input_bits + weight_bits"),
        Component(
            "gradient_mac", "shift_add_digital", gradient_mac_pj(cfg.precision.input_bits),
            "gradient_macs", 1.0, 0.0, 0.0, 1.0 / clock,
            f"{HOROWITZ}: input_bits x input_bits multiply (0.2 pJ x (bits/8)^2) plus a "
            "2 x input_bits accumulate (0.03 pJ at 8 bits, 0.1 pJ at 32, linear): 0.9 pJ at 16 "
            "bits; one MAC per stored weight and output position; runs on the tile's digital "
            "units (no own instance)"),
        Component(
            "maxpool", "shift_add_digital", (MAXPOOL_POWER_MW - maxpool_ref_leak) / REF_CLOCK_GHZ,
            "pool_ops", 1.0, maxpool_leak, MAXPOOL_AREA_UM2, 1.0 / clock,
            f"{ISAAC}: max-pool unit 0.4 mW, 0.00024 mm^2; one comparison per 1.2 GHz cycle at "
            f"peak, less static; static: {ALADDIN}, one input_bits comparator"),
        Component(
            "tile_output_register", "buffers", tile_or_pj_per_byte * flit_bytes, "noc_flits",
            1.0, TILE_OR_LEAK_MW * tile.output_register_kb / TILE_OR_REF_KB,
            TILE_OR_AREA_UM2 * tile.output_register_kb / TILE_OR_REF_KB, 1.0 / clock,
            f"{ISAAC}: tile OR 3 KB 1.68 mW, 0.0032 mm^2; one 256-bit access per 1.2 GHz cycle at "
            "peak, less static (0.0311 pJ/B); every flit injected into the NoC is read from it "
            f"(x flit bytes); static 0.484 mW for 3 KB from {CACTI}; static and area x size/3 KB"),
        Component(
            "router", "interconnect",
            (ROUTER_POWER_MW - ROUTER_LEAK_MW) / (REF_CLOCK_GHZ * ROUTER_REF_PORTS)
            * noc.flit_bits / ROUTER_REF_FLIT_BITS, "noc_flit_hops", 1.0,
            ROUTER_LEAK_MW * router_scale, ROUTER_AREA_UM2 * router_scale,
            noc.hop_latency_cycles / clock,
            f"{ISAAC}: router (32-bit flits, 8 ports, shared by 4 tiles) 42 mW, 0.151 mm^2; at "
            "peak every port forwards one flit per 1.2 GHz cycle, less static -> 4.09 pJ per "
            "flit-hop (x flit_bits/32); static 2.72 mW from CACTI 7's router model (router.cc; "
            "32 nm, itrs-lop, 32-bit flits, 8x8 ports, 4 VCs of 8 flits); static and area x "
            "flit_bits/32 x ports/8 with ports = concentration + the noc.topology's neighbour "
            "ports (4 on a mesh) (assumption: buffer-dominated router)"),
        Component(
            "offchip_link", "interconnect", LINK_POWER_MW / LINK_REF_GBPS,
            "offchip_bytes", 1.0, 0.0, LINK_AREA_UM2,
            1.0 / chip.offchip_link_gbps,
            f"{ISAAC}: HyperTransport 4 links 10.4 W, 22.88 mm^2 -> 2.6 W, 5.72 mm^2 per link at "
            "6.4 GB/s -> 406.25 pJ per byte, all dynamic (no static power: the links are up "
            "only while transferring, as the hwcomponents library's ISAAC chip-to-chip link "
            "model charges them, leak 0); power x offchip_link_gbps/6.4"),
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


