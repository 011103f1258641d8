"""``rram-sim sweep SWEEP.yaml -o DIR``: simulate bundles over a grid of chips, resumably.

The sweep file and the result files are described in :mod:`rram_sim.sweep`. Points already in
``DIR/results.jsonl`` are skipped, so running the same command again after an interruption finishes
the sweep. ``--backend`` picks where points run: ``serial`` (this process), ``process`` (a local
process pool of ``--workers``) or ``dask`` (``--scheduler ADDRESS``, or a local Dask cluster of
``--workers`` processes).
"""

from __future__ import annotations

import argparse
from typing import Any

from rram_sim.cli.common import (
    add_json_arg,
    add_output_arg,
    add_verbosity_args,
    print_result,
    progress,
    settings_line,
    verbose,
)
from rram_sim.sweep import BACKENDS


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sweep", help="simulate layout bundles over a grid of chip parameters",
        description="Run a design-space sweep: every point (chip parameters x bundle x scheme) "
                    "is re-mapped and simulated; one row per point goes to results.jsonl and "
                    "results.csv in -o DIR, with a Pareto plot. Finished points are skipped on a "
                    "re-run; invalid points are recorded as skipped with the reason.")
    p.add_argument("sweep", metavar="SWEEP.yaml", help="the sweep file")
    add_output_arg(p, "results folder (created, or resumed)")
    p.add_argument("--backend", choices=BACKENDS, default="serial",
                   help="where points run (default: serial)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the process pool or local Dask cluster "
                        "(default: the CPU count, at most 4)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask scheduler address (tcp://host:port); default: a local cluster")
    add_verbosity_args(p, "per-point progress lines")
    add_json_arg(p, "the sweep's outcome (point counts, files)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rram_sim.sweep import load_spec, run_sweep

    verbose(args, settings_line(args))
    spec = load_spec(args.sweep)

    def show(n: int, total: int, row: dict[str, Any]) -> None:
        extra = f": {row['reason']}" if row["status"] != "ok" else ""
        progress(args, f"[{n}/{total}] {row['key']} {row['status']}{extra}")

    res = run_sweep(spec, args.output, backend=args.backend, workers=args.workers,
                    scheduler=args.scheduler, progress=show)
    ok = sum(r["status"] == "ok" for r in res.rows)
    outcome = {"points": len(res.rows), "ok": ok, "skipped": len(res.rows) - ok,
               "computed_now": len(res.computed), "already_done": len(res.skipped_before),
               "files": {k: str(v) for k, v in res.files.items()}}
    text = "\n".join([f"{len(res.rows)} points: {ok} ok, {len(res.rows) - ok} skipped; computed "
                      f"now {len(res.computed)}, already done {len(res.skipped_before)}",
                      *(f"{name}: {path}" for name, path in res.files.items())])
    print_result(args, outcome, text)
    return 0
