"""pruning: the PyTorch front-end — models, data, training, crossbar-aware pruning and export.

It builds layout bundles for :mod:`rram_sim` (which never imports this package or torch). One
home per concern:

- models, data, training, checkpoints, masks: :mod:`pruning.models`, :mod:`pruning.data`,
  :mod:`pruning.train`, :mod:`pruning.checkpoint`, :mod:`pruning.masks`;
- ``torch.fx`` tracing and BatchNorm folding: :mod:`pruning.tracing`;
- channel coupling across residual adds: :mod:`pruning.coupling`;
- group granularities (one module each, a registry): :mod:`pruning.granularities`; the groups,
  their scores and removal: :mod:`pruning.groups`;
- pruning methods (one module each, a registry): :mod:`pruning.methods`; the round runner of
  ReaLPrune and its baselines: :mod:`pruning.realprune` (run folders: :mod:`pruning.rounds`,
  crossbar figures of a mask: :mod:`pruning.hardware`); AUTO-PRUNE's search:
  :mod:`pruning.autoprune`;
- export to a bundle: :mod:`pruning.export`; layers run on simulated crossbars:
  :mod:`pruning.xbar_layers`; the ``rram-prune`` command line: :mod:`pruning.cli`; the demo:
  :mod:`pruning.demo`.
"""

__version__ = "0.1.0"
