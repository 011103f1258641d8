"""Chip configuration: a typed, nested, frozen description of a ReRAM accelerator.

A chip is described by groups of parameters — the ReRAM cell, the crossbar, its DACs and ADCs, the
operation unit (OU, the rows x columns activated together), the processing element (PE, ISAAC's
"IMA"), the tile, the network-on-chip, the chip itself, the numeric precision and the training
settings. Each group is a frozen dataclass; every field carries its meaning, unit and constraint in
its metadata, from which ``docs/config.md`` is generated (a test keeps the two equal).

Configurations are read from and written to YAML (``yaml.safe_load`` only). A YAML file may name a
shipped preset with ``base: NAME`` and override only some keys. A file without ``base:`` starts
from the built-in defaults listed below (the dataclass defaults: an ISAAC-class chip of 168 tiles,
16-bit weights and inputs, training disabled; close to, but not the same as, preset ``isaac``), and
``rram-sim chip FILE`` says so on its ``base:`` line. Every invalid key, type or value raises
:class:`~rram_sim.errors.ConfigError` whose message names the key path, the value and the rule.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rram_sim.adc.registry import ADC_MODELS
from rram_sim.cost_components import COMPONENT_NAMES
from rram_sim.errors import ConfigError
from rram_sim.limits import MAX_TEXT_BYTES, short_repr
from rram_sim.noc.registry import TOPOLOGIES

SIGNED_SCHEMES = ("offset", "differential")
# adc.range_policy names an ADC model; the registry is the list of choices (rram_sim.adc), so a
# registered model is a valid value at once.
ADC_RANGE_POLICIES = ADC_MODELS

# noc.topology names a NoC topology; the registry is the list of choices (rram_sim.noc), so a
# registered topology is a valid value at once.
NOC_TOPOLOGIES = TOPOLOGIES
WRITE_SCHEMES = ("single_pulse", "write_verify")
GRADIENT_UNITS = ("digital", "crossbar")
# costs.library names a built-in cost library (rram_sim.costs.libraries); costs.power_gating the
# tiles that leak. Kept here as plain names so the config does not import the cost model.
COST_LIBRARIES = ("isaac", "mnsim")
POWER_GATING = ("none", "unused")
# The per-event, static and size figures a costs.overrides entry may set on a component.
OVERRIDE_FIELDS = ("energy_pj", "leakage_mw", "area_um2", "latency_ns")
# Keys that older versions had and that changed no result: files (bundles saved earlier, user
# YAMLs) that still carry them load, with one warning naming the keys dropped.
REMOVED_KEYS = ("cell.g_on_us", "cell.g_off_us", "cell.read_voltage_v", "training.replication")


class RemovedKeyWarning(UserWarning):
    """A configuration carried keys this version no longer has; they were dropped."""


def _f(default: Any, doc: str, unit: str = "", lo: float | None = None, hi: float | None = None,
       choices: tuple[str, ...] | None = None, lo_open: bool = False, label: bool = False) -> Any:
    """A dataclass field with its documentation and constraint in the metadata. ``label=True``
    marks a field that describes the chip but changes no result (documented as such; every other
    field must change some result, which tests/test_dead_keys.py checks)."""
    meta = {"doc": doc, "unit": unit, "min": lo, "max": hi, "choices": choices, "min_open": lo_open,
            "label": label}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class CellConfig:
    """The ReRAM cell: conductance levels and write characteristics."""

    bits: int = _f(2, "bits stored per cell (2**bits conductance levels)", "bit", 1, 8)
    write_energy_pj: float = _f(10.0, "energy of one write (SET/RESET) pulse on one cell", "pJ", 0,
                                 1e6)
    write_latency_ns: float = _f(50.0, "duration of one write pulse", "ns", 0, 1e9)
    pulses_per_level: int = _f(1, "write pulses needed to move a cell by one conductance level",
                               "pulse", 1, 10_000)
    endurance_writes: float = _f(1.0e8, "write pulses a cell survives before it wears out", "pulse",
                                 1, 1e18)


@dataclass(frozen=True)
class CrossbarConfig:
    """One crossbar array and how signed weights are stored in it."""

    rows: int = _f(128, "wordlines (inputs) of one crossbar", "row", 1, 4096)
    cols: int = _f(128, "bitlines (physical columns) of one crossbar", "column", 1, 4096)
    signed_scheme: str = _f(
        "offset", "signed weights: 'offset' stores w + 2**(weight_bits-1) and subtracts the bias "
        "digitally from the input sum (ISAAC); 'differential' stores w+ and w- in a column pair",
        choices=SIGNED_SCHEMES)
    read_latency_ns: float = _f(100.0, "time of one crossbar read (one input chunk on all active "
                                "rows, column currents sampled)", "ns", 0, 1e9, lo_open=True)
    analog_subtraction: bool = _f(
        False, "'differential' only: a forward read subtracts each negative column's current from "
        "its positive partner's before the ADC, one conversion per column pair (MNSIM 2.0's "
        "Xbar_Polarity = 2); transposed reads still convert each polarity")


@dataclass(frozen=True)
class DacConfig:
    """Digital-to-analog converters driving the wordlines."""

    bits: int = _f(1, "input bits applied per crossbar read", "bit", 1, 8)


@dataclass(frozen=True)
class AdcConfig:
    """Analog-to-digital converters reading the bitlines."""

    bits: int = _f(8, "ADC resolution", "bit", 1, 16)
    sample_rate_gsps: float = _f(1.28, "conversions per second of one ADC", "GS/s", 0, 1000,
                                 lo_open=True)
    range_policy: str = _f(
        "lossless", "'lossless' converts every column sum exactly; 'full_scale' spans the largest "
        "possible column sum with 2**bits codes; 'calibrated' spans calibration_fraction of it",
        choices=ADC_RANGE_POLICIES)
    calibration_fraction: float = _f(0.25, "for 'calibrated': fraction of the largest possible "
                                     "column sum covered by the ADC range (larger sums clip)", "",
                                     0, 1, lo_open=True)
    columns_per_adc: int = _f(128, "bitlines multiplexed onto one ADC", "column", 1, 4096)
    sharing: str = _f("crossbar", "'crossbar': every crossbar has its own bank of "
                      "crossbar.cols / columns_per_adc ADCs; 'pe': the crossbars of a PE share one "
                      "such bank and their conversions queue on it", choices=("crossbar", "pe"))


@dataclass(frozen=True)
class OuConfig:
    """Operation unit: the block of rows x columns of a crossbar activated in one read."""

    rows: int = _f(128, "wordlines activated together (must divide crossbar.rows)", "row", 1,
                   4096)
    cols: int = _f(128, "bitlines read together (must divide crossbar.cols)", "column", 1,
                   4096)


@dataclass(frozen=True)
class PeConfig:
    """Processing element (ISAAC's in-situ multiply-accumulate unit, IMA)."""

    crossbars: int = _f(8, "crossbars per PE", "crossbar", 1, 4096)
    shift_add_units: int = _f(4, "shift-and-add units per PE", "unit", 1, 4096)
    input_register_bytes: int = _f(2048, "input register per PE", "B", 1, 2 ** 30)
    output_register_bytes: int = _f(256, "output register per PE", "B", 1, 2 ** 30)
    index_lookups_per_cycle: int = _f(16, "index-table lookups (gathered input rows) one index "
                                      "unit performs per cycle", "lookup", 1, 4096)
    write_drivers: int = _f(0, "write drivers of a PE, each pulsing one cell per pulse slot (a "
                            "row's written cells go in batches of this many; 0: one per crossbar "
                            "column, a whole row per pulse slot)", "driver", 0, 65536)


@dataclass(frozen=True)
class TileConfig:
    """A tile: PEs sharing an eDRAM buffer, a bus and digital units."""

    pes: int = _f(12, "PEs per tile", "PE", 1, 4096)
    edram_kb: int = _f(64, "eDRAM buffer per tile", "KiB", 1, 2 ** 20)
    edram_bus_bits: int = _f(256, "width of one eDRAM access and of the tile bus", "bit", 8,
                             65536)
    edram_access_ns: float = _f(0.0, "time one eDRAM access (of edram_bus_bits) holds the port; "
                                "0: one clock cycle, a pipelined eDRAM as ISAAC's; MNSIM 2.0's "
                                "buffer takes 20 ns per 64-bit access", "ns", 0, 1e6)
    output_register_kb: int = _f(3, "tile output register", "KiB", 0, 2 ** 20)
    sigmoid_units: int = _f(2, "activation-function units per tile", "unit", 1, 4096)
    shift_add_units: int = _f(1, "tile-level shift-and-add units (row-block partial sums)", "unit",
                              1, 4096)
    maxpool_units: int = _f(1, "max-pool units per tile", "unit", 1, 4096)


@dataclass(frozen=True)
class NocConfig:
    """The on-chip network joining the tiles."""

    topology: str = _f("cmesh", "router network, a registered NoC topology "
                       "(rram_sim.noc): 'mesh' (a router per tile, XY routes), 'cmesh' "
                       "(a mesh of routers shared by `concentration` tiles), 'ring' (a router "
                       "per tile on a bidirectional ring)", choices=NOC_TOPOLOGIES)
    concentration: int = _f(4, "tiles sharing one router in a 'cmesh' (1 for a topology with a "
                            "router per tile)", "tile", 1, 65536)
    flit_bits: int = _f(32, "bits of one flit; one flit crosses a link per cycle", "bit", 8,
                        65536)
    hop_latency_cycles: int = _f(4, "router pipeline plus link traversal per hop", "cycle", 1,
                                 10 ** 6)


@dataclass(frozen=True)
class ChipConfig:
    """The chip as a whole."""

    tiles: int = _f(168, "tiles on the chip", "tile", 1, 65536)
    clock_ghz: float = _f(1.2, "digital clock (NoC, buffers, shift-add)", "GHz", 0, 100,
                          lo_open=True)
    technology_nm: int = _f(32, "process node the cost constants refer to (they are not scaled "
                            "by it)", "nm", 1, 10_000, label=True)
    offchip_links: int = _f(4, "chip-to-chip links", "link", 0, 4096)
    offchip_link_gbps: float = _f(6.4, "bandwidth of one chip-to-chip link", "GB/s", 0, 1e6,
                                  lo_open=True)


@dataclass(frozen=True)
class PrecisionConfig:
    """Fixed-point precision of weights and layer inputs."""

    weight_bits: int = _f(16, "bits of a quantized weight (signed)", "bit", 2, 32)
    input_bits: int = _f(16, "bits of a quantized layer input (signed, two's complement)", "bit",
                         1, 32)


@dataclass(frozen=True)
class TrainingConfig:
    """On-chip training (PipeLayer-style forward, back-propagation, gradient and update phases)."""

    enabled: bool = _f(False, "the chip supports training passes (transposed reads, updates)")
    batch_size: int = _f(16, "images per weight update", "image", 1, 65536)
    write_scheme: str = _f("single_pulse", "'single_pulse' writes each level change open-loop; "
                           "'write_verify' follows every pulse with a verify read",
                           choices=WRITE_SCHEMES)
    gradient_unit: str = _f("digital", "where weight gradients (outer products) are computed",
                            choices=GRADIENT_UNITS)
    write_power_budget_w: float = _f(0.0, "chip-wide cap on cell-write power: at most floor("
                                     "budget / (write drivers x cell.write_energy_pj / "
                                     "cell.write_latency_ns)) PEs write at once, in updates and "
                                     "reload programming (0: no cap)", "W", 0, 1e6)


@dataclass(frozen=True)
class CostsConfig:
    """The cost library the chip's energy, leakage, area and latency figures come from."""

    library: str = _f("isaac", "built-in cost library: 'isaac' (ISAAC-CE Table 6, 32 nm, scaled "
                      "by stated laws) or 'mnsim' (MNSIM 2.0's default constants); every value "
                      "is cited in docs/costs.md", choices=COST_LIBRARIES)
    power_gating: str = _f("unused", "tiles that leak: 'unused' gates every tile holding no "
                           "layer (only tiles in use and their routers leak), 'none' leaks every "
                           "tile of each chip in use", choices=POWER_GATING)
    overrides: Any = _f((), "per component, replacements of the library's figures: "
                        "{component: {energy_pj, leakage_mw, area_um2, latency_ns}} (YAML "
                        "mapping; component names as in docs/costs.md); leakage_mw sets a "
                        "component's static power per instance")

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", _canonical_overrides(self.overrides))

    def overrides_dict(self) -> dict[str, dict[str, float]]:
        """The overrides as a nested mapping (component -> field -> value)."""
        return {comp: dict(fields) for comp, fields in self.overrides}


def _canonical_overrides(value: Any) -> tuple:
    """``costs.overrides`` as a sorted tuple of ``(component, ((field, value), ...))`` pairs (so
    the config stays hashable), each component name, field and value checked."""
    if isinstance(value, tuple):
        value = {comp: dict(fields) for comp, fields in value}
    if not isinstance(value, dict):
        raise ConfigError(f"costs.overrides={short_repr(value)}: must be a mapping of component "
                          f"names to mappings of {', '.join(OVERRIDE_FIELDS)}")
    out = []
    for comp, fields in value.items():
        path = f"costs.overrides.{comp if isinstance(comp, str) else short_repr(comp)}"
        if comp not in COMPONENT_NAMES:
            raise ConfigError(f"{path}: unknown component (known: {', '.join(COMPONENT_NAMES)})")
        if isinstance(fields, tuple):
            fields = dict(fields)
        if not isinstance(fields, dict) or not fields:
            raise ConfigError(f"{path}={short_repr(fields)}: must be a non-empty mapping of "
                              f"{', '.join(OVERRIDE_FIELDS)}")
        items = []
        for k, v in fields.items():
            if k not in OVERRIDE_FIELDS:
                raise ConfigError(f"{path}.{short_repr(k)}: unknown field (known: "
                                  f"{', '.join(OVERRIDE_FIELDS)})")
            ok = (not isinstance(v, bool) and isinstance(v, (int, float))
                  and math.isfinite(v) and 0 <= v <= 1e15)
            if not ok:
                raise ConfigError(f"{path}.{k}={short_repr(v)}: must be a finite number in "
                                  f"0..1e15")
            items.append((k, float(v)))
        out.append((comp, tuple(sorted(items))))
    return tuple(sorted(out))


@dataclass(frozen=True)
class Config:
    """A whole chip: every parameter group plus a name and a one-line description."""

    name: str = _f("custom", "name of the configuration (preset name for shipped ones)")
    description: str = _f("", "one-line description")
    cell: CellConfig = field(default_factory=CellConfig)
    crossbar: CrossbarConfig = field(default_factory=CrossbarConfig)
    dac: DacConfig = field(default_factory=DacConfig)
    adc: AdcConfig = field(default_factory=AdcConfig)
    ou: OuConfig = field(default_factory=OuConfig)
    pe: PeConfig = field(default_factory=PeConfig)
    tile: TileConfig = field(default_factory=TileConfig)
    noc: NocConfig = field(default_factory=NocConfig)
    chip: ChipConfig = field(default_factory=ChipConfig)
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    costs: CostsConfig = field(default_factory=CostsConfig)

    def __post_init__(self) -> None:
        validate(self)

    # Derived quantities used everywhere; kept here so there is one definition of each.
    @property
    def slices_per_weight(self) -> int:
        """Cells (physical columns) holding one weight magnitude: ceil(weight_bits / cell.bits)."""
        return math.ceil(self.precision.weight_bits / self.cell.bits)

    @property
    def columns_per_weight(self) -> int:
        """Physical columns per logical column: slices, doubled for a differential pair."""
        pair = 2 if self.crossbar.signed_scheme == "differential" else 1
        return self.slices_per_weight * pair

    @property
    def logical_cols_per_crossbar(self) -> int:
        """Logical columns (outputs) one crossbar holds."""
        return self.crossbar.cols // self.columns_per_weight

    @property
    def input_cycles(self) -> int:
        """Crossbar reads per input vector: ceil(input_bits / dac.bits)."""
        return math.ceil(self.precision.input_bits / self.dac.bits)

    @property
    def adcs_per_crossbar(self) -> int:
        """ADCs serving one crossbar: ceil(crossbar.cols / adc.columns_per_adc)."""
        return math.ceil(self.crossbar.cols / self.adc.columns_per_adc)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["costs"]["overrides"] = self.costs.overrides_dict()
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def config_hash(self) -> str:
        """A short stable hash of every parameter (name and description excluded)."""
        d = self.to_dict()
        d.pop("name")
        d.pop("description")
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def replace(self, **changes: Any) -> Config:
        """A copy with dotted-path changes, e.g. ``cfg.replace(**{"adc.bits": 6})``."""
        return from_dict(_set_paths(self.to_dict(), changes))


GROUPS: dict[str, type] = {
    "cell": CellConfig, "crossbar": CrossbarConfig, "dac": DacConfig, "adc": AdcConfig,
    "ou": OuConfig, "pe": PeConfig, "tile": TileConfig, "noc": NocConfig, "chip": ChipConfig,
    "precision": PrecisionConfig, "training": TrainingConfig, "costs": CostsConfig,
}


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

def _check_field(path: str, value: Any, f: dataclasses.Field) -> None:
    typ = f.type if isinstance(f.type, str) else f.type.__name__
    meta = f.metadata
    shown = short_repr(value)   # never the whole value: it may be huge (YAML aliases, long ints)
    if typ == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}={shown}: must be an integer")
    elif typ == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}={shown}: must be a number")
        # an int is finite however long (math.isfinite would overflow converting it to float)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{path}={shown}: must be finite")
    elif typ == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{path}={shown}: must be true or false")
    elif typ == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{path}={shown}: must be a string")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{path}={shown}: must be one of {', '.join(meta['choices'])}")
    # Python compares ints of any length with floats exactly, so these never overflow.
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None:
        if meta.get("min_open") and not value > lo:
            raise ConfigError(f"{path}={shown}: must be > {lo}")
        if not meta.get("min_open") and not value >= lo:
            raise ConfigError(f"{path}={shown}: must be >= {lo}")
    if hi is not None and not value <= hi:
        raise ConfigError(f"{path}={shown}: must be <= {hi}")


