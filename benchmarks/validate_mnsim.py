"""MNSIM 2.0 side by side: VGG-8 on MNSIM's default chip, the project's figures beside MNSIM's.

Builds MNSIM's ``vgg8`` (random weights: MNSIM's hardware figures do not depend on them), maps
it with ``rram_sim.bundle.map_network`` onto the chip :func:`mnsim_chip` describes (MNSIM 2.0's
default ``SimConfig.ini`` expressed in this project's config, priced with the ``mnsim`` cost
library), simulates one image with ``rram_sim.simulate.simulate`` and prints latency, energy,
area and each component's energy and area beside the figures in
``../shared/reference/mnsim2-vgg8.md`` (MNSIM 2.0 @ca39ccb, measured unmodified), with the
relative difference ``project / reference - 1``. ``--json`` prints the rows as a JSON list of
``{quantity, project, reference, rel_diff}``. docs/validation.md explains each difference.

    python benchmarks/validate_mnsim.py [--json] [--reduced] [--set KEY=VALUE ...]

``--reduced`` runs the same chip on VGG-8 with an eighth of the channels (for
the tests: seconds instead of the full run); its figures are not comparable with MNSIM's.
``--set`` replaces config keys of the chip for a what-if (e.g. ``--set tile.edram_bus_bits=8``,
the value read as YAML); the table then no longer describes MNSIM's chip.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import yaml

from rram_sim import config, costs
from rram_sim.bundle import GraphNode, map_network
from rram_sim.layout import LayerSpec
from rram_sim.simulate import simulate

# MNSIM 2.0's VGG-8 figures (../shared/reference/mnsim2-vgg8.md, one image).
REFERENCE = {
    "latency_ns": 5_151_851.0,
    "energy_nj": 4_448_844.0,
    "area_um2": 1.390e9,
    "energy_nj.crossbar": 20_348.0,
    "energy_nj.dac": 4_435.0,
    "energy_nj.adc": 3_442_431.0,
    "energy_nj.buffer": 976_517.0,
    "energy_nj.pooling": 281.0,
    "energy_nj.other_digital": 4_832.0,
    "area_um2.crossbar": 1.0015e9,
    "area_um2.dac": 2.74e4,
    "area_um2.adc": 2.720e8,
    "area_um2.buffer": 6.53e7,
    "area_um2.pooling": 2.96e7,
    "area_um2.other_digital": 2.19e7,
}
# MNSIM's report components -> this project's cost-library components
GROUPS = {
    "crossbar": ("crossbar_read",),
    "dac": ("dac", "input_register_read"),
    "adc": ("adc", "sample_hold"),
    "buffer": ("edram", "edram_write", "tile_output_register"),
    "pooling": ("maxpool",),
    "other_digital": ("shift_add", "tile_shift_add", "sigmoid", "input_register",
                      "output_register", "bus", "bus_write", "router", "index_unit"),
}
# (name, out channels, input map, padding, pool after) of MNSIM's vgg8; then linear 1024 -> 10
VGG8 = ((128, 32, 1, False), (128, 32, 1, True), (256, 16, 1, False), (256, 16, 1, True),
        (512, 8, 1, False), (512, 8, 1, True), (1024, 4, 0, True))


def mnsim_chip() -> config.Config:
    """MNSIM 2.0's default chip (SimConfig.ini @ca39ccb) in this project's terms.

    - 256 x 256 1-bit arrays in positive/negative pairs subtracted before the ADC
      (Xbar_Polarity = 2): one differential crossbar of 256 rows and 256 column pairs
      (512 physical columns) per PE (Group_Num = 1);
    - MNSIM's 9-bit weights are a sign and 8 magnitude bits, the sign carried by the polarity
      (Tile_connection_graph.py:255, weight_precision = Weightbit - 1): 8 one-bit cells per
      polarity. The project's differential scheme stores ceil(weight_bits / cell.bits) cells
      per polarity, so ``weight_bits: 8`` gives the same 8 cells (its value range, -128..127
      instead of -255..255, changes no hardware figure);
    - mapped with the ``kernel_rows`` scheme (28 whole 3x3 kernels, 252 rows, per array; one
      bit slice's worth of outputs per array: 1272 arrays, as MNSIM), each layer on whole tiles
      (``fresh_tile``, Tile_connection_graph.py:463);
    - one MNSIM step reads one 128-row DAC group (DAC_Num = 128) and converts 128 column pairs
      on the 128 ADCs (ADC_Num = 128, a 2:1 column mux; PE_latency.py: bits x row groups x
      column groups steps): ou.rows = 128, ou.cols = 256 physical columns (128 pairs);
      crossbar read 3.16 ns (Read_Latency); 1-bit DACs;
    - 6-bit ADCs (ADC_Choice = 6), 128 per PE: 512 / 4; one conversion takes
      (6 + 2) / 1 GS/s = 8 ns, so 0.125 GS/s;
    - one array pair per PE (Group_Num = 1), 2 x 2 PEs per tile, 64 x 64 tiles, digital logic at
      500 MHz, 9-bit activations, a 64-unit pooling module per tile (Pooling_unit_num = 64);
    - per PE a shift register and an output register per ADC and an input register per DAC
      (HM/PE.py:482-484): 128 each; per tile the joint module's 3 x 128 adders
      (HM/Tile.py:157-167): tile.shift_add_units = 384;
    - SRAM buffers of MNSIM's smallest table class: MNSIM sizes them from the network, 0.5 KB per
      PE input buffer and 0.25 KB per tile output buffer for VGG-8 (Tile_connection_graph.py
      :470-479), both in the <= 2 KB, 64-bit entry (Buffer_Bitwidth = 64): tile.edram_kb = 2;
      the ``mnsim`` library charges the area of tile.pes + 1 such buffers per tile;
    - inter-tile bandwidth 20 Gb/s (Inter_Tile_Bandwidth): 40-bit flits at 500 MHz;
    - buffer access time 20 ns per 64-bit access (HM/Buffer.py's buffer read/write latency for
      the default 64-bit width): tile.edram_access_ns = 20, tile.edram_bus_bits = 64;
    - no leakage (the ``mnsim`` library charges none); pooling charged per window, one 100 ns
      slot of MNSIM's 64-unit module (HM/Pooling.py:75; VGG-8's windows are 2x2).
    """
    return config.from_dict({
        "base": "isaac",
        "name": "mnsim-default",
        "description": "MNSIM 2.0 default SimConfig.ini (VGG-8 validation)",
        "cell": {"bits": 1},
        "crossbar": {"rows": 256, "cols": 512, "signed_scheme": "differential",
                     "read_latency_ns": 3.16, "analog_subtraction": True},
        "dac": {"bits": 1},
        "adc": {"bits": 6, "sample_rate_gsps": 0.125, "range_policy": "full_scale",
                "columns_per_adc": 4},
        "ou": {"rows": 128, "cols": 256},
        "pe": {"crossbars": 1, "shift_add_units": 128, "input_register_bytes": 128,
               "output_register_bytes": 128},
        "tile": {"pes": 4, "edram_kb": 2, "edram_bus_bits": 64, "edram_access_ns": 20.0,
                 "maxpool_units": 64, "shift_add_units": 384},
        "noc": {"topology": "mesh", "concentration": 1, "flit_bits": 40},
        "chip": {"tiles": 4096, "clock_ghz": 0.5, "offchip_links": 0},
        "precision": {"weight_bits": 8, "input_bits": 9},
        "costs": {"library": "mnsim"},
    })


def vgg8(scale: int = 1, res: int = 32) -> tuple[list[LayerSpec], list[GraphNode]]:
    """MNSIM's vgg8 (channels / ``scale``, input ``res`` x ``res``) as specs and a graph."""
    specs, g = [], [GraphNode("input", "input", [], {"shape": [3, res, res]})]
    prev, cin, h = "input", 3, res
    for i, (cout, _, pad, pool) in enumerate(VGG8):
        c = max(1, cout // scale)
        name = f"conv{i}"
        specs.append(LayerSpec(name, "conv", (c, cin, 3, 3), (cin, h, h), (1, 1), (pad, pad)))
        g += [GraphNode(name, "conv", [prev]), GraphNode(f"relu{i}", "relu", [name])]
        prev, cin, h = f"relu{i}", c, h + 2 * pad - 2
        if pool:
            g.append(GraphNode(f"pool{i}", "maxpool", [prev], {"kernel": 2}))
            prev, h = f"pool{i}", h // 2
    g.append(GraphNode("flat", "flatten", [prev]))
    specs.append(LayerSpec("fc", "linear", (10, cin * h * h), (cin * h * h,)))
    g.append(GraphNode("fc", "linear", ["flat"]))
    return specs, g


def run(reduced: bool = False, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Simulate VGG-8 on :func:`mnsim_chip` (with ``overrides``, dotted config keys, replaced);
    the project's figures keyed as :data:`REFERENCE`."""
    cfg = mnsim_chip().replace(**overrides) if overrides else mnsim_chip()
    specs, g = vgg8(8) if reduced else vgg8()
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(s.weight_shape).astype(np.float32) for s in specs]
    bundle = map_network(specs, ws, cfg, "kernel_rows", graph=g, fresh_tile=True)
    rep = simulate(bundle, cfg, "inference").to_dict()
    summary = rep["runs"]["inference"]
    per_comp: dict[str, float] = {}
    for r in rep["records"]:
        if r["run"] == "inference":
            per_comp[r["component"]] = per_comp.get(r["component"], 0.0) + r["energy_pj"]
    # area: MNSIM counts the tiles in use (Model_Area.py: per-tile area x each layer's tiles)
    roll = costs.rollup(cfg)
    tiles = int(summary["tiles_used"])
    tile_rows = {r.component: r for r in roll.rows if r.level in ("pe", "tile")}
    pes = cfg.tile.pes
    area_of = {name: (row.area_um2 * (pes if row.level == "pe" else 1) * tiles)
               for name, row in tile_rows.items() if name != "pe"}
    out = {"latency_ns": float(summary["latency_ns"]),
           "energy_nj": float(summary["energy_pj"]) * 1e-3,
           "area_um2": sum(area_of.values())}
    for group, names in GROUPS.items():
        out[f"energy_nj.{group}"] = sum(per_comp.get(n, 0.0) for n in names) * 1e-3
        out[f"area_um2.{group}"] = sum(area_of.get(n, 0.0) for n in names)
    out["_tiles_used"] = tiles
    out["_crossbars"] = sum(lay.n_crossbars for lay in bundle.layers)
    out["_adc_conversions"] = sum(r["count"] for r in rep["records"]
                                  if r["run"] == "inference" and r["component"] == "adc")
    return out


def rows(project: dict[str, Any]) -> list[dict[str, Any]]:
    """``{quantity, project, reference, rel_diff}`` for every quantity of :data:`REFERENCE`."""
    out = []
    for q, ref in REFERENCE.items():
        p = float(project[q])
        out.append({"quantity": q, "project": p, "reference": ref, "rel_diff": p / ref - 1.0})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    ap.add_argument("--reduced", action="store_true",
                    help="an eighth of the channels (fast; not comparable with MNSIM)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="what-if: replace a config key of MNSIM's chip (value read as YAML)")
    args = ap.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--set {item!r}: must be KEY=VALUE, e.g. tile.edram_bus_bits=8")
        overrides[key] = yaml.safe_load(value)
    project = run(args.reduced, overrides)
    table = rows(project)
    if args.json:
        print(json.dumps(table, indent=1))
        return 0
    what_if = f" with {', '.join(args.set)}" if args.set else ""
    print(f"VGG-8 on MNSIM 2.0's default chip{what_if}{' (reduced)' if args.reduced else ''}: "
          f"{project['_crossbars']} crossbars (MNSIM: 1272 pairs), {project['_tiles_used']} tiles, "
          f"{project['_adc_conversions']:,} ADC conversions")
    print(f"{'quantity':<26}{'project':>16}{'MNSIM 2.0':>16}{'difference':>12}")
    for r in table:
        print(f"{r['quantity']:<26}{r['project']:>16.5g}{r['reference']:>16.5g}"
              f"{100 * r['rel_diff']:>+11.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
