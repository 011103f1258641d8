"""``rram-sim verify BUNDLE``: does the hardware compute what the ADC model says, and is the
network's accuracy kept on the crossbars?

Two verdicts, printed on two lines (:mod:`rram_sim.datapath`):

- **hardware matches the ADC model**: every layer with golden vectors is run through the crossbar
  kernels (bit-serial inputs, sliced weights, the chip's ADC, shift-and-add, the index unit) and
  compared with its exactly quantized golden output, within the tolerance the ADC model allows;
- **accuracy kept**: when the bundle carries an eval set (``rram-prune export --eval-samples N``),
  the whole network runs on the crossbars (:mod:`rram_sim.accuracy`) and its top-1 accuracy may be
  at most ``--max-accuracy-drop`` below the exact quantized network's. A bundle without an eval
  set says so, and only the first verdict decides.

``--chip`` verifies the bundle on another chip (a preset name or YAML file, as ``rram-sim simulate``
takes it): the network is re-mapped for it from its stored weights when the chip differs
(:func:`rram_sim.datapath.bundle_for_chip`). ``--no-index`` models the naive datapath without
index tables, which shows the dislocation of compacted layouts. ``--example`` verifies a shipped
example bundle instead of a file. ``--json`` prints both verdicts and the figures. Exit status: 0
when both verdicts hold, 1 when either fails (with the per-layer table), 2 on a user error.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rram_sim.accuracy import DEFAULT_MAX_DROP
from rram_sim.cli.common import add_bundle_args, bundle_path
from rram_sim.errors import ConfigError


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"{text}: must lie in [0, 1]")
    return v


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "verify", help="check a bundle's crossbar outputs and accuracy on a chip",
        description="Two verdicts: the hardware matches the ADC model (each layer's golden input "
                    "through the simulated crossbars, compared with the golden quantized output "
                    "within the ADC model's tolerance) and accuracy is kept (the network's top-1 "
                    "accuracy on the crossbars within --max-accuracy-drop of the exact quantized "
                    "network's, on the bundle's eval set). Exit 0 if both hold, 1 if not.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_bundle_args(p, "verify")
    p.add_argument("--chip", metavar="NAME_OR_YAML", default=None,
                   help="chip preset or YAML file (none given: the chip the bundle was mapped "
                        "for); the bundle is re-mapped for a chip that differs")
    p.add_argument("--max-accuracy-drop", type=_fraction, default=DEFAULT_MAX_DROP,
                   metavar="FRACTION",
                   help="accuracy the crossbars may lose against the exact quantized network")
    p.add_argument("--no-index", action="store_true",
                   help="model the naive datapath (base addresses only, no index tables)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rram_sim import config as config_mod
    from rram_sim.bundle import load_bundle
    from rram_sim.datapath import bundle_for_chip, verify_bundle
    from rram_sim.errors import MappingError

    path = bundle_path(args)
    bundle = load_bundle(path)
    cfg = config_mod.load(args.chip) if args.chip else bundle.config
    try:
        bundle = bundle_for_chip(bundle, cfg)
    except MappingError as exc:
        raise ConfigError(f"--chip {args.chip}: the network does not map onto chip "
                          f"'{cfg.name}': {exc}") from None
    report = verify_bundle(bundle, index_unit=not args.no_index,
                           max_accuracy_drop=args.max_accuracy_drop)
    chip = {"name": cfg.name, "config_hash": cfg.config_hash(),
            "remapped": "remapped_from" in bundle.meta}
    if args.json:
        print(json.dumps({"bundle": str(path), "chip": chip, **report.to_dict()}, indent=2))
    else:
        how = "re-mapped for it" if chip["remapped"] else "the chip it was mapped for"
        print(f"bundle {path} on chip {cfg.name} ({cfg.config_hash()}, {how}; "
              f"{'index unit' if report.index_unit else 'naive datapath'})")
        print(report.table())
        print(report.verdict())
        print("PASS" if report.passed else "FAIL")
    return 0 if report.passed else 1
