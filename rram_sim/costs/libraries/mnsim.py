"""The ``mnsim`` cost library: MNSIM 2.0's default constants (thu-nics/MNSIM-2.0, commit ca39ccb).

Every figure below is read from MNSIM 2.0's source at that commit and cited as ``file:line``
(``SimConfig.ini`` is its default configuration; ``HM/`` is ``MNSIM/Hardware_Model/``). MNSIM
prices each module as power x latency per operation, with no static power over time: the buffer's
leakage is folded into each access (``HM/Buffer.py:453``), so every ``leakage_mw`` here is 0.
Blocks MNSIM does not model (sample-and-hold, tile bus, activation unit, NoC with its default
``NoC_enable = 0``, off-chip links, index unit, gradient unit) cost nothing here, except the
index unit and the gradient MAC, which take the ``isaac`` library's figures so that pruned and
training runs stay priced; docs/costs.md lists each with its derivation.

Nodes: 130 nm devices and transistors (``SimConfig.ini:4,53``), SRAM buffers at 90 nm
(``SimConfig.ini:185``), digital units at 45 nm and the shift registers at 65 nm
(``SimConfig.ini:120,131,137,143``; pooling at 65 nm, ``:157``), digital clock 500 MHz
(``SimConfig.ini:118``).
"""

from __future__ import annotations

import math

from rram_sim.config import Config, charged_adc_bits
from rram_sim.costs.components import Component
from rram_sim.costs.libraries import isaac
from rram_sim.errors import ConfigError

MNSIM = "MNSIM 2.0 (thu-nics/MNSIM-2.0 @ca39ccb)"

# ADC choices by resolution: (choice, power W, area um^2, sample rate GS/s), HM/ADC.py area dict
# lines 33-42, precision 54-63, power 70-79, sample rate 93-102. Conversion time (bits + 2) /
# rate (HM/ADC.py:114), energy = time x power (HM/ADC.py:122).
ADC_TABLE = {
    10: (1, 6.92e-3, 1600.0, 1.5),     # choice 1: ADC.py:33,54,70,93
    8: (2, 2e-3, 1200.0, 1.28),        # choice 2 (ISAAC's): ADC.py:34,55,71,94
    6: (6, 1.26e-3, 1650.0, 1.0),      # choice 6, the default ADC_Choice: ADC.py:38,59,75,98
    4: (7, 0.7e-3, 500.0, 1.0),        # choice 7: ADC.py:39,60,76,99
}
# DAC choices by resolution: (choice, power W, area um^2), HM/DAC.py area 34-41, power 63-70;
# sample rate 1 GS/s (DAC.py:78); drive time (bits + 2) / rate (DAC.py:82), energy = time x power
# (DAC.py:86).
DAC_TABLE = {
    1: (1, 0.0039e-3, 0.166),
    2: (2, 0.0078e-3, 0.332),
    3: (3, 0.0156e-3, 0.664),
    4: (4, 0.0312e-3, 1.328),
    6: (5, 0.1248e-3, 5.312),
}
DAC_RATE_GSPS = 1.0

# Device (SimConfig.ini): cell area 1.44 um^2 (line 8), read voltages 0 and 0.15 V (line 16),
# resistances 1 MOhm and 10 kOhm (line 28). Read power of one cell V^2 / R with
# R = R0 R1 / (0.67 R1 + 0.33 R0) and V = sqrt(0.9 V0^2 + 0.1 V1^2) (HM/Device.py:61-69).
DEVICE_AREA_UM2 = 1.44
R_OFF_OHM, R_ON_OHM = 1e6, 1e4
V_LOW, V_HIGH = 0.0, 0.15
CELL_READ_W = (0.9 * V_LOW ** 2 + 0.1 * V_HIGH ** 2) / (
    R_OFF_OHM * R_ON_OHM / (R_ON_OHM * 0.67 + R_OFF_OHM * 0.33))
