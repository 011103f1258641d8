"""The ``rram-sim`` command line.

Each subcommand lives in its own module of this package, exposing ``register(subparsers)`` (adds its
parser, with ``set_defaults(func=run)``) and ``run(args) -> int``. User mistakes raise
:class:`~rram_sim.errors.RramSimError` and are printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rram_sim import __version__
from rram_sim.errors import RramSimError

# Subcommand modules, in the order `--help` lists them. A module missing from the installed
# package is simply not offered.
COMMAND_MODULES = ("chips", "layout", "verify", "simulate", "plot", "sweep")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rram-sim", description="ReRAM crossbar accelerator simulator.")
    parser.add_argument("--version", action="version", version=f"rram-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"rram_sim.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"rram_sim.cli.{name}":
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
        print(f"rram-sim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"rram-sim {args.command}: error: {exc.filename}: no such file", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
