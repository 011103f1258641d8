"""``rram-prune train``: train a registered model on a dataset, with resumable checkpoints."""

from __future__ import annotations

import argparse
import json

from pruning.cli.common import add_data_args
from pruning.data import get_data
from pruning.masks import Masks
from pruning.models import build_model, model_names
from pruning.train import OPTIMIZERS, SCHEDULES, seed_everything, train


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (resumes from OUT/checkpoint.pt)",
                       description="Train a model; write OUT/checkpoint.pt after every epoch. "
                       "Re-running the same command resumes where a killed run stopped.")
    p.add_argument("--model", default="digits_cnn", choices=model_names(),
                   help="model (default digits_cnn)")
    p.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    add_data_args(p)
    p.add_argument("--epochs", type=int, default=5, help="epochs (default 5)")
    p.add_argument("--optimizer", default="adam", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, default=3e-3, help="learning rate (default 3e-3)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="weight decay (default 0)")
    p.add_argument("--schedule", default="cosine", choices=SCHEDULES)
    p.add_argument("--masks", default=None, help="masks .npz to keep applied while training")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seed_everything(args.seed)
    data = get_data(args.data, args.data_root, args.batch_size, args.seed)
    spec = {"name": args.model, "num_classes": data.num_classes,
            "in_channels": data.in_channels, "width": args.width, "image_size": data.image_size}
    model = build_model(**spec)
    masks = Masks.load(args.masks) if args.masks else None
    r = train(model, data, args.epochs, args.optimizer, args.lr, args.momentum,
              args.weight_decay, args.schedule, masks, args.seed, args.out,
              not args.no_progress, spec)
    print(json.dumps({"checkpoint": str(r.checkpoint), "epochs": r.epochs,
                      "resumed_from": r.resumed_from, "val_acc": r.val_acc,
                      "test_acc": r.test_acc}, indent=2))
    return 0