# Crossbar area: rows x cols x device area + 1150 um^2 of driver per row (HM/Crossbar.py:146).
ROW_DRIVER_UM2 = 1150.0

DIGITAL_GHZ = 0.5          # Digital_Frequency = 500 MHz (SimConfig.ini:118)
# Shift register, ShiftReg_Tech = 65: 8.1e-7 W, 1.42 um^2 (HM/ShiftReg.py:38,54), one operation
# per digital cycle (ShiftReg.py:29).
SHIFTREG_W, SHIFTREG_UM2 = 8.1e-7, 1.42
# Register, Reg_Tech = 45: 18.8e-9 W, 1.4256 um^2 at 65 nm scaled by (45/65)^2
# (HM/Reg.py:38-47,54-63); one access per digital cycle.
REG_W = 18.8e-9 * (45 / 65) ** 2
REG_UM2 = 1.4256 * (45 / 65) ** 2
# Joint module (the tile's adder tree joining its PEs' outputs), JointModule_Tech = 45, 8 bits
# (the Tile builds it without a bit width: JointModule.py:19-20, Tile.py:53): 2.64e-4 W and
# 353.76 um^2 at 65 nm (JointModule.py:36,53), scaled by (45/65)^2 (:43,60); one operation per
# digital cycle (:28), energy = latency x power (:69). A tile has an H-tree over its PEs of
# (PEs/2 + PEs/4 + ...) nodes x ADC_Num adders (Tile.py:157-167): 3 x 128 = 384 for 2 x 2 PEs.
JOINT_W = 2.64e-4 * (45 / 65) ** 2
JOINT_UM2 = 353.76 * (45 / 65) ** 2
# Pooling, 65 nm, 3x3 window, 64 units: 91917.1562 um^2 and 3.082 mW for the 64 units
# (HM/Pooling.py:38,55); 100 ns per window of up to 9 inputs on 64 channels (Pooling.py:75);
# energy = power x latency (Pooling.py:83).
POOL_UM2, POOL_W, POOL_NS, POOL_CHANNELS = 91917.1562, 3.082e-3, 100.0, 64

# SRAM buffer at 90 nm (HM/Buffer.py): index by size and bus width (Buffer.py:37-70), per access
# of Buffer_Bitwidth bits the dynamic energy of the table plus buf_cycle (20 ns, Buffer.py:325)
# x leakage (Buffer.py:453, 478). Tables (index: value): dynamic read energy nJ (Buffer.py:434),
# dynamic write energy nJ (Buffer.py:457), leakage mW (Buffer.py:327), area mm^2 (Buffer.py:359).
BUF_CYCLE_NS = 20.0
BUFFER_INDEX = {  # (largest KB, largest bus bits) -> table index
    (2, 64): 0, (2, 128): 1, (2, 256): 2,   # (2, wider): no entry in MNSIM's tables (-1)
    (4, 64): 4, (4, 128): 5, (4, 256): 6, (4, None): 7,
    (8, 64): 8, (8, 128): 9, (8, 256): 102, (8, None): 103,
    (None, 64): 104, (None, 128): 105, (None, 256): 106, (None, None): 107,
}
# index: (read nJ, write nJ, leakage mW, area mm^2), the table entries at that index
BUFFER_TABLE = {
    0: (0.0075695, 0.0131361, 1.006428, 0.0405803),
    1: (0.0204901, 0.0223358, 1.136656, 0.0944387),
    2: (0.0374838, 0.0422325, 1.253224, 0.170796),
    4: (0.00854257, 0.0199484, 1.95684, 0.0686947),
    5: (0.0227852, 0.0271014, 2.15962, 0.129533),
    6: (0.041063, 0.0516509, 2.28782, 0.21469158),
    7: (0.12054, 0.130038, 2.62008, 0.544121685),
    8: (0.018382, 0.0211344, 4.1222, 0.156974886),
    9: (0.0275777, 0.0368348, 4.18056, 0.199132286),
    102: (0.138328, 0.1265, 269.828, 1.680181012),
    103: (0.231921, 0.253771, 277.794, 2.198122156),
    104: (0.0933836, 0.0789223, 551.922, 2.972110865),
    105: (0.131128, 0.102461, 532.732, 3.116036246),
    106: (0.210481, 0.198653, 539.688, 3.763339813),
    107: (0.330414, 0.374836, 544.616, 3.665484947),
}


