"""``realprune``: ReaLPrune, crossbar-aware lottery-ticket pruning for on-chip training.

ReaLPrune (Joardar et al., arXiv 2111.09272) looks for a *winning ticket* — a sparse sub-network
that trains from its initial weights to the dense model's accuracy — whose surviving weights occupy
as few ReRAM crossbars as possible in the layout used for **training**. On a training chip the
forward pass and the error back-propagation read the same cells (the transposed read drives the
columns and senses the rows), so a crossbar row or column only frees hardware if it is empty in
both directions. ReaLPrune therefore prunes whole *crossbar row segments* (the weights of one
wordline inside one crossbar block) and whole *crossbar column segments* (one bitline group inside
one block): an empty row segment is an input never driven forward and an output never converted
backward, an empty column segment the reverse, and the survivors of a block compact into a smaller
dense rectangle; a block whose row or column segments are all gone is a whole crossbar freed.

Each round scores the segments of the previous round's trained weights by their norm, removes the
lowest ``rate`` of those still present (the two kinds take turns) and rewinds the survivors to the
rewind point: :class:`~pruning.methods.round_method.RoundMethod`'s defaults, which are this
method's. The rounds, the stop rule and the resumable run folder are the round runner's
(:mod:`pruning.realprune`).
"""

from __future__ import annotations

from pruning.methods.round_method import RoundMethod, RoundSettings


class ReaLPrune(RoundMethod):
    name = "realprune"
    description = "ReaLPrune: crossbar row and column segments by norm, lottery-ticket rewinding"
    Settings = RoundSettings
