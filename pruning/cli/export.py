"""``rram-prune export``: a checkpoint -> a layout bundle (with golden vectors) for rram-sim."""

from __future__ import annotations

import argparse
import json

from pruning.checkpoint import model_from_checkpoint
from pruning.cli.common import add_chip_args, add_data_args, data_for, sample_batch
from pruning.export import export_bundle
from pruning.masks import Masks
from rram_sim import config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="map a checkpoint onto a chip and write a layout bundle",
                       description="Fold BatchNorm, map every layer (masks applied) onto the "
                       "chip's crossbars and write a bundle with golden vectors from real images.")
    p.add_argument("checkpoint", help="checkpoint .pt file or training output folder")
    add_chip_args(p)
    add_data_args(p, default=None)
    p.add_argument("--masks", default=None, help="masks .npz (default: the checkpoint's)")
    p.add_argument("--golden", type=int, default=4, help="images for golden vectors (default 4)")
    p.add_argument("--allow-multi-chip", action="store_true",
                   help="spill onto further chips when one is too small")
    p.add_argument("-o", "--out", required=True, help="bundle folder to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model, masks, ck = model_from_checkpoint(args.checkpoint)
    if args.masks:
        masks = Masks.load(args.masks)
    cfg = config.load(args.chip)
    x = sample_batch(data_for(ck, args), max(1, args.golden))
    b = export_bundle(model, masks if len(masks) else None, cfg, args.scheme, x, args.out,
                      allow_multi_chip=args.allow_multi_chip)
    keys = ("n_crossbars", "dense_crossbars", "utilization", "weights_nonzero")
    print(json.dumps({"bundle": args.out, "layers": len(b.layers),
                      **{k: b.figures.get(k) for k in keys}}, indent=2))
    return 0
