"""The crossbar model: the read plan (the one source of a layer's crossbar events), the Numba
kernels, the value paths, the lossy-ADC error bound and the weight update. The layer-level entry
points are in :mod:`rram_sim.kernels`."""
