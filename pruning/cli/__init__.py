"""The ``rram-prune`` command line: train, export and evaluate models for the crossbar simulator.

Each subcommand lives in its own module of this package, exposing ``register(subparsers)`` (adds its
parser, with ``set_defaults(func=run)``) and ``run(args) -> int``. User mistakes raise
:class:`~rram_sim.errors.RramSimError` (the front-end's errors subclass it) and are printed as one
line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pruning import __version__
from rram_sim.errors import RramSimError

# Subcommand modules, in the order `--help` lists them; a module not present is not offered.
COMMAND_MODULES = ("train", "export", "evaluate", "realprune", "autoprune", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rram-prune", description="Crossbar-aware pruning front-end for rram-sim.")
    parser.add_argument("--version", action="version", version=f"rram-prune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"pruning.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"pruning.cli.{name}":
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RramSimError as exc:
        print(f"rram-prune {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"rram-prune {args.command}: error: {exc.filename}: no such file", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
