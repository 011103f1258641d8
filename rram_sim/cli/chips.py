"""``rram-sim chips`` and ``rram-sim chip``: the shipped chip presets and one chip's cost roll-up.

``chips`` lists the presets with their one-line descriptions. ``chip NAME_OR_YAML`` prints the peak
power and area of every component per PE, per tile and per chip (``rram_sim.costs.rollup``), or the
same as JSON (``--json``), or the full resolved configuration as YAML (``--yaml``). A YAML file may
be partial and name a preset with ``base: NAME``; the table's ``base:`` line (JSON key ``base``)
says what the chip started from, and names the built-in dataclass defaults for a file without
``base:``.
"""

from __future__ import annotations

import argparse
import json

from rram_sim import config, costs

LEVEL_TITLES = {"pe": "per PE", "tile": "per tile", "chip": "per chip"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "chips", help="list the shipped chip presets",
        description="List the shipped chip presets with their one-line descriptions.")
    p.add_argument("--json", action="store_true",
                   help="print the presets as JSON (name, description, config_hash, default)")
    p.set_defaults(func=run)

    p = subparsers.add_parser(
        "chip", help="peak power and area of a chip, component by component",
        description="Peak power and area of a chip per PE, per tile and per chip (ISAAC-style "
                    "roll-up), from a preset name or a YAML file (partial files may say "
                    "'base: NAME'; a file without it starts from the built-in ISAAC-class "
                    "defaults, which the 'base:' line of the output names).")
    p.add_argument("chip", metavar="NAME_OR_YAML", help="preset name or path of a YAML config")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true",
                     help="print the roll-up as JSON (chip.area_mm2, chip.power_w, tile.area_mm2, "
                          "tile.power_mw, per-component rows)")
    fmt.add_argument("--yaml", action="store_true",
                     help="print the full resolved configuration as YAML")
    p.add_argument("--indexed", action="store_true",
                   help="include an index unit per crossbar (compact / OU layouts with the "
                        "indexed datapath)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.command == "chips":
        print(json.dumps(presets_json(), indent=2) if args.json else presets_text())
        return 0
    cfg = config.load(args.chip)
    base = config.base_of(args.chip)
    if args.yaml:
        print(cfg.to_yaml(), end="")
        return 0
    r = costs.rollup(cfg, indexed=args.indexed)
    if args.json:
        d = r.to_dict()
        d["config_hash"] = cfg.config_hash()
        d["base"] = base if base is not None else "defaults"
        d["costs"] = cfg.to_dict()["costs"]
        d["indexed"] = bool(args.indexed)
        print(json.dumps(d, indent=2))
        return 0
    print(rollup_text(cfg, r, base_text(args.chip, base)))
    return 0


def base_text(chip: str, base: str | None) -> str:
    """The ``base:`` line: what the chip's values started from."""
    if base is None:
        return f"base: {config.defaults_text()}"
    if base == chip:
        return f"base: preset '{base}' (the chip itself)"
    return f"base: preset '{base}' (the file's keys override it)"


def presets_json() -> list[dict[str, object]]:
    """The presets as JSON-ready rows."""
    return [{"name": n, "description": config.preset(n).description,
             "config_hash": config.preset(n).config_hash(), "default": n == config.DEFAULT_PRESET}
            for n in config.preset_names()]


def presets_text() -> str:
    names = config.preset_names()
    width = max(len(n) for n in names)
    lines = []
    for n in names:
        desc = config.preset(n).description
        mark = " [default]" if n == config.DEFAULT_PRESET and "default" not in desc else ""
        lines.append(f"{n:<{width}}  {desc}{mark}")
    return "\n".join(lines)


def library_text(cfg: config.Config) -> str:
    """One line naming the cost library, its leakage and gating settings, the ADC resolution
    charged and the components ``costs.overrides`` changes."""
    c = cfg.costs
    over = ", ".join(f"{comp}({', '.join(f'{k}={v:g}' for k, v in fields)})"
                     for comp, fields in c.overrides) or "none"
    return (f"cost library: {c.library} (power gating {c.power_gating}, "
            f"ADC charged at {config.charged_adc_bits(cfg)} bits); "
            f"overrides: {over}")


def rollup_text(cfg: config.Config, r: costs.Rollup, base_line: str | None = None) -> str:
    """The roll-up as a fixed-width table, one block per level, totals under each block; the
    ``base_line`` (what the chip started from) under the chip's name when given."""
    lines = [f"chip: {cfg.name} — {cfg.description}" if cfg.description else f"chip: {cfg.name}",
             *([base_line] if base_line else []),
             f"config hash: {cfg.config_hash()}", library_text(cfg), ""]
    head = f"  {'component':<22}{'category':<19}{'count':>9}{'area um^2':>15}{'power mW':>13}"
    totals = {
        "pe": f"PE total: {r.pe_area_um2:,.1f} um^2, {r.pe_power_mw:.3f} mW",
        "tile": f"tile total (incl. router share): {r.tile_area_mm2:.4f} mm^2, "
                f"{r.tile_power_mw:.2f} mW",
        "chip": f"chip total: {r.chip_area_mm2:.2f} mm^2, {r.chip_power_w:.3f} W "
                f"(leakage {r.chip_leakage_w:.3f} W)",
    }
    for level in ("pe", "tile", "chip"):
        lines.append(LEVEL_TITLES[level])
        lines.append(head)
        for row in r.level_rows(level):
            count = f"{row.count:g}"
            lines.append(f"  {row.component:<22}{row.category or '-':<19}{count:>9}"
                         f"{row.area_um2:>15,.1f}{row.power_mw:>13,.3f}")
        lines.append(f"  {totals[level]}")
        lines.append("")
    return "\n".join(lines).rstrip()
