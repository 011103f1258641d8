"""Error types raised for user mistakes.

Every error a user can cause by a bad file, flag or value is one of these. The command-line
tools print the message on one line and exit with status 2; anything else is a bug and keeps its
traceback.
"""


class RramSimError(Exception):
    """Base class of all user-facing errors of the simulator."""


class ConfigError(RramSimError, ValueError):
    """A chip configuration is invalid. The message names the key path, the value and the rule."""


class MappingError(RramSimError, ValueError):
    """A layer cannot be mapped (unsupported shape, does not fit the chip, bad mask)."""


class LayoutError(RramSimError, ValueError):
    """A layout bundle is missing, corrupt, or of a newer format version."""
