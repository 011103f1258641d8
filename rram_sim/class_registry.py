"""A registry of classes by name, behind a config key: the shared mechanism of the ADC-model and
NoC-topology registries (one validation rule, one error message per failure)."""

from __future__ import annotations

from rram_sim.errors import ConfigError


class ClassRegistry:
    """``classes`` maps name -> class in registration order; the chip config validates the key
    against this very dict, so a class registered at run time is accepted at once."""

    def __init__(self, what: str, base: type, config_key: str) -> None:
        self.what, self.base, self.config_key = what, base, config_key
        self.classes: dict[str, type] = {}

    def register(self, cls: type) -> type:
        """Add ``cls`` (a subclass of the base) under ``cls.name``; returns it."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise ConfigError(f"{self.what} {cls!r}: must be a subclass of "
                              f"{self.base.__name__}")
        if not cls.name or cls.name in self.classes:
            raise ConfigError(f"{self.what} name {cls.name!r}: must be a new, non-empty name "
                              f"(registered: {', '.join(self.classes)})")
        self.classes[cls.name] = cls
        return cls

    def names(self) -> list[str]:
        """Names accepted by the config key, in registration order."""
        return list(self.classes)

    def get(self, name: str) -> type:
        """The class registered as ``name``; a :class:`ConfigError` naming the key otherwise."""
        if not isinstance(name, str) or name not in self.classes:
            raise ConfigError(f"{self.config_key}={name!r}: must be one of "
                              f"{', '.join(self.classes)}")
        return self.classes[name]