def _rule(ok: bool, path: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{path}={short_repr(value)}: {rule}")


def validate(cfg: Config) -> None:
    """Check every field's type and range, then the rules that relate fields to each other."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in GROUPS:
            if not isinstance(value, GROUPS[f.name]):
                raise ConfigError(
                    f"{f.name}: must be a mapping of {GROUPS[f.name].__name__} fields")
            for g in dataclasses.fields(value):
                _check_field(f"{f.name}.{g.name}", getattr(value, g.name), g)
        else:
            _check_field(f.name, value, f)

    xb, ou = cfg.crossbar, cfg.ou
    _rule(cfg.columns_per_weight <= xb.cols, "crossbar.cols", xb.cols,
          f"must hold one weight's {cfg.columns_per_weight} physical columns "
          f"(ceil(weight_bits/cell.bits), x2 for 'differential')")
    _rule(not xb.analog_subtraction or xb.signed_scheme == "differential",
          "crossbar.analog_subtraction", xb.analog_subtraction,
          "needs crossbar.signed_scheme 'differential' (a column pair to subtract)")
    _rule(xb.cols % cfg.columns_per_weight == 0 or cfg.columns_per_weight == 1, "crossbar.cols",
          xb.cols,
          f"must be a multiple of the {cfg.columns_per_weight} physical columns per weight")
    _rule(ou.rows <= xb.rows and xb.rows % ou.rows == 0, "ou.rows", ou.rows,
          f"must divide crossbar.rows={xb.rows}")
    _rule(ou.cols <= xb.cols and xb.cols % ou.cols == 0, "ou.cols", ou.cols,
          f"must divide crossbar.cols={xb.cols}")
    _rule(cfg.adc.columns_per_adc <= xb.cols, "adc.columns_per_adc", cfg.adc.columns_per_adc,
          f"an ADC cannot be shared by more columns than the crossbar has ({xb.cols})")
    _rule(cfg.dac.bits <= cfg.precision.input_bits, "dac.bits", cfg.dac.bits,
          f"must not exceed precision.input_bits={cfg.precision.input_bits}")
    _rule(NOC_TOPOLOGIES[cfg.noc.topology].shares_routers or cfg.noc.concentration == 1,
          "noc.concentration", cfg.noc.concentration,
          f"must be 1 for a '{cfg.noc.topology}' (one router per tile)")
    _rule(cfg.noc.concentration <= cfg.chip.tiles, "noc.concentration", cfg.noc.concentration,
          f"must not exceed chip.tiles={cfg.chip.tiles}")
    # Column sums go through float32 GEMM in the kernels; keep them exactly representable.
    max_sum = ou.rows * (2 ** cfg.dac.bits - 1) * (2 ** cfg.cell.bits - 1)
    _rule(max_sum < 2 ** 24, "ou.rows", ou.rows,
          f"largest column sum {max_sum} must stay below 2**24 (exact in float32)")


def lossless_adc_bits(cfg: Config) -> int:
    """Bits an ADC needs to convert every column sum of one OU read exactly; a ``lossless`` ADC
    with fewer ``adc.bits`` is charged at this resolution (:func:`charged_adc_bits`).

    The largest sum is ou.rows x (2**cell.bits - 1) x (2**dac.bits - 1). With the ``offset``
    scheme, columns are stored as ISAAC stores them (Shafiee et al., ISCA 2016, its encoding
    that saves one ADC bit: a column whose weights would sum past half range is stored flipped,
    w -> max - w, and the digital side undoes it from the input sum), so a column sum never
    exceeds half the largest sum: one bit fewer. ``differential`` columns are converted one
    polarity at a time, or as one signed difference (one bit more) with
    ``crossbar.analog_subtraction``."""
    max_sum = cfg.ou.rows * (2 ** cfg.dac.bits - 1) * (2 ** cfg.cell.bits - 1)
    if cfg.crossbar.signed_scheme == "offset":
        max_sum = -(-max_sum // 2)
    if cfg.crossbar.analog_subtraction:   # a difference spans -max_sum .. max_sum
        return math.ceil(math.log2(2 * max_sum + 1))
    return max(1, math.ceil(math.log2(max_sum + 1)))


def charged_adc_bits(cfg: Config) -> int:
    """The resolution the cost model charges: ``adc.bits``, raised for a ``lossless`` ADC to the
    :func:`lossless_adc_bits` its column sums need (an ADC cannot be lossless with fewer)."""
    if cfg.adc.range_policy == "lossless":
        return max(cfg.adc.bits, lossless_adc_bits(cfg))
    return cfg.adc.bits


# ---------------------------------------------------------------------------------------------
# Dict / YAML input and output
# ---------------------------------------------------------------------------------------------

def _set_paths(d: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(d))
    for path, value in changes.items():
        node = out
        keys = path.split(".")
        for k in keys[:-1]:
            if not isinstance(node.get(k), dict):
                raise ConfigError(f"{path}: unknown key '{k}'")
            node = node[k]
        if keys[-1] not in node:
            raise ConfigError(f"{path}: unknown key '{keys[-1]}'")
        node[keys[-1]] = value
    return out


def _merge(base: dict[str, Any], over: dict[str, Any], path: str = "") -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        p = f"{path}{k if isinstance(k, str) and len(k) <= 80 else short_repr(k)}"
        if k not in base:
            known = ", ".join(sorted(base))
            raise ConfigError(f"{p}: unknown key (known keys here: {known})")
        if isinstance(base[k], dict):
            if not isinstance(v, dict):
                raise ConfigError(f"{p}={short_repr(v)}: must be a mapping of keys")
            out[k] = _merge(base[k], v, p + ".")
        else:
            out[k] = v
    return out


def from_dict(data: dict[str, Any], source: str | os.PathLike | None = None) -> Config:
    """Build and validate a config from a nested dict; missing keys take the dataclass defaults,
    or the named preset's values when the dict has ``base: NAME``. Keys in
    :data:`REMOVED_KEYS` are dropped with one warning attributed to ``source`` (a file name)."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: must be a mapping of keys, got {type(data).__name__}")
    data = _drop_removed_keys(data, source)
    base_name = data.pop("base", None)
    if base_name is not None:
        if not isinstance(base_name, str):
            raise ConfigError(f"base={short_repr(base_name)}: must be a preset name")
        base = preset(base_name).to_dict()
        base["name"] = "custom"
        base["description"] = f"based on preset '{base_name}'"
    else:
        base = _defaults()
    over = _pop_overrides(data)
    base_over = _pop_overrides(base)
    merged = _merge(base, data)
    merged["costs"]["overrides"] = _merge_overrides(base_over, over)
    groups = {}
    for name, cls in GROUPS.items():
        groups[name] = cls(**merged[name])
    return Config(name=merged["name"], description=merged["description"], **groups)


