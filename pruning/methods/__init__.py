"""Pruning methods: one strategy object per method, looked up by name.

Every method is a :class:`~pruning.methods.base.PruningMethod` subclass in a module of its own: a
name, a one-line description, a frozen ``Settings`` dataclass holding everything the method can be
told (with its defaults), and the hooks of its family:

- :class:`~pruning.methods.round_method.RoundMethod`: a method the round runner
  (:mod:`pruning.realprune`) executes — ReaLPrune and its baselines (``realprune``, ``lottery``,
  ``filter_l1``, ``filter_l1_iterative``, ``crossbar``, ``pim_prune``, ``random``);
- :class:`~pruning.methods.base.ModelMethod`: a method that prunes an already-trained model once —
  ``autoprune`` (AUTO-PRUNE's reinforcement-learned per-layer ratios) and ``uniform`` (one ratio
  for every layer).

:mod:`pruning.methods.registry` holds them by name (``get_method``, ``method_names``,
``register_method``). This package's ``__init__`` imports nothing, so importing one of its modules
never pulls in the others.
"""
