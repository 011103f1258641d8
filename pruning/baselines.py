"""Baselines ReaLPrune is compared with, as registrations of the same round runner.

Every method below runs through :func:`pruning.realprune.run` with the same groups machinery
(:mod:`pruning.groups`), the same data, the same epochs per round and the same number of rounds, so
they differ only in *what* is removed together and *how* the survivors are trained:

- ``lottery``: the unstructured lottery ticket (Frankle and Carbin, 2019) — single weights ranked
  globally by magnitude, 20 % of the remaining weights per round, survivors rewound. Removes the
  most weights at a given accuracy but frees almost no crossbar rows or columns.
- ``filter_l1``: filter pruning by L1 norm (Li et al., 2017), one shot to the target sparsity,
  then fine-tuned for the whole training budget (``rounds x epochs``).
- ``filter_l1_iterative``: the same filters removed over rounds, fine-tuning after each.
- ``crossbar``: whole crossbar blocks of the dense mapping removed by norm, fine-tuned.
- ``pim_prune``: PIM-Prune-style (Chu et al., DAC 2020) row and column vectors inside crossbar
  blocks, compacted with index tables, fine-tuned rather than rewound: the same structures as
  ReaLPrune without the lottery ticket.
- ``random``: ReaLPrune's groups and rates, but the groups removed chosen at random (seeded) —
  the lottery-ticket control: if it does as well, the magnitude ranking is not what matters.

A new method is one :func:`~pruning.realprune.register_method` call.
"""

from __future__ import annotations

from pruning.realprune import METHODS, Method, register_method

BASELINES: tuple[Method, ...] = (
    Method("lottery", "unstructured lottery ticket: global magnitude, 20 % per round, rewinding",
           granularity=("unstructured",), scope="global", rate=0.2),
    Method("filter_l1", "filter pruning by L1 norm, one shot to the target, fine-tuned",
           granularity=("filter",), rewind=False, one_shot=True),
    Method("filter_l1_iterative", "filter pruning by L1 norm, iterative, fine-tuned each round",
           granularity=("filter",), rewind=False),
    Method("crossbar", "whole crossbar blocks by norm, iterative, fine-tuned",
           granularity=("crossbar",), rewind=False),
    Method("pim_prune", "PIM-Prune-style row/column vectors in crossbar blocks, compacted, "
           "fine-tuned", granularity=("row_segment", "col_segment"), rewind=False),
    Method("random", "random choice of ReaLPrune's groups at ReaLPrune's rates, rewinding "
           "(lottery-ticket control)", granularity=("row_segment", "col_segment"),
           random_scores=True),
)

for _m in BASELINES:
    if _m.name not in METHODS:
        register_method(_m)
