"""rram_sim: a cycle-level ReRAM crossbar accelerator simulator.

Consumes layout bundles (mapped, possibly pruned CNN layers) and a chip configuration; computes the
values the crossbars produce (Numba/BLAS kernels) and the time and energy they take (a SimPy
discrete-event model). Independent of any deep-learning framework: it never imports torch.
"""

__version__ = "0.1.0"
