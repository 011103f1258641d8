"""``filter_l1_iterative``: filter pruning by L1 norm (Li et al., 2017) over rounds.

The same filters as ``filter_l1``, removed ``rate`` per round, fine-tuning after each.
"""

from __future__ import annotations

from pruning.methods.filter_l1 import FilterSettings
from pruning.methods.round_method import FineTuneMethod


class FilterL1Iterative(FineTuneMethod):
    name = "filter_l1_iterative"
    description = "filter pruning by L1 norm, iterative, fine-tuned each round"
    Settings = FilterSettings
