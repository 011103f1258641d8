"""What a cost library provides: one :class:`Component` per hardware block, under fixed names.

Kept outside the :mod:`rram_sim.costs` package (which re-exports it as
``rram_sim.costs.components``) so that the configuration can check ``costs.overrides`` names
without importing the cost model. Every library (:mod:`rram_sim.costs.libraries`) gives every
name of :data:`COMPONENT_NAMES`, each charged on the same :class:`~rram_sim.counts.Counts`
field, so the accounting, the report and the plots never depend on which library priced a run.
This module imports nothing from the project.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("adc", "dac", "crossbar", "sample_hold", "shift_add_digital", "buffers",
              "interconnect", "index_datapath", "writes")   # fixed order used in every plot

# (name, category, Counts field charged, what one instance is)
COMPONENT_TABLE = (
    ("adc", "adc", "adc_conversions", "one ADC"),
    ("dac", "dac", "dac_drives", "one wordline DAC"),
    ("sample_hold", "sample_hold", "sample_holds", "one bitline sample-and-hold"),
    ("crossbar_read", "crossbar", "ou_activations", "one crossbar array"),
    ("shift_add", "shift_add_digital", "shift_adds", "one PE shift-and-add unit"),
    ("input_register", "buffers", "input_register_bytes", "one PE input register"),
    ("input_register_read", "buffers", "crossbar_activations", "(input register, no own instance)"),
    ("output_register", "buffers", "output_register_bytes", "one PE output register"),
    ("index_unit", "index_datapath", "index_lookups", "one index unit"),
    ("edram", "buffers", "buffer_read_bytes", "one tile buffer"),
    ("edram_write", "buffers", "buffer_write_bytes", "(tile buffer, no own instance)"),
    ("bus", "interconnect", "buffer_read_bytes", "one tile bus"),
    ("bus_write", "interconnect", "buffer_write_bytes", "(tile bus, no own instance)"),
    ("sigmoid", "shift_add_digital", "activation_ops", "one activation unit"),
    ("tile_shift_add", "shift_add_digital", "digital_adds", "one tile shift-and-add unit"),
    ("gradient_mac", "shift_add_digital", "gradient_macs", "(tile digital units, no own instance)"),
    ("maxpool", "shift_add_digital", "pool_ops", "one max-pool unit"),
    ("tile_output_register", "buffers", "noc_flits", "one tile output register"),
    ("router", "interconnect", "noc_flit_hops", "one router"),
    ("offchip_link", "interconnect", "offchip_bytes", "one chip-to-chip link"),
    ("cell_write", "writes", "cell_write_pulses", "(crossbar cells, no own instance)"),
    ("cell_verify", "writes", "cell_verify_reads", "(crossbar read path, no own instance)"),
)
COMPONENT_NAMES = tuple(row[0] for row in COMPONENT_TABLE)


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
