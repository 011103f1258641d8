"""Command-line conventions shared by every ``rram-sim`` and ``rram-prune`` subcommand.

``-o/--output`` for what a command writes, ``-q/--quiet`` (no progress on stderr) and
``-v/--verbose`` (the resolved settings and per-layer detail on stderr too), ``--json`` for its
result on stdout, ``--example SCHEME`` wherever a bundle is read. Results go to stdout, progress
and detail to stderr. The front-end's :mod:`pruning.cli.common` re-exports these helpers, so both
command lines behave alike (``tests/test_cli_conventions.py`` checks every subcommand).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rram_sim.errors import ConfigError
from rram_sim.layout import SCHEMES


def add_output_arg(p: argparse.ArgumentParser, help: str, *, required: bool = True,
                   default: str | None = None, out_alias: bool = False) -> None:
    """``-o/--output DIR`` (``--out`` kept as an alias where a command had it)."""
    flags = ["-o", "--output", *(["--out"] if out_alias else [])]
    p.add_argument(*flags, dest="output", metavar="DIR", required=required, default=default,
                   help=help + ("" if required else f" (default: {default})"))


def add_verbosity_args(p: argparse.ArgumentParser, progress: str = "progress lines",
                       old_flag: str | None = None) -> None:
    """``-q/--quiet`` and ``-v/--verbose`` (``old_flag``, e.g. ``--no-progress``, stays as a
    hidden alias of ``--quiet``)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true",
                   help=f"no {progress} on stderr (the result is still printed)")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="also print the resolved settings and per-layer detail on stderr")
    if old_flag:
        g.add_argument(old_flag, dest="quiet", action="store_true", help=argparse.SUPPRESS)


def add_json_arg(p: argparse.ArgumentParser, what: str = "the result") -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def add_bundle_args(p: argparse.ArgumentParser, verb: str) -> None:
    """A ``BUNDLE`` positional and ``--example SCHEME`` (one of the two is required)."""
    p.add_argument("bundle", metavar="BUNDLE", nargs="?", help="layout bundle directory")
    p.add_argument("--example", choices=SCHEMES,
                   help=f"{verb} the shipped example bundle of this mapping scheme instead")


def bundle_path(args: argparse.Namespace) -> str:
    """The bundle folder ``args`` names: ``BUNDLE`` or the shipped ``--example`` (exactly one)."""
    if (args.bundle is None) == (args.example is None):
        raise ConfigError(f"{args.command}: give exactly one of BUNDLE or --example SCHEME")
    if args.example is not None:
        from rram_sim.examples import example_path

        return str(example_path(args.example))
    return args.bundle


def progress(args: argparse.Namespace, msg: str) -> None:
    """A progress line on stderr, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(msg, file=sys.stderr, flush=True)


def verbose(args: argparse.Namespace, msg: str) -> None:
    """A detail line on stderr, only with ``--verbose``."""
    if getattr(args, "verbose", False):
        print(msg, file=sys.stderr, flush=True)


def settings_line(args: argparse.Namespace) -> str:
    """The parsed command-line settings as one JSON line (for ``--verbose``)."""
    skip = {"func", "command", "quiet", "verbose", "json"}
    return "settings: " + json.dumps({k: v for k, v in sorted(vars(args).items())
                                      if k not in skip}, default=str)


def print_result(args: argparse.Namespace, result: Any, text: str) -> None:
    """The command's result on stdout: ``text``, or ``result`` as JSON with ``--json``."""
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=str))
    else:
        print(text)
