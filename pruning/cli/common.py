"""Helpers shared by the ``rram-prune`` subcommands: common flags, output, a checkpoint's data.

**No torch at import time.** Every subcommand module registers its parser with what this module
and the torch-free registries (:mod:`pruning.granularities.registry`, :mod:`rram_sim`) provide,
and imports torch and the front-end's heavy modules inside ``run``, so ``rram-prune --help`` (and
every subcommand's ``--help``) starts without PyTorch. The built-in names that ``--help`` lists
(:data:`DATASETS`, :data:`MODELS`, :data:`ROUND_METHODS`, :data:`OPTIMIZERS`, :data:`SCHEDULES`)
are therefore written out here; ``tests/test_prune_cli.py`` checks them against the registries,
and checks that every command-line default equals the Python API's default.

The conventions every subcommand follows: ``-o/--output`` for what it writes, ``-q/--quiet`` (no
progress on stderr) and ``-v/--verbose`` (the resolved settings and per-layer detail too),
``--json`` for its result on stdout; results go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

from rram_sim.layout import SCHEMES

DATASETS = ("digits", "synthetic", "cifar10", "cifar100", "svhn")
MODELS = ("vgg11", "vgg16", "vgg19", "resnet18", "resnet20", "lenet5", "digits_cnn")
ROUND_METHODS = ("realprune", "lottery", "filter_l1", "filter_l1_iterative", "crossbar",
                 "pim_prune", "random")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant", "onecycle")

MODEL_HELP = ("a registry name ({names}) or any nn.Module: path/to/file.py:Class or "
              "package.module:factory, called with those of num_classes, in_channels, width, "
              "image_size it takes. The file or module is executed: name only code you trust "
              "(default: %(default)s)")


def add_model_args(p: argparse.ArgumentParser, width: bool = True) -> None:
    """``--model`` (a registry name or a model spec) and ``--width``."""
    p.add_argument("--model", default="digits_cnn", metavar="NAME_OR_SPEC",
                   help="model: " + MODEL_HELP.format(names=", ".join(MODELS)))
    if width:
        p.add_argument("--width", type=float, default=1.0,
                       help="channel width multiplier (default: %(default)s)")


def add_data_args(p: argparse.ArgumentParser, default: str | None = "digits") -> None:
    p.add_argument("--data", default=default, choices=DATASETS,
                   help="dataset (default: %(default)s)" if default else
                   "dataset (default: the checkpoint's own)")
    p.add_argument("--data-root", default=None,
                   help="folder holding the dataset files (default: $RRAM_PRUNE_DATA or ./data)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="images per batch (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")


def add_chip_args(p: argparse.ArgumentParser, scheme: bool = True) -> None:
    p.add_argument("--chip", default="edge",
                   help="chip preset name or YAML file (default: %(default)s)")
    if scheme:
        p.add_argument("--scheme", default="dense", choices=SCHEMES,
                       help="crossbar mapping scheme (default: %(default)s)")


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


def print_result(args: argparse.Namespace, result: dict[str, Any], text: str) -> None:
    """The command's result on stdout: ``text``, or ``result`` as JSON with ``--json``."""
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=str))
    else:
        print(text)


def export_command(checkpoint: Any, chip: str, scheme: str, output: Any) -> str:
    """The ``rram-prune export`` command line of a checkpoint (printed after pruning)."""
    return " ".join(shlex.quote(str(a)) for a in (
        "rram-prune", "export", checkpoint, "--chip", chip, "--scheme", scheme, "-o", output))


def data_for(ck: dict[str, Any], args: argparse.Namespace) -> Any:
    """The checkpoint's dataset (or ``--data``), checked against the model's input."""
    from pruning.data import get_data
    from pruning.errors import PruningError

    name = args.data or (ck.get("data") or {}).get("name") or "digits"
    data = get_data(name, args.data_root, args.batch_size, args.seed)
    spec = ck["model"]
    if (data.in_channels, data.image_size) != (spec["in_channels"], spec["image_size"]):
        raise PruningError(f"dataset '{name}' has {data.in_channels}x{data.image_size}x"
                           f"{data.image_size} images but the model was built for "
                           f"{spec['in_channels']}x{spec['image_size']}x{spec['image_size']}")
    return data


def sample_batch(data: Any, n: int) -> Any:
    """The first ``n`` test images (golden vectors)."""
    import torch

    xs = []
    for x, _ in data.test:
        xs.append(x)
        if sum(len(t) for t in xs) >= n:
            break
    return torch.cat(xs)[:n]
