"""The one orchestration of a timed run: a layout bundle on a chip -> a :class:`Report`.

The command line (``rram-sim simulate``), the demo, sweeps, the benchmarks and AUTO-PRUNE's hardware
reward all call :func:`simulate`. It checks that the chip can hold the bundle's layouts, plans the
stages once (placement under the overflow policy), runs the discrete-event engine for each pass
and hands the runs to :func:`rram_sim.report.build_report`, where :mod:`rram_sim.accounting` turns
counts into energy and area.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from rram_sim.config import Config
from rram_sim.engine import MODES, check_compatible, plan_for, run_plan
from rram_sim.errors import ConfigError
from rram_sim.placement_policies import (
    apply_mapping_policy,
    copy_and_shared_hold_cycles,
    get_policy,
    stage_balance,
    stage_cycles,
)
from rram_sim.report import Report, build_report

# The largest batch of one run: the bound of training.batch_size (rram_sim.config).
MAX_BATCH = 65536

# progress(pass name, images) -> a callback taking the number of images just finished
ProgressFactory = Callable[[str, int], Callable[[int], None]]


def resolve_passes(passes: str | Sequence[str]) -> tuple[str, ...]:
    """``"inference"``, ``"training"``, ``"both"`` or a sequence of the first two, in run order."""
    if isinstance(passes, str):
        passes = MODES if passes == "both" else (passes,)
    out = tuple(passes)
    for p in out:
        if p not in MODES:
            raise ConfigError(f"pass={p!r}: must be one of {', '.join(MODES)} or 'both'")
    if not out or len(set(out)) != len(out):
        raise ConfigError(f"passes={list(out)!r}: give each pass once, at least one")
    return out


def default_batch(cfg: Config, mode: str) -> int:
    """Images of a run when none is given: 1 for inference, ``training.batch_size`` per step."""
    return cfg.training.batch_size if mode == "training" else 1


def simulate(bundle, chip: Config | None = None, passes: str | Sequence[str] = "inference", *,
             batch: int | Mapping[str, int] | None = None, overflow: str | None = None,
             measured_pulses: dict[str, int] | None = None,
             progress: ProgressFactory | None = None, placement: str = "none",
             copies: Mapping[str, int] | None = None, mapping: str = "pack") -> Report:
    """Simulate ``bundle`` on ``chip`` (default: the chip it was mapped for) and return a Report
    with one run per pass.

    ``batch``: images of each run (one int for every pass, or a mapping pass -> images; default
    :func:`default_batch`). ``overflow``: what a network larger than the chip does, one of
    :data:`rram_sim.engine.OVERFLOW_POLICIES` (default: the bundle's own placement).
    ``measured_pulses``: per layer, the write pulses a real update needs (otherwise one pulse per
    written weight slice is assumed). ``placement``: the placement policy, one of
    :data:`rram_sim.placement_policies.PLACEMENT_POLICIES` (``"none"``: the bundle's own copies;
    ``"balance"``: replicate the bottleneck layers into the free PEs; ``"fixed"``: ``copies``, a
    mapping layer -> copies). The copies of every crossbar layer and its forward stage time per
    image when nothing contends (:func:`rram_sim.placement_policies.stage_cycles`) are in the
    report's figures (``placement_policy``, ``copies_per_layer``, ``stage_cycles_per_image``,
    the slowest as ``bottleneck_stage``, and ``stage_balance``: the mean stage over the slowest).
    ``mapping``: how pruned (``compact``) layers are cut into crossbars, ``"pack"`` (the bundle's
    own: fewest crossbars) or ``"spread"`` (the survivors over the dense layer's row blocks: fewer
    OU reads per crossbar, more crossbars; :func:`rram_sim.placement_policies.spread_layout`)."""
    cfg = chip or bundle.config
    check_compatible(bundle.config, cfg)
    modes = resolve_passes(passes)
    bundle = apply_mapping_policy(bundle, cfg, mapping)
    replication = get_policy(placement, copies).copies(bundle, cfg)
    stages = plan_for(bundle, cfg, overflow, replication)
    runs = []
    for mode in modes:
        n = batch.get(mode) if isinstance(batch, Mapping) else batch
        n = default_batch(cfg, mode) if n is None else n
        if isinstance(n, int) and not isinstance(n, bool) and n > MAX_BATCH:
            raise ConfigError(f"batch={n}: must be at most {MAX_BATCH} images")
        cb = progress(mode, n) if progress is not None else None
        runs.append((run_plan(stages, cfg, mode, n, measured_pulses, cb), stages))
    layers = [st for st in stages if st.layout is not None]
    figures = {**getattr(bundle, "figures", {}), "placement_policy": placement,
               "mapping_policy": mapping,
               "copies_per_layer": {st.name: st.copies for st in layers},
               "stage_cycles_per_image": {
                   st.name: stage_cycles(st.positions, st.copies,
                                         *copy_and_shared_hold_cycles(st.geom, cfg))
                   for st in layers}}
    if layers:   # the slowest stage and the mean stage over it (1.0: every stage as long)
        figures["bottleneck_stage"], _, figures["stage_balance"] = stage_balance(
            figures["stage_cycles_per_image"])
    return build_report(runs, cfg, figures=figures,
                        scheme=getattr(bundle, "scheme", ""))


__all__ = ["MAX_BATCH", "ProgressFactory", "default_batch", "resolve_passes", "simulate"]
