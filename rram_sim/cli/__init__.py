"""The ``rram-sim`` command line.

Each subcommand lives in its own module of this package, exposing ``register(subparsers)`` (adds its
parser, with ``set_defaults(func=run)``) and ``run(args) -> int``. User mistakes raise
:class:`~rram_sim.errors.RramSimError` and are printed as one line on stderr with exit status 2,
as are the operating-system, decoding and resource errors a bad path or file causes
(:func:`run_parsed`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
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


def error_line(exc: BaseException) -> str | None:
    """The one-line message for an error a user can cause (a bad file, folder, flag or value), or
    None for anything else (a bug: it keeps its traceback)."""
    if isinstance(exc, RramSimError):
        return str(exc)
    if isinstance(exc, OSError):
        # an output path under a regular file, a read-only folder, a folder that is a file, ...
        what = exc.strerror or type(exc).__name__
        name = exc.filename if exc.filename is not None else ""
        extra = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        return f"{name}{extra}: {what.lower()}" if name else what.lower()
    if isinstance(exc, UnicodeDecodeError):
        return f"not a text file (undecodable byte at position {exc.start})"
    if isinstance(exc, RecursionError):
        return "input nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "input too large to hold in memory"
    return None


def run_parsed(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse ``argv`` and run the chosen subcommand. Every user error (the project's own, and the
    operating-system, decoding and resource errors a bad path or file causes) becomes one line on
    stderr and exit status 2; exit 1 stays "ran, and the check failed". A closed output pipe ends
    quietly; Ctrl-C says how to resume (exit 130)."""
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()   # a closed pipe shows here, not at interpreter exit
        return rc
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: stop writing, without a traceback
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted; rerun the same command to resume",
              file=sys.stderr)
        return 130
    except Exception as exc:
        msg = error_line(exc)
        if msg is None:
            raise
        print(f"{parser.prog} {args.command}: error: {msg}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    return build_subcommand_parser("rram-sim", "ReRAM crossbar accelerator simulator.",
                                   __version__, "rram_sim.cli", COMMAND_MODULES)


def main(argv: list[str] | None = None) -> int:
    return run_parsed(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
