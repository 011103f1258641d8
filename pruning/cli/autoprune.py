"""``rram-prune autoprune``: search per-layer pruning ratios with AUTO-PRUNE's RL agent.

The base model is trained first (``RUN/base``, resumable) unless ``--checkpoint`` names a trained
one. The search writes ``RUN/search`` after every episode, so running the same command again
resumes after the last finished episode. At the end ``RUN`` holds ``best_policy.json``,
``model/checkpoint.pt``, ``masks.npz``, the ``ou`` bundle ``bundle/`` and ``learning_curve.csv`` /
``.png`` (see :func:`pruning.autoprune.autoprune`), and one summary line is printed. The method
is the registry's ``autoprune`` entry (:mod:`pruning.methods.autoprune`).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pruning.cli.common import (
    add_data_args,
    add_json_arg,
    add_model_args,
    add_output_arg,
    add_verbosity_args,
    export_command,
    print_result,
    progress,
    settings_line,
    verbose,
)
from pruning.granularities.registry import granularity_names

if TYPE_CHECKING:
    from pruning.autoprune.settings import AutoPruneSettings

# The defaults of AutoPruneSettings and its agent, written out so that `--help` needs no torch
# (tests/test_prune_cli.py checks they equal pruning.autoprune.settings).
EPISODES = 40
WARMUP_EPISODES = 10
REWARD_METRICS = ("crossbars", "energy", "latency")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "autoprune", help="RL per-layer pruning with a hardware reward (AUTO-PRUNE)",
        description="A DDPG agent picks each layer's pruning ratio under an accuracy-loss "
        "constraint, rewarded by the compression rate of occupied crossbars (or the engine's "
        "energy / latency); the best policy is fine-tuned and exported as an 'ou' bundle with "
        "index tables. Rerunning with the same -o resumes the search.")
    add_model_args(p)
    add_data_args(p)
    p.add_argument("--chip", default="edge", help="preset name or YAML file (default: edge)")
    p.add_argument("--checkpoint", default=None,
                   help="a trained model checkpoint (default: train one into RUN/base)")
    p.add_argument("--train-epochs", type=int, default=8,
                   help="epochs of the base model when no --checkpoint (default: 8)")
    p.add_argument("--accuracy-loss", type=float, default=0.01,
                   help="allowed drop of validation accuracy, e.g. 0.01 = 1 point (default: 0.01)")
    p.add_argument("--episodes", type=int, default=EPISODES,
                   help=f"search episodes (default: {EPISODES})")
    p.add_argument("--warmup", type=int, default=WARMUP_EPISODES,
                   help="episodes of random actions before the agent learns (default: "
                   f"{WARMUP_EPISODES})")
    p.add_argument("--lower", type=float, default=0.0, help="smallest layer ratio (default: 0)")
    p.add_argument("--upper", type=float, default=0.8, help="largest layer ratio (default: 0.8)")
    p.add_argument("--granularity", default="ou_row", choices=granularity_names(),
                   help="pruning groups (default: ou_row, one row of one OU column block)")
    p.add_argument("--reward", default="crossbars",
                   help=f"comma-separated hardware metrics of the reward: "
                   f"{', '.join(REWARD_METRICS)} (default: crossbars)")
    p.add_argument("--penalty", type=float, default=20.0,
                   help="reward lost per unit of accuracy drop beyond the allowance (default: 20)")
    p.add_argument("--episode-finetune", type=int, default=2,
                   help="fine-tune epochs inside each episode before it is evaluated (default: 2)")
    p.add_argument("--finetune", type=int, default=3,
                   help="fine-tune epochs of the best policy (default: 3)")
    p.add_argument("--finetune-lr", type=float, default=0.05,
                   help="SGD learning rate of both fine-tunes (default: 0.05)")
    add_output_arg(p, "run folder (created or resumed)")
    add_verbosity_args(p, "per-episode progress")
    add_json_arg(p, "the result")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> AutoPruneSettings:
    from pruning.autoprune.settings import AGENT, AutoPruneSettings

    metrics = tuple(m.strip() for m in args.reward.split(",") if m.strip())
    s = AutoPruneSettings(
        accuracy_loss=args.accuracy_loss, episodes=args.episodes, lower=args.lower,
        upper=args.upper, granularity=args.granularity, reward_metrics=metrics,
        penalty=args.penalty, episode_finetune_epochs=args.episode_finetune,
        finetune_epochs=args.finetune, finetune_lr=args.finetune_lr, seed=args.seed,
        ddpg=replace(AGENT, warmup_episodes=args.warmup))
    s.validate()
    return s


def run(args: argparse.Namespace) -> int:
    from pruning.checkpoint import model_from_checkpoint
    from pruning.data import get_data
    from pruning.errors import PruningError
    from pruning.methods.base import ModelMethod
    from pruning.methods.registry import get_method
    from pruning.models import build_model, canonical_spec
    from pruning.train import seed_everything, train
    from rram_sim.config import load

    verbose(args, settings_line(args))
    method = get_method("autoprune", ModelMethod)(settings_from_args(args))
    cfg = load(args.chip)
    out = Path(args.output)
    data = get_data(args.data, args.data_root, args.batch_size, args.seed)
    if args.checkpoint:
        model, _, ck = model_from_checkpoint(args.checkpoint)
        spec = ck["model"]
    else:
        if args.train_epochs < 1:
            raise PruningError(f"--train-epochs={args.train_epochs}: must be >= 1 without "
                               "--checkpoint")
        seed_everything(args.seed)
        spec = {"name": canonical_spec(args.model), "num_classes": data.num_classes,
                "in_channels": data.in_channels, "width": args.width,
                "image_size": data.image_size}
        model = build_model(**spec)
        progress(args, f"autoprune: training the base model ({args.train_epochs} epochs of "
                       f"{spec['name']}) -> {out / 'base'}")
        train(model, data, args.train_epochs, seed=args.seed, checkpoint_dir=out / "base",
              progress=not args.quiet, model_spec=spec)
    model.eval()
    progress(args, f"autoprune: {args.episodes} search episodes -> {out / 'search'}")
    # the method runs the rram_sim engine itself when the reward needs energy or latency
    res = method.prune(model, data, cfg, out, model_spec=spec, progress=not args.quiet)
    checkpoint = res.files.get("model", str(out / "model" / "checkpoint.pt"))
    result = {"episodes": len(res.search.history), "base_accuracy": res.base_accuracy,
              "accuracy": res.accuracy, "test_accuracy": res.test_accuracy,
              "dense_crossbars": res.dense_crossbars, "crossbars": res.crossbars,
              "compression_rate": res.compression_rate, "policy": str(out / "best_policy.json"),
              "bundle": res.files.get("bundle"), "checkpoint": checkpoint,
              "export_command": export_command(checkpoint, args.chip, "ou", out / "bundle_ou")}
    print_result(args, result, (
        f"autoprune: {len(res.search.history)} episodes, accuracy {res.base_accuracy:.4f} -> "
        f"{res.accuracy:.4f} (test {res.test_accuracy:.4f}), crossbars {res.dense_crossbars} -> "
        f"{res.crossbars} (compression {res.compression_rate:.2f}x); policy in "
        f"{out / 'best_policy.json'}\n"
        f"pruned checkpoint: {checkpoint}; its ou bundle: {result['bundle']}\n"
        f"export it again: {result['export_command']}"))
    return 0
