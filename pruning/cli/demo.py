"""``rram-prune demo [-o out/demo] [--quick]``: the whole project in one resumable command.

Trains digits_cnn on digits, prunes it with ReaLPrune and AUTO-PRUNE, exports dense and pruned
layout bundles for the default chip, verifies them with and without the index unit, simulates an
inference and a training step of each, and writes ``summary.md``, ``summary.csv`` and the plots
(see :mod:`pruning.demo`). Running it again skips every step whose outputs exist. Step messages
and the summary go to stdout (to stderr with ``--json``, which prints the summary rows and the
files as JSON); ``-q`` drops the per-round and per-episode progress lines.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from pruning.cli.common import add_json_arg, add_output_arg, add_verbosity_args, print_result


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="train, prune, map, verify, simulate and compare in one command",
        description="The end-to-end demo: ReaLPrune and AUTO-PRUNE on digits_cnn, bundles for "
                    "the default chip, verification with and without the index unit, inference "
                    "and training simulation, a summary table and plots. Resumable: finished "
                    "steps are skipped.")
    add_output_arg(p, "output folder", required=False, default="out/demo")
    p.add_argument("--quick", action="store_true",
                   help="tiny epochs, rounds and episodes (a smoke run in well under a minute)")
    p.add_argument("--chip", default=None, help="chip preset or YAML file (default: edge)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: 0)")
    p.add_argument("--no-autoprune", action="store_true", help="skip the AUTO-PRUNE step")
    add_verbosity_args(p, "per-round and per-episode progress")
    add_json_arg(p, "the summary rows and output files (step messages go to stderr)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pruning import demo

    s = demo.DemoSettings.quick() if args.quick else demo.DemoSettings()
    changes: dict[str, Any] = {}
    if args.chip is not None:
        changes["chip"] = args.chip
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.no_autoprune:
        changes["autoprune"] = False
    s = replace(s, **changes)
    if args.verbose:
        print(f"settings: {s}", file=sys.stderr, flush=True)
    res = demo.run(s, args.output, log=sys.stderr if args.json else None,
                   progress=not args.quiet)
    if args.json:
        print_result(args, {"rows": res.rows, "files": res.files}, "")
    return 0
