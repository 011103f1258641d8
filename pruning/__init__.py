"""pruning: the PyTorch front-end — models, data, training, crossbar-aware pruning and export.

It builds layout bundles for :mod:`rram_sim` (which never imports this package or torch).
"""

__version__ = "0.1.0"