def _buffer_entry(kb: int, bus_bits: int) -> tuple[int, tuple[float, float, float, float]]:
    size = next((s for s in (2, 4, 8) if kb <= s), None)
    width = next((w for w in (64, 128, 256) if bus_bits <= w), None)
    idx = BUFFER_INDEX.get((size, width))
    if idx not in BUFFER_TABLE:
        raise ConfigError(f"tile.edram_kb={kb}, tile.edram_bus_bits={bus_bits}: MNSIM's 90 nm "
                          f"SRAM tables have no buffer of <= 2 KB wider than 256 bits")
    return idx, BUFFER_TABLE[idx]


def build(cfg: Config) -> dict[str, Component]:
    """Every component of ``cfg`` priced with MNSIM 2.0's default constants. The ADC is MNSIM's
    of the smallest resolution >= the charged one (config.charged_adc_bits)."""
    need = charged_adc_bits(cfg)
    bits = min((b for b in ADC_TABLE if b >= need), default=None)
    if bits is None:
        raise ConfigError(f"adc.bits={cfg.adc.bits}: the 'mnsim' library has MNSIM's ADCs of "
                          f"{', '.join(map(str, sorted(ADC_TABLE)))} bits only, this chip "
                          f"needs {need}")
    if cfg.dac.bits not in DAC_TABLE:
        raise ConfigError(f"dac.bits={cfg.dac.bits}: the 'mnsim' library has MNSIM's DACs of "
                          f"{', '.join(map(str, sorted(DAC_TABLE)))} bits only")
    a_choice, a_w, a_um2, a_gsps = ADC_TABLE[bits]
    a_ns = (bits + 2) / a_gsps
    d_choice, d_w, d_um2 = DAC_TABLE[cfg.dac.bits]
    d_ns = (cfg.dac.bits + 2) / DAC_RATE_GSPS
    xb, t_read = cfg.crossbar, cfg.crossbar.read_latency_ns
    arrays = 2 if xb.signed_scheme == "differential" else 1
    cell_pj = CELL_READ_W * t_read * 1e3           # W x ns = nJ; x 1e3 = pJ
    cyc = 1.0 / DIGITAL_GHZ
    bus_bytes = cfg.tile.edram_bus_bits / 8
    b_idx, (b_rd_nj, b_wr_nj, b_leak_mw, b_mm2) = _buffer_entry(cfg.tile.edram_kb,
                                                                 cfg.tile.edram_bus_bits)
    b_rd_pj = (b_rd_nj + BUF_CYCLE_NS * b_leak_mw / 1e3) * 1e3
    b_wr_pj = (b_wr_nj + BUF_CYCLE_NS * b_leak_mw / 1e3) * 1e3
    dac_share = min(cfg.ou.rows, xb.rows) / xb.rows
    tree_depth = max(1, math.ceil(math.log2(cfg.tile.pes)))    # cycles of the tile's adder tree
    ref = isaac.build(cfg)
    none = "not modeled by MNSIM 2.0: no energy, no area"

    def comp(name: str, category: str, energy_pj: float, event: str, per: float, area: float,
             latency: float, source: str) -> Component:
        return Component(name, category, energy_pj, event, per, 0.0, area, latency, source)

    comps = [
        comp("adc", "adc", a_w * a_ns * 1e3, "adc_conversions", 1.0, a_um2, a_ns,
             f"{MNSIM}: ADC choice {a_choice} ({bits} bits) {a_w * 1e3:g} mW, "
             f"{a_um2:g} um^2, {a_gsps:g} GS/s (HM/ADC.py tables); conversion (bits + 2) / rate "
             f"= {a_ns:g} ns (ADC.py:114); energy = power x time (ADC.py:122)"),
        comp("dac", "dac", d_w * d_ns * 1e3, "dac_drives", 1.0, d_um2 * dac_share, d_ns,
             f"{MNSIM}: DAC choice {d_choice} ({cfg.dac.bits} bits) {d_w * 1e6:g} uW, "
             f"{d_um2:g} um^2 (HM/DAC.py tables); drive (bits + 2) / 1 GS/s = {d_ns:g} ns "
             "(DAC.py:78,82); energy = power x time (DAC.py:86); area: MNSIM has DAC_Num DACs "
             "per array, shared by its rows through an input demux (HM/PE.py:62,193,480), here "
             f"ou.rows of them for crossbar.rows rows: {dac_share:g} DAC per row"),
        comp("sample_hold", "sample_hold", 0.0, "sample_holds", 1.0, 0.0, 0.0, none),
        comp("crossbar_read", "crossbar", cell_pj * cfg.ou.rows * cfg.ou.cols, "ou_activations",
             1.0, xb.rows * xb.cols * DEVICE_AREA_UM2 + ROW_DRIVER_UM2 * xb.rows * arrays, t_read,
             f"{MNSIM}: cell read power V^2/R = {CELL_READ_W:.4g} W (HM/Device.py:61-69 with "
             "SimConfig.ini:16,28) x crossbar.read_latency_ns per activated cell (Crossbar.py:204,"
             "239), ou.rows x ou.cols cells per OU activation; area rows x cols x 1.44 um^2 + "
             "1150 um^2 driver per row of each array (x2 for a differential pair held as two "
             "arrays) (Crossbar.py:146, SimConfig.ini:8)"),
        comp("shift_add", "shift_add_digital", SHIFTREG_W * cyc * 1e3, "shift_adds", 1.0,
             SHIFTREG_UM2, cyc,
             f"{MNSIM}: shift register (65 nm) 8.1e-7 W, 1.42 um^2 (HM/ShiftReg.py:38,54) for one "
             "500 MHz cycle (2 ns: HM/PE.py:651, SimConfig.ini:118) per conversion"),
        comp("input_register", "buffers", REG_W * cyc * 1e3, "input_register_bytes", 1.0,
             REG_UM2 * cfg.pe.input_register_bytes, cyc,
             f"{MNSIM}: register (45 nm) 18.8e-9 W x (45/65)^2, 1.4256 um^2 x (45/65)^2 per 8-bit "
             "register (HM/Reg.py:38-63) for one 500 MHz cycle per byte; area one register per "
             "byte of pe.input_register_bytes"),
        comp("input_register_read", "buffers", 0.0, "crossbar_activations", 1.0, 0.0, cyc,
             f"{MNSIM}: the DAC input latch is part of the DAC figure (HM/DAC.py)"),
        comp("output_register", "buffers", REG_W * cyc * 1e3, "output_register_bytes", 1.0,
             REG_UM2 * cfg.pe.output_register_bytes, cyc,
             f"{MNSIM}: register (45 nm) as input_register (HM/Reg.py:38-63)"),
        borrowed(ref["index_unit"], "not modeled by MNSIM 2.0; the isaac "
                                 "library's figure: "),
        comp("edram", "buffers", b_rd_pj, "buffer_read_bytes", bus_bytes,
             b_mm2 * 1e6 * (cfg.tile.pes + 1), BUF_CYCLE_NS,
             f"{MNSIM}: 90 nm SRAM buffer, table index {b_idx} for {cfg.tile.edram_kb} KB at "
             f"{cfg.tile.edram_bus_bits} bits (HM/Buffer.py:37-70): per access {b_rd_nj:g} nJ "
             f"dynamic (Buffer.py:434) + 20 ns x {b_leak_mw:g} mW leakage (Buffer.py:325,327,453);"
             f" area {b_mm2:g} mm^2 (Buffer.py:359) for each of MNSIM's tile buffers: an input "
             "buffer per PE and the tile's output buffer (HM/Tile.py:191-215), tile.pes + 1"),
        comp("edram_write", "buffers", b_wr_pj, "buffer_write_bytes", bus_bytes, 0.0, BUF_CYCLE_NS,
             f"{MNSIM}: buffer write, {b_wr_nj:g} nJ dynamic (Buffer.py:457) + 20 ns x leakage "
             "(Buffer.py:478); same hardware as edram"),
        comp("bus", "interconnect", 0.0, "buffer_read_bytes", bus_bytes, 0.0, cyc, none),
        comp("bus_write", "interconnect", 0.0, "buffer_write_bytes", bus_bytes, 0.0, cyc, none),
        comp("sigmoid", "shift_add_digital", 0.0, "activation_ops", 1.0, 0.0, cyc, none),
        comp("tile_shift_add", "shift_add_digital", JOINT_W * cyc * tree_depth * 1e3,
             "digital_adds", 1.0, JOINT_UM2, cyc,
             f"{MNSIM}: joint module, the tile's adder tree over its PEs (45 nm, 8 bits): "
             f"2.64e-4 W and 353.76 um^2 at 65 nm x (45/65)^2 (HM/JointModule.py:36,43,53,60); "
             "MNSIM powers every adder of the tree for the tree's latency, ceil(log2(PEs)) "
             f"500 MHz cycles (LM/Tile_latency.py:32,43; HM/Tile.py:259), {tree_depth} per add "
             "here; area per unit (MNSIM: 3 x ADC_Num units per 2 x 2-PE tile, "
             "Tile.py:157-167, set by tile.shift_add_units)"),
        borrowed(ref["gradient_mac"], "not modeled by MNSIM 2.0 (inference only); "
                                 "the isaac library's figure: "),
        comp("maxpool", "shift_add_digital", POOL_W * POOL_NS * 1e3 / POOL_CHANNELS,
             "pool_windows", 1.0, POOL_UM2 / POOL_CHANNELS, POOL_NS,
             f"{MNSIM}: pooling (65 nm, 3x3, 64 units) 3.082 mW, 91917 um^2 (HM/Pooling.py:38,55),"
             " one 100 ns slot per window of up to 9 inputs on 64 channels (Pooling.py:75,83) -> "
             "energy per window (a 2x2 window costs a whole slot, as in MNSIM); area per "
             "channel unit"),
        comp("tile_output_register", "buffers", 0.0, "noc_flits", 1.0, 0.0, cyc, none),
        comp("router", "interconnect", 0.0, "noc_flit_hops", 1.0, 0.0, cyc,
             f"{MNSIM}: NoC_enable = 0 (SimConfig.ini:216): no router energy or area"),
        comp("offchip_link", "interconnect", 0.0, "offchip_bytes", 1.0, 0.0,
             1.0 / cfg.chip.offchip_link_gbps, none),
        comp("cell_write", "writes", cfg.cell.write_energy_pj, "cell_write_pulses", 1.0, 0.0,
             cfg.cell.write_latency_ns, "config cell.write_energy_pj / cell.write_latency_ns per "
             "pulse (MNSIM's figures are inference only)"),
        comp("cell_verify", "writes", cell_pj + a_w * a_ns * 1e3, "cell_verify_reads", 1.0, 0.0,
             t_read + a_ns, f"{MNSIM}-derived: one cell read + one ADC conversion per verify"),
    ]
    return {c.name: c for c in comps}


def borrowed(c: Component, prefix: str) -> Component:
    """The ``isaac`` library's ``c`` without leakage (as MNSIM charges none), ``prefix`` before
    its source."""
    return Component(c.name, c.category, c.energy_pj, c.event, c.events_per_unit, 0.0,
                     c.area_um2, c.latency_ns, prefix + c.source + "; no leakage, as in MNSIM")
