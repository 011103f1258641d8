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


def build_subcommand_parser(prog: str, description: str, version: str, package: str,
                            modules: tuple[str, ...]) -> argparse.ArgumentParser:
    """A parser whose subcommands are the modules ``package.<name>`` for ``name`` in ``modules``
    (shared by ``rram-sim`` and the front-end's ``rram-prune``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"{prog} {version}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        try:
            mod = importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{package}.{name}":
                continue
            raise
        mod.register(sub)
    return parser


def run_parsed(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse ``argv`` and run the chosen subcommand; user errors become one line and exit 2."""
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RramSimError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"{parser.prog} {args.command}: error: {exc.filename}: no such file",
              file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    return build_subcommand_parser("rram-sim", "ReRAM crossbar accelerator simulator.",
                                   __version__, "rram_sim.cli", COMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    return run_parsed(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
