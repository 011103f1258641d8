"""``rram-prune train``: train a model (a registry name or any ``nn.Module`` spec), resumably.

The defaults are :func:`pruning.train.train`'s (SGD, lr 0.05, momentum 0.9, weight decay 5e-4,
cosine schedule): the command line and the Python API train the same way.
"""

from __future__ import annotations

import argparse

from pruning.cli.common import (
    OPTIMIZERS,
    SCHEDULES,
    add_data_args,
    add_json_arg,
    add_model_args,
    add_output_arg,
    add_verbosity_args,
    print_result,
    progress,
    settings_line,
    verbose,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (resumes from OUTPUT/checkpoint.pt)",
                       description="Train a model; write OUTPUT/checkpoint.pt after every epoch. "
                       "Re-running the same command resumes where a killed run stopped. The "
                       "checkpoint stores the model spec, so export, evaluate and autoprune "
                       "rebuild any model from it. Defaults are those of pruning.train.train().")
    add_model_args(p)
    add_data_args(p)
    p.add_argument("--epochs", type=int, default=5, help="epochs (default: %(default)s)")
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS,
                   help="optimizer (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.05, help="learning rate (default: %(default)s)")
    p.add_argument("--momentum", type=float, default=0.9,
                   help="SGD momentum (default: %(default)s)")
    p.add_argument("--weight-decay", type=float, default=5e-4,
                   help="weight decay (default: %(default)s)")
    p.add_argument("--schedule", default="cosine", choices=SCHEDULES,
                   help="learning-rate schedule (default: %(default)s)")
    p.add_argument("--masks", default=None, help="masks .npz to keep applied while training")
    add_output_arg(p, "output folder (checkpoint.pt)", out_alias=True)
    add_verbosity_args(p, "epoch lines", old_flag="--no-progress")
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pruning.data import get_data
    from pruning.masks import Masks
    from pruning.models import build_model, canonical_spec
    from pruning.train import seed_everything, train

    verbose(args, settings_line(args))
    seed_everything(args.seed)
    data = get_data(args.data, args.data_root, args.batch_size, args.seed)
    spec = {"name": canonical_spec(args.model), "num_classes": data.num_classes,
            "in_channels": data.in_channels, "width": args.width, "image_size": data.image_size}
    model = build_model(**spec)
    verbose(args, f"model {spec['name']}: {sum(p.numel() for p in model.parameters()):,} "
                  f"parameters, input {data.in_channels}x{data.image_size}x{data.image_size}")
    masks = Masks.load(args.masks) if args.masks else None
    progress(args, f"train: {args.epochs} epochs of {spec['name']} on {data.name} "
                   f"-> {args.output}")
    r = train(model, data, args.epochs, args.optimizer, args.lr, args.momentum,
              args.weight_decay, args.schedule, masks, args.seed, args.output,
              not args.quiet, spec)
    result = {"checkpoint": str(r.checkpoint), "epochs": r.epochs,
              "resumed_from": r.resumed_from, "val_acc": r.val_acc, "test_acc": r.test_acc}
    resumed = f" (resumed after epoch {r.resumed_from})" if r.resumed_from else ""
    print_result(args, result, f"trained {r.epochs} epochs{resumed}: val acc {r.val_acc:.4f}, "
                               f"test acc {r.test_acc:.4f}; checkpoint {r.checkpoint}")
    return 0
