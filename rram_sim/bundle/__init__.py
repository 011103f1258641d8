"""Layout bundles: a whole mapped network on disk — what the front-end hands the simulator.

A bundle holds the chip configuration it was mapped for, every layer's :class:`LayerLayout`, the
:class:`~rram_sim.placement.Placement` of their crossbars, the network graph (how layers, pools and
activations connect, :mod:`rram_sim.graph`), optional golden test vectors (a layer's real input
and its float and exactly-quantized reference outputs) with which the simulator checks itself, and
an optional evaluation set (labelled test samples, :mod:`.evalset`) on which
:mod:`rram_sim.accuracy` measures the network's accuracy on the crossbars.

On disk a bundle is a directory with two files: ``manifest.json`` (everything that is not an array)
and ``arrays.npz`` (every array, uncompressed, loaded with ``allow_pickle=False``).

One module per concern: :mod:`.types` (the data types and file names), :mod:`.build`
(:func:`map_network`), :mod:`.golden` (:func:`golden_from_numpy`), :mod:`.save`
(:func:`save_bundle`), :mod:`.evalset` (:class:`EvalSet`) and :mod:`.load` (:func:`load_bundle`
and its checks). Import the names from here: ``from rram_sim.bundle import Bundle, load_bundle``.
"""

from rram_sim.bundle.build import map_network
from rram_sim.bundle.evalset import NO_EVAL_SET, EvalSet
from rram_sim.bundle.golden import golden_from_numpy
from rram_sim.bundle.load import load_bundle
from rram_sim.bundle.save import save_bundle
from rram_sim.bundle.types import (
    ARRAYS,
    BUNDLE_FORMAT_VERSION,
    LAYER_ARRAYS,
    MANIFEST,
    Bundle,
    Golden,
)
from rram_sim.graph import GraphNode, check_graph, default_graph

__all__ = ["ARRAYS", "BUNDLE_FORMAT_VERSION", "LAYER_ARRAYS", "MANIFEST", "NO_EVAL_SET", "Bundle",
           "EvalSet", "Golden", "GraphNode", "check_graph", "default_graph", "golden_from_numpy",
           "load_bundle", "map_network", "save_bundle"]
