"""Mapping schemes: how a layer's weight matrix is cut into crossbar units (a registry by name).

Contract in :mod:`rram_sim.schemes.base`; one scheme per file, registered here:

- ``dense`` (:mod:`~rram_sim.schemes.dense`): the matrix tiled as is, one unit per crossbar;
- ``compact`` (:mod:`~rram_sim.schemes.compact`): zero rows and columns squeezed out, one unit
  per crossbar with its index tables;
- ``ou`` (:mod:`~rram_sim.schemes.ou`, AUTO-PRUNE): OU-sized units, several per crossbar, each
  with its own index lists;
- ``kernel_rows`` (:mod:`~rram_sim.schemes.kernel_rows`, MNSIM 2.0's layout): whole kernels per
  crossbar's rows, bit slices spread over as many crossbars as MNSIM's one-slice arrays.

A new scheme is one file with a :class:`MappingScheme` subclass plus its entry in
``BUILTIN_SCHEMES`` below (or one :func:`register_scheme` call from user code).
:mod:`rram_sim.mapping` does the rest (quantization, cells, figures); the datapath's index tables
are in :mod:`rram_sim.schemes.index_tables`.

Nothing here imports :mod:`rram_sim.layout` or :mod:`rram_sim.mapping` at run time, so both (and
the kernels) can import this package.
"""

from __future__ import annotations

from rram_sim.schemes.base import MappingScheme, Placement
from rram_sim.schemes.compact import CompactScheme
from rram_sim.schemes.dense import DenseScheme
from rram_sim.schemes.index_tables import index_lookups_per_vector, unit_tables
from rram_sim.schemes.kernel_rows import KernelRowsScheme
from rram_sim.schemes.ou import OuScheme, ou_logical_cols
from rram_sim.schemes.packing import pack_nonzero, pack_units
from rram_sim.schemes.registry import SCHEME_REGISTRY, register_scheme, scheme_names, scheme_of

# Registration order is the order error messages and command-line choices list the names in.
BUILTIN_SCHEMES = (DenseScheme(), CompactScheme(), OuScheme(), KernelRowsScheme())
for _scheme in BUILTIN_SCHEMES:
    register_scheme(_scheme)

__all__ = ["BUILTIN_SCHEMES", "SCHEME_REGISTRY", "CompactScheme", "DenseScheme", "KernelRowsScheme",
           "MappingScheme",
           "OuScheme", "Placement", "index_lookups_per_vector", "ou_logical_cols", "pack_nonzero",
           "pack_units", "register_scheme", "scheme_names", "scheme_of", "unit_tables"]
