"""The mapping-scheme registry: scheme name -> :class:`~rram_sim.schemes.base.MappingScheme`."""

from __future__ import annotations

from rram_sim.errors import MappingError
from rram_sim.schemes.base import MappingScheme

# name -> scheme, in registration order (the order error messages and --scheme choices list).
SCHEME_REGISTRY: dict[str, MappingScheme] = {}


def register_scheme(scheme: MappingScheme) -> MappingScheme:
    """Add ``scheme`` (a :class:`MappingScheme` instance) under ``scheme.name``; returns it."""
    if not isinstance(scheme, MappingScheme):
        raise MappingError(f"scheme {scheme!r}: must be a MappingScheme instance")
    if not scheme.name or scheme.name in SCHEME_REGISTRY:
        raise MappingError(f"scheme name {scheme.name!r}: must be a new, non-empty name "
                           f"(registered: {', '.join(SCHEME_REGISTRY)})")
    SCHEME_REGISTRY[scheme.name] = scheme
    return scheme


def scheme_names() -> tuple[str, ...]:
    """Names of the registered schemes, in registration order."""
    return tuple(SCHEME_REGISTRY)


def scheme_of(name: str, where: str = "") -> MappingScheme:
    """The scheme registered as ``name``; a :class:`MappingError` listing the known names
    otherwise (prefixed by ``where``, e.g. ``"layer 'fc'"``)."""
    if not isinstance(name, str) or name not in SCHEME_REGISTRY:
        prefix = f"{where}: " if where else ""
        raise MappingError(f"{prefix}scheme={name!r} must be one of {', '.join(SCHEME_REGISTRY)}")
    return SCHEME_REGISTRY[name]
