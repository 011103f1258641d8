"""ISAAC's peak efficiency from a simulated, fully utilised ``isaac`` chip (not Table 6 read back).

A network whose layers fill every crossbar of the ``isaac`` preset (14 layers of 1x1
convolutions, 1536 -> 1536 channels: 12 row blocks x 96 column blocks = 1152 crossbars each,
16128 = 168 tiles x 12 IMAs x 8 crossbars in all) runs ``--images`` images through
``rram_sim.simulate.simulate``; the steady-state throughput (images finished per second between
the first and the last image) gives the computational efficiency (GOPS per mm^2 of chip area,
``rram_sim.costs.rollup``) and the power efficiency (operations per joule of the run's energy
per image, dynamic and static: GOPS/W in steady state).

GOPS counts 2 operations (a multiply and an add) per 16-bit multiply-accumulate of a stored
weight (16-bit fixed point). The reference is ISAAC-CE's peak computational efficiency, about
479 GOPS/(s mm^2), as issue 14 quotes it from Shafiee et al., ISCA 2016 (the paper's comparison
table could not be read here to confirm it; docs/validation.md). For power efficiency the only
reference at hand is the same peak throughput over ISAAC's Table 6 peak power (65.8 W), i.e.
every component at its peak rate. Analytically: a 128x128 crossbar of 2-bit cells holds
128 x 16 16-bit weights and finishes a 16-bit input in 16 reads of 100 ns, so
2 x 2048 / 1.6 us = 2.56 GOPS per crossbar, x 16128 = 41.29 TOPS on 85.42 mm^2:
483.4 GOPS/(s mm^2), and 627.4 GOPS/W at 65.8 W.

    python benchmarks/validate_isaac.py [--images 8] [--json]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from rram_sim import config, costs
from rram_sim.bundle import GraphNode, map_network
from rram_sim.layout import LayerSpec
from rram_sim.simulate import simulate

REFERENCE_GOPS_PER_MM2 = 479.0   # ISAAC-CE peak computational efficiency (issue 14's figure)
CHANNELS, LAYERS, MAP = 1536, 14, 4


def network(layers: int = LAYERS) -> tuple[list[LayerSpec], list[GraphNode]]:
    """``layers`` 1x1 convolutions, 1536 channels, on a 4x4 map (14 exactly fill ``isaac``)."""
    specs, g = [], [GraphNode("input", "input", [], {"shape": [CHANNELS, MAP, MAP]})]
    prev = "input"
    for i in range(layers):
        name = f"conv{i}"
        specs.append(LayerSpec(name, "conv", (CHANNELS, CHANNELS, 1, 1), (CHANNELS, MAP, MAP)))
        g += [GraphNode(name, "conv", [prev]), GraphNode(f"relu{i}", "relu", [name])]
        prev = f"relu{i}"
    return specs, g


def analytic_peak_gops(cfg: config.Config) -> float:
    """Every crossbar busy: 2 x weights per crossbar / time of one input, x crossbars."""
    weights = cfg.crossbar.rows * cfg.logical_cols_per_crossbar
    t_ns = cfg.input_cycles * cfg.crossbar.read_latency_ns
    n_xb = cfg.chip.tiles * cfg.tile.pes * cfg.pe.crossbars
    return 2 * weights / t_ns * n_xb


def run(images: int = 8, layers: int = LAYERS) -> dict[str, Any]:
    """Stream ``images`` images through ``layers`` layers on ``isaac``; the efficiency figures."""
    cfg = config.preset("isaac")
    specs, g = network(layers)
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(s.weight_shape).astype(np.float32) for s in specs]
    bundle = map_network(specs, ws, cfg, "dense", graph=g)
    n_xb = sum(lay.n_crossbars for lay in bundle.layers)
    rep = simulate(bundle, cfg, "inference", batch=images)
    s = rep.runs["inference"]
    macs_per_image = sum(int(np.prod(sp.weight_shape)) * sp.output_positions for sp in specs)
    makespan_ns = float(s["makespan_ns"])
    first_ns = float(s["latency_ns"])
    steady_ns = (makespan_ns - first_ns) / (images - 1)   # between successive images
    gops = 2 * macs_per_image / steady_ns                 # ops per ns = GOPS
    area_mm2 = costs.rollup(cfg).chip_area_mm2
    energy_per_image_pj = float(s["energy_per_item_pj"])
    peak_w = costs.rollup(cfg).chip_power_w
    return {"crossbars_used": n_xb,
            "crossbars_on_chip": cfg.chip.tiles * cfg.tile.pes * cfg.pe.crossbars,
            "images": images, "ns_per_image_steady": steady_ns, "gops": gops,
            "analytic_peak_gops": analytic_peak_gops(cfg), "area_mm2": area_mm2,
            "gops_per_mm2": gops / area_mm2, "energy_per_image_uj": energy_per_image_pj * 1e-6,
            "static_energy_fraction": float(s["static_energy_fraction"]),
            "gops_per_w": 2 * macs_per_image / energy_per_image_pj * 1e3,   # ops/pJ = 1e3 GOPS/W
            "reference_gops_per_mm2": REFERENCE_GOPS_PER_MM2,
            "rel_diff_gops_per_mm2": gops / area_mm2 / REFERENCE_GOPS_PER_MM2 - 1,
            "peak_power_w": peak_w, "reference_gops_per_w": analytic_peak_gops(cfg) / peak_w,
            "rel_diff_gops_per_w": (2 * macs_per_image / energy_per_image_pj * 1e3)
            / (analytic_peak_gops(cfg) / peak_w) - 1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8, help="images streamed (>= 2)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    r = run(max(2, args.images))
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"isaac, {r['crossbars_used']} of {r['crossbars_on_chip']} crossbars, "
          f"{r['images']} images: {r['ns_per_image_steady']:.1f} ns per image in steady state")
    print(f"throughput {r['gops']:.1f} GOPS (analytic peak {r['analytic_peak_gops']:.1f})")
    print(f"computational efficiency {r['gops_per_mm2']:.1f} GOPS/(s mm^2) on "
          f"{r['area_mm2']:.2f} mm^2, ISAAC-CE {r['reference_gops_per_mm2']:.1f}: "
          f"{100 * r['rel_diff_gops_per_mm2']:+.1f} %")
    print(f"power efficiency {r['gops_per_w']:.1f} GOPS/W ({r['energy_per_image_uj']:.1f} uJ per "
          f"image, {100 * r['static_energy_fraction']:.1f} % static); at ISAAC's Table 6 peak "
          f"power ({r['peak_power_w']:.1f} W) {r['reference_gops_per_w']:.1f} GOPS/W: "
          f"{100 * r['rel_diff_gops_per_w']:+.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
