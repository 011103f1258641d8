"""``crossbar``: whole crossbar blocks of the dense mapping removed by norm, fine-tuned."""

from __future__ import annotations

from dataclasses import dataclass

from pruning.methods.round_method import FineTuneMethod, RoundSettings


@dataclass(frozen=True)
class CrossbarSettings(RoundSettings):
    granularity: tuple[str, ...] = ("crossbar",)


class CrossbarBlocks(FineTuneMethod):
    name = "crossbar"
    description = "whole crossbar blocks by norm, iterative, fine-tuned"
    Settings = CrossbarSettings
