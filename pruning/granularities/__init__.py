"""Pruning group granularities: which weights of a crossbar layer are removed together.

One module per granularity, each a :class:`~pruning.granularities.base.Granularity` subclass that
labels every position of a layer's unrolled ``[K, N]`` matrix with its group;
:mod:`pruning.granularities.registry` holds them by name (``get_granularity``,
``granularity_names``, ``register_granularity``) and :mod:`pruning.groups` turns them into the
groups every pruning method scores and removes. This package's ``__init__`` imports nothing, so
importing one of its modules never pulls in the others.
"""
