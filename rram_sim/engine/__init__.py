"""The discrete-event engine: how long a mapped network takes on a chip.

:func:`plan_for` turns a layout bundle into pipeline stages (:mod:`.plan`); :func:`run_plan` runs
them as SimPy processes, one event per vector and stage, over the chip's components (:mod:`.model`),
with phase durations from the timing functions (:mod:`.timing`, which read each layer's read
plan) and NoC routes from :mod:`rram_sim.noc` (the topology registry), and returns a
:class:`~rram_sim.engine.model.SimResult` in cycles. The engine knows nothing of energy or
reports: :func:`rram_sim.simulate.simulate` is the one orchestration, and
:mod:`rram_sim.accounting` adds the crossbar counts of each stage's read plan to the events only
the engine knows (flits, hops, digital ops, write pulses) and charges them.

A network larger than the chip: ``overflow="error"`` raises MappingError, ``"multi_chip"`` spills
onto further chips, ``"reload"`` runs it on one chip in segments reprogrammed in turn (the report's
``reload`` pass); left out, the bundle's own placement is honoured.
"""

from __future__ import annotations

from collections.abc import Callable

from rram_sim.config import Config
from rram_sim.engine.model import ChipModel, SimResult, StageRecord
from rram_sim.engine.plan import OVERFLOW_POLICIES, Stage, plan_from_bundle
from rram_sim.errors import ConfigError

MODES = ("inference", "training")

__all__ = ["MODES", "OVERFLOW_POLICIES", "ChipModel", "SimResult", "Stage", "StageRecord",
           "check_compatible", "plan_for", "run_plan"]


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
             replication: dict[str, int] | None = None) -> list[Stage]:
    """The stages of ``bundle`` on ``cfg``: its own placement when the chip's size agrees and no
    ``overflow`` policy or ``replication`` (copies per layer from a placement policy) is given,
    else a fresh placement under them."""
    same_place = all(_get(bundle.config, k) == _get(cfg, k) for k in _PLACEMENT_KEYS)
    return plan_from_bundle(bundle, cfg, replace_placement=not same_place,
                            overflow=overflow, replication=replication)
