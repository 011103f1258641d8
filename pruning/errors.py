"""Errors the front-end raises for user mistakes.

They subclass :class:`rram_sim.errors.RramSimError`, so the ``rram-prune`` command line prints them
as one line on stderr and exits with status 2, exactly like ``rram-sim``.
"""

from rram_sim.errors import RramSimError


class PruningError(RramSimError, ValueError):
    """Base class of the front-end's user-facing errors."""


class ModelError(PruningError):
    """An unknown model name or a model that cannot be built for the requested input."""


class DataError(PruningError):
    """A dataset is unknown, missing from disk, or in an unsupported format."""


class MaskError(PruningError):
    """A mask does not match the model (unknown parameter, wrong shape, wrong dtype)."""


class CheckpointError(PruningError):
    """A checkpoint is missing, corrupt, or was written by incompatible settings."""


class ExportError(PruningError):
    """A model contains a module or operation the crossbar export cannot represent."""


def require(ok: bool, key: str, value: object, rule: str) -> None:
    """Raise :class:`PruningError` ``"KEY=VALUE: RULE"`` unless ``ok`` (settings checks)."""
    if not ok:
        raise PruningError(f"{key}={value!r}: {rule}")
