"""``rram-prune realprune``: run ReaLPrune (or a baseline, ``--method``) round by round.

The method is looked up in the method registry (:mod:`pruning.methods.registry`, round methods
only); the rounds run in :func:`pruning.realprune.run`.

Each round lands in its own folder under ``-o RUN`` (see :mod:`pruning.rounds`); running the same
command again resumes after the last finished round, and a larger ``--rounds`` extends a finished
run. At the end the command prints one line per round and writes ``RUN/summary.json`` and
``RUN/summary.csv`` (the per-round reports without the per-layer detail).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pruning.cli.common import (
    ROUND_METHODS,
    add_data_args,
    add_json_arg,
    add_model_args,
    add_output_arg,
    add_verbosity_args,
    export_command,
    print_result,
    settings_line,
    verbose,
)

if TYPE_CHECKING:
    from pruning.realprune import PruneSettings

SUMMARY_FIELDS = ("round", "method", "sparsity", "weights_remaining", "weights_total",
                  "crossbars_dense", "crossbars_dense_occupied", "crossbars_compact",
                  "hardware_reduction", "val_acc", "test_acc", "accuracy_change",
                  "within_tolerance")


def _names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(t.strip() for t in text.split(",") if t.strip())


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "realprune", help="crossbar-aware lottery-ticket pruning (ReaLPrune) and its baselines",
        description="Iterative magnitude pruning with rewinding at crossbar row/column-segment "
        "granularity (ReaLPrune), or a baseline chosen with --method. One folder per round under "
        "-o; rerunning resumes after the last finished round.")
    add_model_args(p, width=False)
    add_data_args(p)
    p.add_argument("--chip", default="edge",
                   help="training chip: preset name or YAML file (default: edge)")
    p.add_argument("--method", default="realprune",
                   help=f"pruning method: {', '.join(ROUND_METHODS)} or one registered with "
                   "pruning.methods.registry (default: %(default)s)")
    p.add_argument("--granularity", default=None,
                   help="comma-separated group kinds overriding the method's (e.g. "
                   "row_segment,col_segment; see docs/frontend.md)")
    p.add_argument("--norm", default=None, choices=("l1", "l2"),
                   help="group score (default: l1)")
    p.add_argument("--scope", default=None, choices=("layer", "global"),
                   help="rank groups per layer or over the network (default: the method's)")
    p.add_argument("--target-sparsity", type=float, default=0.9,
                   help="stop once this fraction of the weights is pruned (default: 0.9)")
    p.add_argument("--rate", type=float, default=None,
                   help="fraction of the remaining groups removed per round (default: the "
                   "method's, 0.2)")
    p.add_argument("--rounds", type=int, default=10, help="most pruning rounds (default: 10)")
    p.add_argument("--epochs", type=int, default=4, help="training epochs per round (default: 4)")
    p.add_argument("--rewind-epochs", type=int, default=0,
                   help="rewind survivors to the weights after this many epochs (default: 0, the "
                   "initial weights)")
    p.add_argument("--tolerance", type=float, default=0.02,
                   help="stop when validation accuracy drops more than this below the dense "
                   "model's (default: 0.02)")
    p.add_argument("--floor", type=float, default=None,
                   help="fraction of each layer's groups always kept (default: 0.02)")
    p.add_argument("--exclude", default=None,
                   help="comma-separated parameter names never pruned (default: the first conv "
                   "and the classifier; '' for none)")
    p.add_argument("--width", type=float, default=1.0, help="model width multiplier")
    p.add_argument("--lr", type=float, default=0.05, help="learning rate (default: 0.05)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    add_output_arg(p, "run folder (created or resumed)")
    add_verbosity_args(p, "per-round progress")
    add_json_arg(p, "the rounds, the ticket and its export command")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> PruneSettings:
    from pruning.methods.registry import get_method
    from pruning.methods.round_method import RoundMethod
    from pruning.models import canonical_spec
    from pruning.realprune import PruneSettings

    get_method(args.method, RoundMethod)  # an unknown method fails before any work
    return PruneSettings(
        model=canonical_spec(args.model), data=args.data, data_root=args.data_root, chip=args.chip,
        width=args.width, method=args.method, granularity=_names(args.granularity),
        norm=args.norm, scope=args.scope, rate=args.rate, floor=args.floor,
        exclude=_names(args.exclude), rewind_epochs=args.rewind_epochs,
        target_sparsity=args.target_sparsity, rounds=args.rounds, tolerance=args.tolerance,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
        threads=args.threads,
        progress=not args.quiet)


def summary_rows(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in SUMMARY_FIELDS} for r in rounds]


def ticket_files(out: str, ticket_round: int, chip: str) -> dict[str, str]:
    """The ticket's checkpoint (weights and masks) and the command that exports it."""
    from pruning.checkpoint import CHECKPOINT_NAME
    from pruning.rounds import RunFolder

    ck = RunFolder(out, {}).checkpoint_dir(ticket_round) / CHECKPOINT_NAME
    bundle = f"{out.rstrip('/')}/bundle"
    return {"ticket_checkpoint": str(ck),
            "export_command": export_command(ck, chip, "compact", bundle)}


def run(args: argparse.Namespace) -> int:
    from pruning.realprune import run as run_rounds
    from rram_sim.fileio import atomic_write_json, atomic_write_text, csv_text

    settings = settings_from_args(args)
    verbose(args, settings_line(args))
    result = run_rounds(settings, args.output)
    rows = summary_rows(result.rounds)
    t = result.ticket
    files = ticket_files(args.output, t["round"], settings.chip)
    atomic_write_text(f"{args.output}/summary.csv", csv_text(rows, SUMMARY_FIELDS))
    summary = {"settings": result.settings.identity(), "rounds": rows,
               "ticket_round": t["round"], "computed_rounds": result.computed, **files}
    atomic_write_json(f"{args.output}/summary.json", summary)
    lines = [f"{'round':>5} {'pruned':>7} {'xbars dense':>11} {'xbars compact':>13} "
             f"{'hw red.':>7} {'val acc':>7}"]
    for r in rows:
        lines.append(f"{r['round']:>5} {r['sparsity']:>7.1%} {r['crossbars_dense']:>11} "
                     f"{r['crossbars_compact']:>13} {r['hardware_reduction']:>7.1%} "
                     f"{r['val_acc']:>7.3f}")
    lines += [f"ticket: round {t['round']} ({t['sparsity']:.1%} pruned, {t['crossbars_compact']} "
              f"of {t['crossbars_dense']} crossbars, val acc {t['val_acc']:.3f}); rounds "
              f"computed now: {result.computed or 'none'}",
              f"ticket checkpoint: {files['ticket_checkpoint']}",
              f"export it: {files['export_command']}"]
    print_result(args, summary, "\n".join(lines))
    return 0

