"""``pim_prune``: PIM-Prune-style pruning (Chu et al., DAC 2020).

Row and column vectors inside crossbar blocks, compacted with index tables, fine-tuned rather than
rewound: the same structures as ReaLPrune without the lottery ticket.
"""

from __future__ import annotations

from pruning.methods.round_method import FineTuneMethod, RoundSettings


class PimPrune(FineTuneMethod):
    name = "pim_prune"
    description = ("PIM-Prune-style row/column vectors in crossbar blocks, compacted, "
                   "fine-tuned")
    Settings = RoundSettings
