"""``rram-sim verify BUNDLE``: check that the simulated crossbars compute the golden outputs.

Every layer with golden vectors is run through the crossbar kernels (bit-serial inputs, sliced
weights, the chip's ADC, shift-and-add, the index unit) and compared with its exactly quantized
golden output, within the tolerance of :mod:`rram_sim.datapath`. ``--no-index`` models the naive
datapath without index tables, which shows the dislocation of compacted layouts. ``--example``
verifies a shipped example bundle instead of a file. Exit status: 0 when every layer passes, 1
otherwise (with the per-layer table), 2 on a user error.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rram_sim.errors import LayoutError
from rram_sim.layout import SCHEMES


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "verify", help="check a bundle's crossbar outputs against its golden vectors",
        description="Run each layer's golden input through the simulated crossbars and compare "
                    "with the golden quantized output. Exit 0 if every layer passes, 1 if not.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("bundle", metavar="BUNDLE", nargs="?", help="layout bundle directory")
    p.add_argument("--example", choices=SCHEMES,
                   help="verify the shipped example bundle of this mapping scheme instead")
    p.add_argument("--no-index", action="store_true",
                   help="model the naive datapath (base addresses only, no index tables)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rram_sim.bundle import load_bundle
    from rram_sim.datapath import verify_bundle

    if (args.bundle is None) == (args.example is None):
        raise LayoutError("verify: give exactly one of BUNDLE or --example SCHEME")
    if args.example is not None:
        from rram_sim.examples import example_path

        path = example_path(args.example)
    else:
        path = args.bundle
    report = verify_bundle(load_bundle(path), index_unit=not args.no_index)
    if args.json:
        print(json.dumps({"bundle": str(path), **report.to_dict()}, indent=2))
    else:
        print(f"bundle {path} ({'index unit' if report.index_unit else 'naive datapath'})")
        print(report.table())
        print("PASS" if report.passed else "FAIL")
    return 0 if report.passed else 1
