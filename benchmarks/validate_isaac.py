"""ISAAC's peak efficiency from a simulated, fully utilised ``isaac`` chip (not Table 6 read back).

A network whose layers fill every crossbar of the ``isaac`` preset (14 layers of 1x1
convolutions, 1536 -> 1536 channels: 12 row blocks x 96 column blocks = 1152 crossbars each,
16128 = 168 tiles x 12 IMAs x 8 crossbars in all) runs ``--images`` images through
``rram_sim.simulate.simulate``; the steady-state throughput (images finished per second between
the first and the last image) gives the computational efficiency (GOPS per mm^2 of chip area,
``rram_sim.costs.rollup``) and the power efficiency (operations per joule of the run's energy
per image, dynamic and static: GOPS/W in steady state).

GOPS counts 2 operations (a multiply and an add) per 16-bit multiply-accumulate of a stored
weight (16-bit fixed point), as ISAAC does: with that count the analytic peak below gives
483.4 GOPS/(s mm^2), within 1 % of ISAAC's 478.95 (one operation per MAC would give half).

References, ISAAC-CE's peak numbers in Shafiee et al., ISCA 2016 (Sec. VIII, the comparison of peak
computational, power and storage efficiency with DaDianNao):

- computational efficiency 478.95 GOPS/(s mm^2) (quoted as 479.0 by Song et al., PipeLayer,
  HPCA 2017, Sec. 6.6, beside DaDianNao's 63.46);
- power efficiency: ISAAC states it 119 % above DaDianNao's, whose peak power efficiency is
  286.4 GOPS/W (as PipeLayer quotes it), i.e. 2.19 x 286.4 = 627.2 GOPS/W. A peak number is peak
  throughput over the chip's peak power (Table 6: 65.8 W, every component at its peak rate):
  41.29 TOPS / 65.8 W = 627.4 GOPS/W agrees. PipeLayer's table quotes 380.7 GOPS/W for ISAAC,
  which no ISAAC-CE figure gives: at 478.95 GOPS/(s mm^2) on 85.4 mm^2 it would need 107 W.

The benchmark reports (1) the simulated throughput over the chip's peak power (the roll-up,
Table 6: the definition of a peak number) against 627.2 GOPS/W, and (2) operations per joule of
the simulated run (dynamic and static energy per image), which is higher because a workload does
not run every component at its peak rate; ``power_by_category_w`` compares the steady-state
power with the peak power, category by category, to show where the difference lies (the off-chip
links alone are 10.4 W of peak power that a single-chip run barely uses). Analytically: a 128x128
crossbar of 2-bit cells holds 128 x 16 16-bit weights and finishes a 16-bit input in 16 reads of
100 ns, so 2 x 2048 / 1.6 us = 2.56 GOPS per crossbar, x 16128 = 41.29 TOPS on 85.42 mm^2:
483.4 GOPS/(s mm^2).

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

REFERENCE_GOPS_PER_MM2 = 478.95       # ISAAC-CE peak computational efficiency (ISCA 2016)
DADIANNAO_GOPS_PER_W = 286.4          # DaDianNao peak power efficiency (as PipeLayer quotes it)
ISAAC_OVER_DADIANNAO_PE = 2.19        # ISAAC: power efficiency 119 % above DaDianNao's
REFERENCE_GOPS_PER_W = ISAAC_OVER_DADIANNAO_PE * DADIANNAO_GOPS_PER_W   # 627.2 GOPS/W
PIPELAYER_QUOTED_GOPS_PER_W = 380.7   # PipeLayer (HPCA 2017) Sec. 6.6 quotes this for ISAAC
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


def peak_power_by_category_w(cfg: config.Config) -> dict[str, float]:
    """The chip's peak power (the roll-up: leakage + energy x peak rate) per cost category, W."""
    roll = costs.rollup(cfg)
    per_tile = cfg.chip.tiles
    per_pe = per_tile * cfg.tile.pes
    out = dict.fromkeys(costs.CATEGORIES, 0.0)
    for r in roll.rows:
        if r.component in ("pe", "tile") or (r.level == "tile" and r.component == "router"):
            continue     # level totals and the router's per-tile share (counted at chip level)
        k = per_pe if r.level == "pe" else per_tile if r.level == "tile" else 1
        out[r.category] += k * r.power_mw * 1e-3
    return out


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
    peak_cat = peak_power_by_category_w(cfg)
    # steady state: each image's share of the run's energy over the interval between images
    run_cat = {c: e / images / steady_ns * 1e-3
               for c, e in rep.energy_by_category_pj["inference"].items()}
    ops_per_pj = 2 * macs_per_image / energy_per_image_pj
    return {"crossbars_used": n_xb,
            "crossbars_on_chip": cfg.chip.tiles * cfg.tile.pes * cfg.pe.crossbars,
            "images": images, "ns_per_image_steady": steady_ns, "gops": gops,
            "analytic_peak_gops": analytic_peak_gops(cfg), "area_mm2": area_mm2,
            "gops_per_mm2": gops / area_mm2, "energy_per_image_uj": energy_per_image_pj * 1e-6,
            "static_energy_fraction": float(s["static_energy_fraction"]),
            "reference_gops_per_mm2": REFERENCE_GOPS_PER_MM2,
            "rel_diff_gops_per_mm2": gops / area_mm2 / REFERENCE_GOPS_PER_MM2 - 1,
            "peak_power_w": peak_w,
            "peak_gops_per_w": gops / peak_w,
            "reference_gops_per_w": REFERENCE_GOPS_PER_W,
            "rel_diff_peak_gops_per_w": gops / peak_w / REFERENCE_GOPS_PER_W - 1,
            "pipelayer_quoted_gops_per_w": PIPELAYER_QUOTED_GOPS_PER_W,
            "run_power_w": sum(run_cat.values()),
            "gops_per_w": ops_per_pj * 1e3,                 # ops/pJ = 1e3 GOPS/W
            "rel_diff_gops_per_w": ops_per_pj * 1e3 / REFERENCE_GOPS_PER_W - 1,
            "power_by_category_w": {c: {"run": run_cat[c], "peak": peak_cat[c]}
                                    for c in costs.CATEGORIES}}


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
          f"{r['area_mm2']:.2f} mm^2, ISAAC-CE {r['reference_gops_per_mm2']:.2f}: "
          f"{100 * r['rel_diff_gops_per_mm2']:+.1f} %")
    print(f"peak power efficiency {r['peak_gops_per_w']:.1f} GOPS/W (simulated throughput at "
          f"the chip's peak power, {r['peak_power_w']:.1f} W), ISAAC-CE "
          f"{r['reference_gops_per_w']:.1f}: {100 * r['rel_diff_peak_gops_per_w']:+.1f} % "
          f"(PipeLayer quotes {r['pipelayer_quoted_gops_per_w']:.1f} for ISAAC)")
    print(f"run power efficiency {r['gops_per_w']:.1f} GOPS/W ({r['energy_per_image_uj']:.1f} uJ "
          f"per image, {100 * r['static_energy_fraction']:.1f} % static; steady-state power "
          f"{r['run_power_w']:.1f} W): {100 * r['rel_diff_gops_per_w']:+.1f} % against ISAAC-CE")
    print("power by category, steady state / peak (W):")
    for c, p in r["power_by_category_w"].items():
        print(f"  {c:18s} {p['run']:8.2f} / {p['peak']:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
