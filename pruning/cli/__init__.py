"""The ``rram-prune`` command line: train, export and evaluate models for the crossbar simulator.

Each subcommand lives in its own module of this package, exposing ``register(subparsers)`` (adds its
parser, with ``set_defaults(func=run)``) and ``run(args) -> int``. A module imports no torch at
import time (torch and the front-end's heavy modules are imported inside ``run``), so ``--help``
is fast; the shared flags and conventions (``-o/--output``, ``-q/--quiet``, ``-v/--verbose``,
``--json``, ``--model NAME_OR_SPEC``) live in :mod:`pruning.cli.common`. User mistakes raise
:class:`~rram_sim.errors.RramSimError` (the front-end's errors subclass it) and are printed as one
line on stderr with exit status 2 (:func:`rram_sim.cli.run_parsed`).
"""

from __future__ import annotations

import argparse
import sys

from pruning import __version__
from rram_sim.cli import build_subcommand_parser, run_parsed

# Subcommand modules, in the order `--help` lists them; a module not present is not offered.
COMMAND_MODULES = ("train", "export", "evaluate", "realprune", "autoprune", "demo")


def build_parser() -> argparse.ArgumentParser:
    return build_subcommand_parser("rram-prune", "Crossbar-aware pruning front-end for rram-sim.",
                                   __version__, "pruning.cli", COMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    return run_parsed(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
