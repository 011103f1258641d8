"""``lottery``: the unstructured lottery ticket (Frankle and Carbin, 2019).

Single weights ranked globally by magnitude, 20 % of the remaining weights per round, survivors
rewound. It removes the most weights at a given accuracy but frees almost no crossbar rows or
columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from pruning.methods.round_method import RoundMethod, RoundSettings


@dataclass(frozen=True)
class LotterySettings(RoundSettings):
    granularity: tuple[str, ...] = ("unstructured",)
    scope: str = "global"


class Lottery(RoundMethod):
    name = "lottery"
    description = "unstructured lottery ticket: global magnitude, 20 % per round, rewinding"
    Settings = LotterySettings
