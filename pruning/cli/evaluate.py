"""``rram-prune evaluate``: test accuracy in software (float and quantized) and on crossbars."""

from __future__ import annotations

import argparse

from pruning.cli.common import (
    add_chip_args,
    add_data_args,
    add_json_arg,
    add_verbosity_args,
    print_result,
    progress,
    settings_line,
    verbose,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="accuracy in software and on simulated crossbars",
                       description="Test accuracy of a checkpoint: float software, quantized "
                       "software (the chip's precision), and with --on-crossbar the simulated "
                       "crossbars (DACs, bit-sliced cells, ADCs).")
    p.add_argument("checkpoint", help="checkpoint .pt file or training output folder")
    add_chip_args(p)
    add_data_args(p, default=None)
    p.add_argument("--masks", default=None, help="masks .npz (default: the checkpoint's)")
    p.add_argument("--on-crossbar", action="store_true", help="also run on simulated crossbars")
    p.add_argument("--limit", type=int, default=0,
                   help="evaluate only the first N test images (default: 0, all)")
    add_verbosity_args(p, "progress lines")
    add_json_arg(p, "the accuracies")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from pruning.checkpoint import model_from_checkpoint
    from pruning.cli.common import data_for
    from pruning.masks import Masks
    from pruning.train import evaluate
    from pruning.xbar_layers import to_crossbar, total_counts
    from rram_sim import config

    verbose(args, settings_line(args))
    model, masks, ck = model_from_checkpoint(args.checkpoint)
    if args.masks:
        masks = Masks.load(args.masks).validate(model)
    cfg = config.load(args.chip)
    data = data_for(ck, args)
    loader = data.test
    if args.limit > 0:
        x, y = next(iter(torch.utils.data.DataLoader(loader.dataset, batch_size=args.limit)))
        loader = [(x[i:i + args.batch_size], y[i:i + args.batch_size])
                  for i in range(0, len(x), args.batch_size)]
    masks = masks if len(masks) else None
    if masks is not None:
        masks.apply(model)
    progress(args, "evaluate: float and quantized software")
    out = {"chip": cfg.name, "scheme": args.scheme, "float_acc": evaluate(model, loader)[1],
           "quantized_acc": evaluate(to_crossbar(model, cfg, args.scheme, masks,
                                                 mode="quantized"), loader)[1]}
    text = (f"{ck['model']['name']} on {cfg.name} ({args.scheme}): float acc "
            f"{out['float_acc']:.4f}, quantized acc {out['quantized_acc']:.4f}")
    if args.on_crossbar:
        progress(args, "evaluate: simulated crossbars")
        xb = to_crossbar(model, cfg, args.scheme, masks)
        out["crossbar_acc"] = evaluate(xb, loader)[1]
        counts = total_counts(xb)
        out["adc_conversions"] = counts.adc_conversions
        out["adc_clipped"] = counts.adc_clipped
        text += (f", crossbar acc {out['crossbar_acc']:.4f} ({counts.adc_conversions:,} ADC "
                 f"conversions, {counts.adc_clipped:,} clipped)")
    print_result(args, out, text)
    return 0