def _pop_overrides(d: dict[str, Any]) -> Any:
    """Take ``costs.overrides`` out of ``d`` (a copy of its ``costs`` mapping is left behind):
    overrides name components, not config keys, so the key-by-key merge does not apply."""
    costs = d.get("costs")
    if not isinstance(costs, dict) or "overrides" not in costs:
        return {}
    d["costs"] = {k: v for k, v in costs.items() if k != "overrides"}
    return costs["overrides"]


def _merge_overrides(base: Any, over: Any) -> Any:
    """A base preset's overrides updated field by field with the file's (each checked later)."""
    if not isinstance(over, dict):
        return over
    base = dict(_canonical_overrides(base)) if base else {}
    out = {comp: dict(fields) for comp, fields in base.items()}
    for comp, fields in over.items():
        if isinstance(fields, dict) and isinstance(out.get(comp), dict):
            out[comp] = {**out[comp], **fields}
        else:
            out[comp] = fields
    return out


def _drop_removed_keys(data: dict[str, Any], source: str | os.PathLike | None) -> dict[str, Any]:
    """A copy of ``data`` without the :data:`REMOVED_KEYS`. If any was there, one
    :class:`RemovedKeyWarning` names them all, attributed to ``source`` (the file that carries
    them, so the warning prints as one line ``SOURCE:0: RemovedKeyWarning: ...``) when given."""
    data = dict(data)
    dropped = []
    for path in REMOVED_KEYS:
        group, key = path.split(".")
        if isinstance(data.get(group), dict) and key in data[group]:
            data[group] = {k: v for k, v in data[group].items() if k != key}
            dropped.append(path)
    if dropped:
        msg = f"config: ignoring removed key(s) {', '.join(dropped)} (they changed no result)"
        if source is None:
            warnings.warn(msg, RemovedKeyWarning, stacklevel=3)
        else:
            warnings.warn_explicit(msg, RemovedKeyWarning, filename=str(source), lineno=0)
    return data


