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
import shlex
from typing import Any

from rram_sim.cli.common import (  # noqa: F401  (re-exported: one convention for both CLIs)
    add_json_arg,
    add_output_arg,
    add_verbosity_args,
    print_result,
    progress,
    settings_line,
    verbose,
)
from rram_sim.layout import SCHEMES

DATASETS = ("digits", "synthetic", "cifar10", "cifar100", "svhn")
MODELS = ("vgg11", "vgg16", "vgg19", "resnet18", "resnet20", "resnet18_imagenet", "lenet5",
          "digits_cnn")
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


def labelled_batch(data: Any, n: int) -> tuple[Any, Any]:
    """The first ``n`` test images and their labels (a bundle's eval set); fewer when the test
    split is smaller."""
    import torch

    xs, ys = [], []
    for x, y in data.test:
        xs.append(x)
        ys.append(y)
        if sum(len(t) for t in xs) >= n:
            break
    return torch.cat(xs)[:n], torch.cat(ys)[:n]


def sample_batch(data: Any, n: int) -> Any:
    """The first ``n`` test images (golden vectors)."""
    return labelled_batch(data, n)[0]
