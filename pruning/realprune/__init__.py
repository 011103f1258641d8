"""ReaLPrune and its baselines, run round by round.

The round runner executes every :class:`~pruning.methods.round_method.RoundMethod` of the method
registry (:mod:`pruning.methods.registry`): ReaLPrune (:mod:`pruning.methods.realprune`, Joardar
et al., arXiv 2111.09272: crossbar row and column segments, lottery-ticket rewinding) and the
baselines it is compared with (``lottery``, ``filter_l1``, ``filter_l1_iterative``, ``crossbar``,
``pim_prune``, ``random``), with the same groups machinery, data, epochs per round and rounds. One
concern per module:

- :mod:`~pruning.realprune.settings`: :class:`PruneSettings`, a run's identity;
- :mod:`~pruning.realprune.runner`: the rounds (:func:`run`);
- :mod:`~pruning.realprune.stop`: the stop rule and the ticket;
- :mod:`~pruning.realprune.results`: :class:`PruneRun` and :func:`load_round_model`;
- the run folder every round is saved in (resume after a kill): :mod:`pruning.rounds`; the
  crossbar figures each round reports: :mod:`pruning.hardware`.

This ``__init__`` only re-exports the names below; the modules of this package never import it.
"""

from __future__ import annotations

from pruning.realprune.results import PruneRun, load_round_model
from pruning.realprune.runner import run
from pruning.realprune.settings import METHOD_SETTINGS, STOP_SETTINGS, PruneSettings
from pruning.realprune.stop import rounds_needed, ticket

__all__ = ["METHOD_SETTINGS", "STOP_SETTINGS", "PruneRun", "PruneSettings", "load_round_model",
           "rounds_needed", "run", "ticket"]
