"""``rram-sim layout BUNDLE``: the crossbar occupancy of a mapped network, per layer and in total.

Loads (and so validates) a layout bundle and prints, per layer, the unrolled matrix, crossbars
against the dense mapping, units, stored and non-zero weights, cell utilization, index-table
storage and tiles, its copies and its forward stage time per image (the stage's initiation
interval: ``ceil(positions / copies)`` vectors on a copy's own units, or every vector on the
units the copies share); then the totals with the compression rate and hardware reduction and the
pipeline's balance (its bottleneck stage). ``--placement balance`` shows the copies the
``balance`` placement policy would give, ``--mapping spread`` the ``spread`` mapping policy's
crossbars (:mod:`rram_sim.placement_policies`). ``--json`` prints the same figures as one JSON
object; ``--example SCHEME`` reads a shipped example bundle.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rram_sim.bundle import Bundle, load_bundle
from rram_sim.cli.common import add_bundle_args, bundle_path
from rram_sim.engine.timing import geometry_from_layout
from rram_sim.placement import place
from rram_sim.placement_policies import (
    MAPPING_POLICIES,
    apply_mapping_policy,
    copy_and_shared_hold_cycles,
    get_policy,
    layer_positions,
    stage_balance,
    stage_cycles,
)

LAYOUT_POLICIES = ("none", "balance", "balance_training")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "layout", help="show crossbar figures of a layout bundle",
        description="Print per-layer and total crossbar figures of a layout bundle (directory "
                    "with manifest.json and arrays.npz): crossbars, units, weights stored, "
                    "utilization, index-table bits, tiles, compression rate.")
    add_bundle_args(p, "show")
    p.add_argument("--placement", choices=LAYOUT_POLICIES, default="none",
                   help="copies per layer: the bundle's own (none) or those of the balance "
                        "or balance_training placement policy (default: none)")
    p.add_argument("--mapping", choices=MAPPING_POLICIES, default="pack",
                   help="pruned (compact) layers cut into the fewest crossbars (pack) or "
                        "spread over the dense layer's row blocks (spread); default: pack")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run)


def figures(bundle: Bundle, placement: str = "none", mapping: str = "pack") -> dict[str, Any]:
    """Per-layer and total figures of a bundle, JSON-ready: occupancy, copies and forward stage
    cycles per image under placement policy ``placement`` and mapping policy ``mapping``."""
    cfg = bundle.config
    bundle = apply_mapping_policy(bundle, cfg, mapping)
    pl = bundle.placement
    copies = get_policy(placement).copies(bundle, cfg)
    if copies is not None:
        pl = place([lay.n_crossbars for lay in bundle.layers], cfg, names=pl.layer_names,
                   replication=[copies[n] for n in pl.layer_names],
                   allow_multi_chip=pl.allow_multi_chip, fresh_tile=pl.fresh_tile,
                   fresh_pe_per_copy=True)
    layers = []
    for lay, tiles, reps in zip(bundle.layers, pl.tiles_used, pl.replication):
        own, shared = copy_and_shared_hold_cycles(geometry_from_layout(lay, cfg), cfg)
        positions = layer_positions(lay)
        layers.append({"name": lay.spec.name, "kind": lay.spec.kind, "scheme": lay.scheme,
                       **lay.figures, "replication": reps, "tiles_used": tiles,
                       "positions": positions, "hold_cycles": own, "shared_cycles": shared,
                       "stage_cycles_per_image": stage_cycles(positions, reps, own, shared)})
    bottleneck, interval, balance = stage_balance(
        {f["name"]: f["stage_cycles_per_image"] for f in layers})
    total = {**bundle.figures, **pl.figures, "placement_policy": placement,
             "mapping_policy": mapping, "bottleneck": bottleneck,
             "initiation_interval_cycles": interval, "stage_balance": balance}
    return {"scheme": bundle.scheme, "chip": cfg.name, "layers": layers, "total": total}


def _table(fig: dict[str, Any]) -> str:
    head = ("layer", "kind", "matrix", "xbars", "dense", "units", "stored", "nonzero", "util",
            "index_bits", "tiles", "copies", "stage_cyc/img")
    rows = [head]
    for f in fig["layers"]:
        rows.append((f["name"], f["kind"], f"{f['matrix_rows']}x{f['matrix_cols']}",
                     str(f["n_crossbars"]), str(f["dense_crossbars"]), str(f["n_units"]),
                     str(f["weights_stored"]), str(f["weights_nonzero"]),
                     f"{f['utilization']:.3f}", str(f["index_table_bits"]), str(f["tiles_used"]),
                     str(f["replication"]), str(f["stage_cycles_per_image"])))
    t = fig["total"]
    rows.append(("total", "", "", str(t["n_crossbars"]), str(t["dense_crossbars"]),
                 str(t["n_units"]), str(t["weights_stored"]), str(t["weights_nonzero"]),
                 f"{t['utilization']:.3f}", str(t["index_table_bits"]),
                 str(t["tiles_occupied"]), "", str(t["initiation_interval_cycles"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    rate = t["compression_rate"]
    lines.append("")
    lines.append(f"scheme {fig['scheme']} on chip '{fig['chip']}': "
                 f"compression rate (dense/crossbars) "
                 f"{'n/a' if rate is None else f'{rate:.3f}'}, hardware reduction "
                 f"{t['hardware_reduction']:.3f}; {t['crossbars_placed']} crossbars placed on "
                 f"{t['pes_occupied']} PEs, {t['tiles_occupied']} tiles, {t['chips_used']} chip(s)")
    lines.append(f"placement {t['placement_policy']}, mapping {t['mapping_policy']}: bottleneck "
                 f"stage {t['bottleneck']}, {t['initiation_interval_cycles']} cycles per image "
                 f"(the pipeline's initiation interval); stage balance (mean / slowest stage) "
                 f"{t['stage_balance']:.3f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    fig = figures(load_bundle(bundle_path(args)), args.placement, args.mapping)
    print(json.dumps(fig, indent=2) if args.json else _table(fig))
    return 0
