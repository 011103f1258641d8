"""The method registry: every pruning method by name.

The built-in methods are listed below, one module each (open_lth's layout: the registry imports
the strategies, a strategy imports only the base it extends). :func:`register_method` adds another
at run time (a plugin, a test). Lookups take the family a caller can run — the round runner asks
for :class:`~pruning.methods.round_method.RoundMethod`, a trained-model caller for
:class:`~pruning.methods.base.ModelMethod` — and an unknown name is refused with the known ones.
"""

from __future__ import annotations

from pruning.errors import PruningError
from pruning.methods.autoprune import AutoPrune
from pruning.methods.base import PruningMethod
from pruning.methods.crossbar import CrossbarBlocks
from pruning.methods.filter_l1 import FilterL1
from pruning.methods.filter_l1_iterative import FilterL1Iterative
from pruning.methods.lottery import Lottery
from pruning.methods.pim_prune import PimPrune
from pruning.methods.random_control import RandomControl
from pruning.methods.realprune import ReaLPrune
from pruning.methods.uniform import Uniform

BUILTIN: tuple[type[PruningMethod], ...] = (
    ReaLPrune, Lottery, FilterL1, FilterL1Iterative, CrossbarBlocks, PimPrune, RandomControl,
    AutoPrune, Uniform)

METHODS: dict[str, type[PruningMethod]] = {m.name: m for m in BUILTIN}


def register_method(cls: type[PruningMethod]) -> type[PruningMethod]:
    """Add a method class (usable as a class decorator): a named :class:`PruningMethod` subclass
    whose default settings are valid, under a new name."""
    if not (isinstance(cls, type) and issubclass(cls, PruningMethod)) or not cls.name:
        raise PruningError(f"method {cls!r}: must be a named PruningMethod subclass")
    if cls.name in METHODS:
        raise PruningError(f"method '{cls.name}': already registered")
    try:
        cls()          # the defaults must validate
    except PruningError as exc:
        raise PruningError(f"method '{cls.name}': invalid default settings ({exc})") from None
    METHODS[cls.name] = cls
    return cls


def unregister_method(name: str) -> None:
    """Remove a method added by :func:`register_method` (built-ins stay)."""
    if any(m.name == name for m in BUILTIN):
        raise PruningError(f"method '{name}': built in, cannot be removed")
    METHODS.pop(name, None)


def method_names(kind: type[PruningMethod] = PruningMethod) -> list[str]:
    """Names of the registered methods of family ``kind`` (default: all), in registry order."""
    return [n for n, m in METHODS.items() if issubclass(m, kind)]


def get_method(name: str, kind: type[PruningMethod] = PruningMethod) -> type[PruningMethod]:
    """The method class called ``name``, of family ``kind``; :class:`PruningError` naming the
    known ones otherwise."""
    cls = METHODS.get(name)
    if cls is None:
        raise PruningError(f"method '{name}': unknown (known: {', '.join(method_names(kind))})")
    if not issubclass(cls, kind):
        raise PruningError(f"method '{name}': not a {kind.family} method ({kind.family} methods: "
                           f"{', '.join(method_names(kind))})")
    return cls


__all__ = ["BUILTIN", "METHODS", "get_method", "method_names", "register_method",
           "unregister_method"]
