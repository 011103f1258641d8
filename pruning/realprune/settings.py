"""The settings of a round run: the run's own, plus overrides of the method's.

:class:`PruneSettings` is what ``rram-prune realprune`` and :func:`pruning.realprune.run` take. It
names the method (a :class:`~pruning.methods.round_method.RoundMethod` of the registry) and may
override the settings every round method has (``granularity``, ``norm``, ``scope``, ``rate``,
``floor``, ``exclude``: None takes the method's) and, in ``options``, further settings of the
method's own ``Settings`` dataclass. Everything but the stop criteria is the run's identity, stored
in ``RUN/run.json`` and checked when the run is resumed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pruning.errors import PruningError, require
from pruning.methods.registry import get_method
from pruning.methods.round_method import RoundMethod

# Settings that only decide when to stop; they may change when a run is resumed or extended.
STOP_SETTINGS = ("rounds", "target_sparsity", "tolerance", "data_root", "progress")
# Settings of every round method that a run may override (None: the method's own).
METHOD_SETTINGS = ("granularity", "norm", "scope", "rate", "floor", "exclude")


@dataclass
class PruneSettings:
    """Everything that defines a pruning run (defaults: the CI-size ReaLPrune run on digits).

    ``rate`` is the fraction of the remaining groups removed per round; ``floor`` the minimum
    fraction of each layer's groups that is always kept; ``exclude`` the parameter names never
    pruned (None: the method's choice, by default the first conv and the classifier) —
    these and ``granularity``, ``norm``, ``scope`` default to the method's settings.
    ``rewind_epochs`` 0 rewinds to the initial weights, ``k`` to the weights after ``k`` epochs;
    ``tolerance`` the largest validation-accuracy drop (fraction) from the dense model;
    ``threads`` the torch CPU threads (1 by default: on a shared 2-core machine more threads spin
    against other processes and a small CNN trains several times slower; the thread count can
    change float summation order, so it is part of a run's identity); ``options`` further
    settings of the method's ``Settings`` by name (a run identity without any keeps the format
    of runs that predate it).
    """

    model: str = "digits_cnn"
    data: str = "digits"
    data_root: str | None = None
    chip: str = "edge"
    width: float = 1.0
    method: str = "realprune"
    granularity: tuple[str, ...] | None = None
    norm: str | None = None
    scope: str | None = None
    rate: float | None = None
    floor: float | None = None
    exclude: tuple[str, ...] | None = None
    rewind_epochs: int = 0
    target_sparsity: float = 0.9
    rounds: int = 10
    tolerance: float = 0.02
    epochs: int = 4
    optimizer: str = "sgd"
    lr: float = 0.05
    batch_size: int = 64
    seed: int = 0
    threads: int = 1
    progress: bool = False
    options: dict[str, Any] | None = None

    def method_class(self) -> type[RoundMethod]:
        return get_method(self.method, RoundMethod)

    def make_method(self) -> RoundMethod:
        """The run's method, configured with its defaults, this run's overrides and options."""
        cls = self.method_class()
        values = {k: getattr(self, k) for k in METHOD_SETTINGS if getattr(self, k) is not None}
        if values.get("granularity") is not None:
            values["granularity"] = tuple(values["granularity"])
        if values.get("exclude") is not None:
            values["exclude"] = tuple(values["exclude"])
        clash = sorted(set(self.options or {}) & set(METHOD_SETTINGS))
        if clash:
            raise PruningError(f"options: '{clash[0]}' is a PruneSettings field; set it there")
        return cls(**values, **(self.options or {}))

    def resolved(self) -> PruneSettings:
        """A copy with the method's defaults filled in and every value checked."""
        defaults = self.method_class().Settings()
        s = PruneSettings(**asdict(self))
        s.granularity = tuple(self.granularity) if self.granularity else defaults.granularity
        s.norm = defaults.norm if self.norm is None else self.norm
        s.scope = self.scope or defaults.scope
        s.rate = defaults.rate if self.rate is None else float(self.rate)
        s.floor = defaults.floor if self.floor is None else self.floor
        s.make_method()   # the method checks its own settings
        require(0 < s.target_sparsity < 1, "target_sparsity", s.target_sparsity,
                "must be in (0, 1)")
        require(s.rounds >= 0, "rounds", s.rounds, "must be >= 0")
        require(s.epochs >= 1, "epochs", s.epochs, "must be >= 1")
        require(s.rewind_epochs >= 0, "rewind_epochs", s.rewind_epochs, "must be >= 0")
        require(s.tolerance >= 0, "tolerance", s.tolerance, "must be >= 0")
        require(s.width > 0, "width", s.width, "must be > 0")
        require(s.threads >= 1, "threads", s.threads, "must be >= 1")
        return s

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the folder it resumes."""
        d = asdict(self)
        for k in STOP_SETTINGS:
            d.pop(k)
        if not d["options"]:
            d.pop("options")
        return d


__all__ = ["METHOD_SETTINGS", "STOP_SETTINGS", "PruneSettings"]
