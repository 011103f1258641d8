"""The discrete-event engine: how long a mapped network takes on a chip, and at what energy.

``simulate(bundle, cfg, mode)`` turns a layout bundle into pipeline stages (:mod:`.plan`), runs them
as SimPy processes over the chip's shared resources (:mod:`.model`), with step durations from the
closed-form timing functions (:mod:`.timing`) and NoC routes from :mod:`.noc`, and returns a
:class:`rram_sim.report.Report`. Event counts come from the same place as in a functional run —
``rram_sim.kernels.forward_counts`` / ``transposed_counts`` for the crossbars — plus what only the
DES knows (flits, hops, digital ops, write pulses); energy is ``costs.dynamic_energy_pj(counts)``
plus ``costs.leakage_energy_pj`` over the simulated time.

A network larger than the chip: ``overflow="error"`` raises MappingError, ``"multi_chip"`` spills
onto further chips, ``"reload"`` runs it on one chip in segments reprogrammed in turn (the report's
``reload`` pass); left out, the bundle's own placement is honoured.
"""

from __future__ import annotations

from collections.abc import Callable

from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.engine.model import ChipModel, SimResult, StageRecord
from rram_sim.engine.plan import DEFAULT_MAX_GROUPS, OVERFLOW_POLICIES, Stage, plan_from_bundle
from rram_sim.errors import ConfigError

MODES = ("inference", "training")

__all__ = ["MODES", "OVERFLOW_POLICIES", "ChipModel", "SimResult", "Stage", "StageRecord",
           "plan_for", "record_counts", "run_plan", "simulate"]


# What the cells hold depends on these: a bundle only runs on a chip that agrees on them.
_MAPPING_KEYS = ("crossbar.rows", "crossbar.cols", "crossbar.signed_scheme", "cell.bits",
                 "precision.weight_bits", "ou.rows", "ou.cols")
# Where the crossbars sit depends on these: a chip that differs gets a fresh placement.
_PLACEMENT_KEYS = ("pe.crossbars", "tile.pes", "chip.tiles")


def _get(cfg: Config, key: str):
    group, name = key.split(".")
    return getattr(getattr(cfg, group), name)


def check_compatible(mapped_for: Config, chip: Config) -> None:
    """Raise ConfigError when ``chip`` cannot hold layouts mapped for ``mapped_for``."""
    for k in _MAPPING_KEYS:
        a, b = _get(mapped_for, k), _get(chip, k)
        if a != b:
            raise ConfigError(f"{k}={b!r}: chip '{chip.name}' differs from the bundle's chip "
                              f"'{mapped_for.name}' ({k}={a!r}); re-map the network for it")


def record_counts(rec: StageRecord, st: Stage | None, n_images: int, cfg: Config) -> Counts:
    """All event counts of one stage record: the kernels' closed-form crossbar counts for its
    pass plus the DES's own counts."""
    total = Counts() + rec.counts
    if st is None or st.layout is None or rec.pass_name in ("update", "reload"):
        return total
    from rram_sim import kernels

    n_vec = st.positions * n_images
    if rec.pass_name == "forward":
        total += kernels.forward_counts(st.layout, cfg, n_vec)
        return total
    if not rec.first_layer:
        total += kernels.transposed_counts(st.layout, cfg, n_vec)
    if cfg.training.gradient_unit == "crossbar":
        total += kernels.forward_counts(st.layout, cfg, n_vec)
    else:
        total.digital_adds += st.geom.inputs_used * st.geom.cols_n * n_vec
    return total


def run_plan(stages: list[Stage], cfg: Config, mode: str = "inference", n_images: int = 1,
             measured_pulses: dict[str, int] | None = None,
             progress: Callable[[int], None] | None = None) -> SimResult:
    """Simulate a plan: ``n_images`` images of inference, or one training step of ``n_images``."""
    if mode not in MODES:
        raise ConfigError(f"pass={mode!r}: must be one of {', '.join(MODES)}")
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise ConfigError(f"batch={n_images!r}: must be an integer >= 1")
    if mode == "training" and not cfg.training.enabled:
        raise ConfigError(f"training.enabled=False: chip '{cfg.name}' cannot run a training pass "
                          f"(enable training or use the inference pass)")
    model = ChipModel(cfg, stages, n_images=n_images, training=(mode == "training"),
                      measured_pulses=measured_pulses, progress=progress)
    return model.run()


def plan_for(bundle, cfg: Config, overflow: str | None = None,
             max_groups: int = DEFAULT_MAX_GROUPS) -> list[Stage]:
    """The stages of ``bundle`` on ``cfg``: its own placement when the chip's size agrees and no
    ``overflow`` policy is given, else a fresh placement under that policy."""
    same_place = all(_get(bundle.config, k) == _get(cfg, k) for k in _PLACEMENT_KEYS)
    return plan_from_bundle(bundle, cfg, max_groups=max_groups, replace_placement=not same_place,
                            overflow=overflow)


def simulate(bundle, cfg: Config | None = None, mode: str = "inference",
             batch: int | None = None, measured_pulses: dict[str, int] | None = None,
             max_groups: int = DEFAULT_MAX_GROUPS,
             progress: Callable[[int], None] | None = None, overflow: str | None = None):
    """Simulate ``bundle`` on ``cfg`` (default: the bundle's own chip) and return a Report.

    ``batch``: images (inference) or the batch of one training step (default 1 for inference,
    ``training.batch_size`` for training). ``measured_pulses``: per layer, the write pulses a real
    update needs (otherwise 1 pulse per written weight slice is assumed). ``overflow``: what a
    network larger than the chip does, one of :data:`OVERFLOW_POLICIES` (default: honour the
    bundle's placement)."""
    from rram_sim.report import build_report

    cfg = cfg or bundle.config
    check_compatible(bundle.config, cfg)
    if batch is None:
        batch = cfg.training.batch_size if mode == "training" else 1
    stages = plan_for(bundle, cfg, overflow, max_groups)
    result = run_plan(stages, cfg, mode, batch, measured_pulses, progress)
    return build_report([(result, stages)], cfg, figures=getattr(bundle, "figures", {}),
                        scheme=getattr(bundle, "scheme", ""))