def _defaults() -> dict[str, Any]:
    return {"name": "custom", "description": "",
            **{name: dataclasses.asdict(cls()) for name, cls in GROUPS.items()}}


def load_yaml_text(text: str, source: str = "<string>") -> Config:
    """A config from YAML text; errors name ``source`` (the file) unless it is ``<string>``."""
    data = parse_yaml(text, source, ConfigError)
    if data is None:
        data = {}
    try:
        return from_dict(data, source=source)
    except ConfigError as exc:
        if source == "<string>":
            raise
        raise ConfigError(f"{source}: {exc}") from None


def parse_yaml(text: str, source: str, err: type[Exception]) -> Any:
    """``yaml.safe_load(text)``; a syntax error, a number too long to convert (Python's limit on
    integer digits) or nesting too deep for the parser raises ``err`` naming ``source``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise err(f"{source}: not valid YAML ({exc.__class__.__name__}: {first})") from None
    except ValueError as exc:
        raise err(f"{source}: not valid YAML ({str(exc).split(';')[0][:120]})") from None
    except RecursionError:
        raise err(f"{source}: not valid YAML (nested too deeply)") from None


def read_text_file(path: Path, err: type[Exception], what: str = "") -> str:
    """The UTF-8 text of a file read whole, refused (``err`` naming it) when larger than
    :data:`~rram_sim.limits.MAX_TEXT_BYTES` or not UTF-8 text."""
    name = f"{what} {path}" if what else str(path)
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise err(f"{name}: {size} bytes, more than the limit of {MAX_TEXT_BYTES} for a "
                      f"text file")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise err(f"{name}: cannot be read as UTF-8 text ({exc.__class__.__name__})") from None


def load(path_or_name: str | os.PathLike) -> Config:
    """A preset by name, or a YAML file by path."""
    s = str(path_or_name)
    if s in preset_names():
        return preset(s)
    p = Path(s)
    if not p.is_file():
        raise ConfigError(f"chip '{s}': neither a preset ({', '.join(preset_names())}) "
                          f"nor an existing YAML file")
    return load_yaml_text(read_text_file(p, ConfigError), source=str(p))


def base_of(path_or_name: str | os.PathLike) -> str | None:
    """The preset a chip starts from: the name itself for a preset, the file's ``base:`` for a
    YAML file, or None for a file without ``base:`` (it starts from the built-in defaults,
    :func:`defaults_text`). The file is read the way :func:`load` reads it."""
    s = str(path_or_name)
    if s in preset_names():
        return s
    p = Path(s)
    if not p.is_file():
        raise ConfigError(f"chip '{s}': neither a preset ({', '.join(preset_names())}) "
                          f"nor an existing YAML file")
    data = parse_yaml(read_text_file(p, ConfigError), str(p), ConfigError)
    base = data.get("base") if isinstance(data, dict) else None
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{p}: base={short_repr(base)}: must be a preset name")
    return base


def defaults_text() -> str:
    """What a file without ``base:`` starts from, in words: the built-in dataclass defaults, with
    the values that make them ISAAC-class read from the dataclasses themselves."""
    d = from_dict({})
    same = [n for n in preset_names() if preset(n).config_hash() == d.config_hash()]
    like = (f"identical to preset '{same[0]}'" if same
            else f"not identical to any preset ({', '.join(preset_names())})")
    training = "enabled" if d.training.enabled else "disabled"
    return (f"(none) built-in defaults: isaac-class dataclass defaults ({d.chip.tiles} tiles, "
            f"{d.precision.weight_bits}-bit weights, {d.precision.input_bits}-bit inputs, training "
            f"{training}; {like}); write 'base: NAME' to start from a preset")


def save(cfg: Config, path: str | os.PathLike) -> None:
    """Write the full resolved config as YAML, atomically."""
    from rram_sim.fileio import atomic_write_text

    atomic_write_text(path, cfg.to_yaml())


# ---------------------------------------------------------------------------------------------
# Presets (YAML files shipped in rram_sim/presets)
# ---------------------------------------------------------------------------------------------

def preset_names() -> list[str]:
    files = resources.files("rram_sim") / "presets"
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


def preset(name: str) -> Config:
    if name not in preset_names():
        raise ConfigError(f"preset '{name}': unknown (known: {', '.join(preset_names())})")
    text = (resources.files("rram_sim") / "presets" / f"{name}.yaml").read_text()
    return load_yaml_text(text, source=f"preset {name}")


DEFAULT_PRESET = "edge"


def default() -> Config:
    """The default chip used everywhere a chip is not named: the small on-device training chip."""
    return preset(DEFAULT_PRESET)
