"""Helpers shared by the ``rram-prune`` subcommands: common flags, loading a checkpoint's data."""

from __future__ import annotations

import argparse
from typing import Any

import torch

from pruning.data import DATASETS, DataSplits, get_data
from pruning.errors import PruningError
from rram_sim.layout import SCHEMES


def add_data_args(p: argparse.ArgumentParser, default: str | None = "digits") -> None:
    p.add_argument("--data", default=default, choices=DATASETS,
                   help="dataset (default: %(default)s; a checkpoint's own when omitted)")
    p.add_argument("--data-root", default=None,
                   help="folder holding the dataset files (default: $RRAM_PRUNE_DATA or ./data)")
    p.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def add_chip_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chip", default="edge", help="chip preset name or YAML file (default edge)")
    p.add_argument("--scheme", default="dense", choices=SCHEMES,
                   help="crossbar mapping scheme (default dense)")


def data_for(ck: dict[str, Any], args: argparse.Namespace) -> DataSplits:
    name = args.data or (ck.get("data") or {}).get("name") or "digits"
    data = get_data(name, args.data_root, args.batch_size, args.seed)
    spec = ck["model"]
    if (data.in_channels, data.image_size) != (spec["in_channels"], spec["image_size"]):
        raise PruningError(f"dataset '{name}' has {data.in_channels}x{data.image_size}x"
                           f"{data.image_size} images but the model was built for "
                           f"{spec['in_channels']}x{spec['image_size']}x{spec['image_size']}")
    return data


def sample_batch(data: DataSplits, n: int) -> torch.Tensor:
    xs = []
    for x, _ in data.test:
        xs.append(x)
        if sum(len(t) for t in xs) >= n:
            break
    return torch.cat(xs)[:n]
