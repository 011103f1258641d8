"""Design-space sweeps: networks simulated on a grid of chips, resumable, serial or in parallel.

A sweep file (YAML) names a base chip, a grid over chip parameters, the layout bundles to run and
the mapping schemes and passes::

    chip: edge                        # preset name or chip YAML (relative to this file)
    grid:                             # dotted config paths; the sweep runs their product
      adc.bits: [5, 6]
      ou.rows/ou.cols: [[8, 8], [16, 16]]   # tied keys: one list of value tuples
    bundles:                          # bundle directories (relative to this file) or example:NAME
      - example:compact
      - {name: pruned, path: out/demo/bundles/realprune}
    schemes: [dense, compact]         # default: each bundle's own scheme
    passes: [inference, training]     # default: [inference]
    batch: {inference: 1}             # images per run (training default: training.batch_size)
    allow_multi_chip: false           # spill onto further chips instead of skipping the point
    placement: none                   # copies per layer: none, balance or balance_training

**Re-mapping.** A bundle was mapped for one chip; at every point its weights are re-mapped for the
point's chip. The bundle stores the quantized integer weights (:func:`rram_sim.mapping.unmap`) and
each layer's scale, so the real weights are ``q * weight_scale`` and the mask is ``q != 0``; these,
the biases, the graph and the replication go through :func:`rram_sim.bundle.map_network`. With the
bundle's ``precision.weight_bits`` the integers are reproduced exactly; with other bits they are
re-quantized from those values. A pruning run enters a sweep through the bundle it exported.

**Points and results.** A point is (chip parameters, bundle, scheme); its key is
``CONFIGHASH-BUNDLE-SCHEME``. Each finished point is appended as one JSON line to
``DIR/results.jsonl`` the moment it returns; at the end the rows of the sweep's points are
rewritten in grid order to ``results.jsonl`` and ``results.csv`` and the Pareto figure
``pareto.png`` is drawn (:func:`rram_sim.plot.pareto`: energy vs latency, marker area by chip area;
with accuracies, accuracy against energy and against latency, the front taken over all three).
When a bundle carries an eval set (``rram-prune export --eval-samples N``), each row also holds
``accuracy`` (top-1 on the point's crossbars, :mod:`rram_sim.accuracy`) and ``accuracy_exact``
(the exact quantized network at the point's precision); both are empty otherwise. Points already in
``results.jsonl`` are skipped, so a killed sweep resumes where it stopped. A point whose chip is
invalid (:class:`ConfigError`), whose network does not fit (:class:`MappingError`) or that asks
for a pass the chip cannot run is recorded with ``status: skipped`` and the one-line reason.

**Backends.** ``serial`` runs in this process; ``process`` a local pool (``multiprocessing``
*spawn* context, ``NUMBA_NUM_THREADS=1`` in each worker so workers do not oversubscribe the
cores); ``dask`` a Dask distributed cluster (a scheduler address, or a ``LocalCluster`` of worker
processes). Every backend runs the same pure function per point, so results are identical.
"""

from rram_sim.sweep.point import remap, run_point
from rram_sim.sweep.runner import SweepResult, csv_text, read_results, run_sweep
from rram_sim.sweep.spec import (
    ACCURACY_FIELDS,
    BACKENDS,
    METRIC_FIELDS,
    PASSES,
    SweepSpec,
    load_spec,
    parse_spec,
    points,
)

__all__ = ["ACCURACY_FIELDS", "BACKENDS", "METRIC_FIELDS", "PASSES", "SweepResult", "SweepSpec",
           "csv_text", "load_spec", "parse_spec", "points", "read_results", "remap", "run_point",
           "run_sweep"]
