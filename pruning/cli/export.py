"""``rram-prune export``: a checkpoint -> a layout bundle (with golden vectors) for rram-sim.

The checkpoint rebuilds its own model (a registry name or a model spec it stores), so a model of
one's own exports like a built-in one.
"""

from __future__ import annotations

import argparse

from pruning.cli.common import (
    add_chip_args,
    add_data_args,
    add_json_arg,
    add_output_arg,
    add_verbosity_args,
    print_result,
    progress,
    settings_line,
    verbose,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="map a checkpoint onto a chip and write a layout bundle",
                       description="Fold BatchNorm, map every layer (masks applied) onto the "
                       "chip's crossbars and write a bundle with golden vectors from real images. "
                       "A checkpoint of a model spec (path/file.py:Class) runs that file again to "
                       "rebuild the model.")
    p.add_argument("checkpoint", help="checkpoint .pt file or training output folder")
    add_chip_args(p)
    add_data_args(p, default=None)
    p.add_argument("--masks", default=None, help="masks .npz (default: the checkpoint's)")
    p.add_argument("--golden", type=int, default=4,
                   help="images for golden vectors (default: %(default)s)")
    p.add_argument("--eval-samples", type=int, default=0, metavar="N",
                   help="store the first N test images and labels in the bundle, so rram-sim "
                        "verify, sweeps and the demo report the accuracy on the crossbars "
                        "(default: %(default)s, none)")
    p.add_argument("--allow-multi-chip", action="store_true",
                   help="spill onto further chips when one is too small")
    add_output_arg(p, "bundle folder to write", out_alias=True)
    add_verbosity_args(p, "progress line")
    add_json_arg(p, "the crossbar figures")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pruning.checkpoint import model_from_checkpoint
    from pruning.cli.common import data_for, labelled_batch, sample_batch
    from pruning.errors import PruningError
    from pruning.export import export_bundle
    from pruning.masks import Masks
    from rram_sim import config

    verbose(args, settings_line(args))
    model, masks, ck = model_from_checkpoint(args.checkpoint)
    if args.masks:
        masks = Masks.load(args.masks)
    cfg = config.load(args.chip)
    if args.eval_samples < 0:
        raise PruningError(f"--eval-samples={args.eval_samples}: must be >= 0")
    data = data_for(ck, args)
    x = sample_batch(data, max(1, args.golden))
    ev = labelled_batch(data, args.eval_samples) if args.eval_samples else None
    name = args.data or (ck.get("data") or {}).get("name") or "digits"
    progress(args, f"export: {ck['model']['name']} -> {args.scheme} mapping on {cfg.name}")
    b = export_bundle(model, masks if len(masks) else None, cfg, args.scheme, x, args.output,
                      allow_multi_chip=args.allow_multi_chip, eval_set=ev,
                      eval_source=f"{name} test split, first {len(ev[1])} images" if ev else "")
    for lay in b.layers:
        verbose(args, f"  {lay.spec.name}: {lay.spec.kind} {lay.spec.matrix_shape[0]}x"
                      f"{lay.spec.matrix_shape[1]}, {lay.n_crossbars} crossbars")
    keys = ("n_crossbars", "dense_crossbars", "utilization", "weights_nonzero")
    fig = {k: b.figures.get(k) for k in keys}
    e = b.eval_set
    evtext = ("no eval set (--eval-samples N adds one)" if e is None else
              f"eval set of {len(e.labels)} test images (float model accuracy "
              f"{e.float_accuracy:.4f})")
    print_result(args, {"bundle": args.output, "layers": len(b.layers), **fig,
                        "eval_samples": 0 if e is None else len(e.labels),
                        "float_accuracy": None if e is None else e.float_accuracy},
                 f"bundle {args.output}: {len(b.layers)} layers, {fig['n_crossbars']} crossbars "
                 f"({fig['dense_crossbars']} dense), utilization {fig['utilization']:.1%}, "
                 f"{fig['weights_nonzero']} nonzero weights; {evtext}")
    return 0
