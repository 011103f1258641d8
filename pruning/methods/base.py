"""The base of every pruning method: a named strategy object that owns its settings.

A method is a class, never a bundle of flags: what distinguishes two methods is which hooks they
override (how groups are scored, where survivors restart, how the rounds are scheduled), and what
they can be told lives in their own ``Settings`` dataclass. A subclass sets

- :attr:`PruningMethod.name` (the registry key) and :attr:`PruningMethod.description`;
- :attr:`PruningMethod.Settings`: a frozen dataclass whose defaults are the method's defaults,
  with an optional ``validate()`` that raises :class:`~pruning.errors.PruningError`;
- the hooks of its family: :class:`~pruning.methods.round_method.RoundMethod` for the round
  runner, :class:`ModelMethod` for a method that prunes a trained model once.

An instance holds validated settings: ``Method()`` takes the defaults, ``Method(settings)`` a
settings object, ``Method(rate=0.3)`` the defaults with some values replaced.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from pruning.errors import PruningError
from pruning.masks import Masks


@dataclass(frozen=True)
class NoSettings:
    """The settings of a method that takes none."""


class PruningMethod:
    """A pruning strategy: its name, its settings and the hooks of its family."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    family: ClassVar[str] = "pruning"
    Settings: ClassVar[type] = NoSettings

    def __init__(self, settings: Any = None, **overrides: Any) -> None:
        if settings is None:
            settings = self.Settings()
        elif not isinstance(settings, self.Settings):
            raise PruningError(f"method '{self.name}': settings must be a "
                               f"{self.Settings.__name__}, not {type(settings).__name__}")
        settings = self.replace_settings(settings, **overrides)
        validate = getattr(settings, "validate", None)
        if validate is not None:
            validate()
        self.settings = settings

    @classmethod
    def setting_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls.Settings)]

    @classmethod
    def replace_settings(cls, settings: Any, **values: Any) -> Any:
        """``settings`` with ``values`` replaced; an unknown key is refused with the list of
        known ones."""
        known = cls.setting_names()
        unknown = [k for k in values if k not in known]
        if unknown:
            raise PruningError(f"method '{cls.name}': unknown setting '{unknown[0]}' (known: "
                               f"{', '.join(known) or 'none'})")
        return dataclasses.replace(settings, **values) if values else settings

    def __repr__(self) -> str:
        return f"<{self.family} method {self.name}: {self.settings}>"


@dataclass
class PrunedModel:
    """What a :class:`ModelMethod` returns (AUTO-PRUNE's result has these attributes too)."""

    model: nn.Module                 # the pruned (and possibly fine-tuned) model
    masks: Masks
    ratios: dict[str, float]         # fraction of each layer's groups removed


class ModelMethod(PruningMethod, ABC):
    """A method that prunes an already-trained model once (AUTO-PRUNE, uniform ratios)."""

    family: ClassVar[str] = "trained-model"

    @abstractmethod
    def prune(self, model: nn.Module, data: Any, cfg: Any, out: Any = None, **kwargs: Any
              ) -> PrunedModel:
        """Prune ``model`` (trained on ``data``) for chip ``cfg``; ``out`` is a folder for the
        method's files (a method that writes none ignores it). Returns an object with at least
        the attributes of :class:`PrunedModel`."""


__all__ = ["ModelMethod", "NoSettings", "PrunedModel", "PruningMethod"]
