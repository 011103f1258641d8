"""The granularity registry: every group granularity by name.

The built-in granularities are listed below, one module each; :func:`register_granularity` adds
another at run time (a plugin, a test). Lookups of an unknown name raise
:class:`~pruning.errors.PruningError` naming the known ones. The order of :func:`granularity_names`
is the order of the registry: the OU-aligned vectors AUTO-PRUNE uses by default, then the
granularities from the finest to the coarsest.
"""

from __future__ import annotations

from pruning.errors import PruningError
from pruning.granularities.base import CONSUMERS, PRODUCERS, Granularity
from pruning.granularities.channel import Channel
from pruning.granularities.col_segment import ColSegment
from pruning.granularities.crossbar import Crossbar
from pruning.granularities.filter import Filter
from pruning.granularities.index import Index
from pruning.granularities.kernel import Kernel
from pruning.granularities.ou import Ou
from pruning.granularities.ou_column import OuColumn
from pruning.granularities.ou_row import OuRow
from pruning.granularities.row_segment import RowSegment
from pruning.granularities.unstructured import Unstructured

BUILTIN: tuple[type[Granularity], ...] = (
    OuRow, OuColumn, Unstructured, Kernel, Index, Channel, Filter, RowSegment, ColSegment, Ou,
    Crossbar)

GRANULARITIES: dict[str, type[Granularity]] = {g.name: g for g in BUILTIN}


def register_granularity(cls: type[Granularity]) -> type[Granularity]:
    """Add a granularity class (usable as a class decorator); its name must be new."""
    if not (isinstance(cls, type) and issubclass(cls, Granularity)) or not cls.name:
        raise PruningError(f"granularity {cls!r}: must be a named Granularity subclass")
    if cls.name in GRANULARITIES:
        raise PruningError(f"granularity '{cls.name}': already registered")
    if cls.couples not in (None, PRODUCERS, CONSUMERS):
        raise PruningError(f"granularity '{cls.name}': couples={cls.couples!r} must be None, "
                           f"'{PRODUCERS}' or '{CONSUMERS}'")
    GRANULARITIES[cls.name] = cls
    return cls


def unregister_granularity(name: str) -> None:
    """Remove a granularity added by :func:`register_granularity` (built-ins stay)."""
    if any(g.name == name for g in BUILTIN):
        raise PruningError(f"granularity '{name}': built in, cannot be removed")
    GRANULARITIES.pop(name, None)


def granularity_names() -> list[str]:
    return list(GRANULARITIES)


def get_granularity(name: str) -> Granularity:
    """The granularity called ``name``; :class:`PruningError` naming the known ones if none is."""
    cls = GRANULARITIES.get(name)
    if cls is None:
        raise PruningError(f"granularity '{name}': unknown (known: "
                           f"{', '.join(GRANULARITIES)})")
    return cls()


def coupling_names() -> list[str]:
    """The granularities residual coupling can join: filters (producers) first, then input
    channels (consumers)."""
    gs = list(GRANULARITIES.values())
    return ([g.name for g in gs if g.couples == PRODUCERS]
            + [g.name for g in gs if g.couples == CONSUMERS])


__all__ = ["BUILTIN", "GRANULARITIES", "coupling_names", "get_granularity", "granularity_names",
           "register_granularity", "unregister_granularity"]
