"""``rram-sim layout BUNDLE``: the crossbar occupancy of a mapped network, per layer and in total.

Loads (and so validates) a layout bundle and prints, per layer, the unrolled matrix, crossbars
against the dense mapping, units, stored and non-zero weights, cell utilization, index-table
storage and tiles; then the totals with the compression rate and hardware reduction. ``--json``
prints the same figures as one JSON object; ``--example SCHEME`` reads a shipped example bundle.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rram_sim.bundle import Bundle, load_bundle
from rram_sim.errors import LayoutError
from rram_sim.layout import SCHEMES


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "layout", help="show crossbar figures of a layout bundle",
        description="Print per-layer and total crossbar figures of a layout bundle (directory "
                    "with manifest.json and arrays.npz): crossbars, units, weights stored, "
                    "utilization, index-table bits, tiles, compression rate.")
    p.add_argument("bundle", metavar="BUNDLE", nargs="?", help="layout bundle directory")
    p.add_argument("--example", choices=SCHEMES,
                   help="show the shipped example bundle of this mapping scheme instead")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run)


def figures(bundle: Bundle) -> dict[str, Any]:
    """Per-layer and total figures of a bundle, JSON-ready."""
    layers = []
    for lay, tiles, reps in zip(bundle.layers, bundle.placement.tiles_used,
                                bundle.placement.replication):
        layers.append({"name": lay.spec.name, "kind": lay.spec.kind, "scheme": lay.scheme,
                       **lay.figures, "replication": reps, "tiles_used": tiles})
    return {"scheme": bundle.scheme, "chip": bundle.config.name, "layers": layers,
            "total": dict(bundle.figures)}


def _table(fig: dict[str, Any]) -> str:
    head = ("layer", "kind", "matrix", "xbars", "dense", "units", "stored", "nonzero", "util",
            "index_bits", "tiles")
    rows = [head]
    for f in fig["layers"]:
        rows.append((f["name"], f["kind"], f"{f['matrix_rows']}x{f['matrix_cols']}",
                     str(f["n_crossbars"]), str(f["dense_crossbars"]), str(f["n_units"]),
                     str(f["weights_stored"]), str(f["weights_nonzero"]),
                     f"{f['utilization']:.3f}", str(f["index_table_bits"]), str(f["tiles_used"])))
    t = fig["total"]
    rows.append(("total", "", "", str(t["n_crossbars"]), str(t["dense_crossbars"]),
                 str(t["n_units"]), str(t["weights_stored"]), str(t["weights_nonzero"]),
                 f"{t['utilization']:.3f}", str(t["index_table_bits"]),
                 str(t["tiles_occupied"])))
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
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if (args.bundle is None) == (args.example is None):
        raise LayoutError("layout: give exactly one of BUNDLE or --example SCHEME")
    if args.example is not None:
        from rram_sim.examples import example_path

        path = example_path(args.example)
    else:
        path = args.bundle
    fig = figures(load_bundle(path))
    print(json.dumps(fig, indent=2) if args.json else _table(fig))
    return 0
