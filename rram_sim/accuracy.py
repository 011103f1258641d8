"""Accuracy on the crossbars: the bundle's whole network evaluated in numpy, every ``conv`` and
``linear`` layer computed by the simulated crossbars, on the bundle's evaluation set.

:func:`network_outputs` walks the bundle's graph (:mod:`rram_sim.graph`) in order:

- a **crossbar op** (``conv``, ``linear``) quantizes its input per tensor over the batch
  (``precision.input_bits``, :func:`rram_sim.quant.quantize`), unrolls it (im2col) and, with
  ``mode="crossbar"``, runs it through the layer's mapped crossbars with the chip's DACs, cell
  slices, ADC model and shift-and-add (:func:`rram_sim.kernels.run_layer`, the kernels
  ``rram-sim verify`` checks); with ``mode="exact"`` it multiplies by the stored integer weights
  exactly (:func:`rram_sim.mapping.unmap`: the ideal quantized network, what a lossless ADC
  computes, the golden vectors' ``output_quantized`` rule). Both dequantize (input scale x weight
  scale) and add the bias.
- a **digital op** is computed in numpy: ``relu``; ``maxpool`` / ``avgpool`` (square windows,
  zero padding counted in the average as PyTorch's default ``count_include_pad=True`` does,
  ``-inf`` padding for the maximum; ``global``: over the whole map); ``add``; ``flatten``;
  ``softmax`` (over the features).

The evaluation set is cut into batches of ``batch_size`` samples (default 64, the front-end's data
loader batch), each run through the whole network; the activation scales are therefore those of
a batch, as in the front-end's crossbar-backed layers (``pruning.xbar_layers``). The top-1
accuracy is the fraction of samples whose largest output is their label (ties: the first class).

:func:`evaluate` returns both accuracies (crossbar and exact), their difference, how often the two
networks agree on the top-1 class, and the float model's accuracy the front-end stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rram_sim import kernels
from rram_sim.bundle.evalset import NO_EVAL_SET
from rram_sim.bundle.golden import quantized_output
from rram_sim.errors import LayoutError
from rram_sim.graph import pool_window
from rram_sim.mapping import unmap

MODES = ("crossbar", "exact")
DEFAULT_BATCH = 64          # samples per batch: the activation scales are per batch
DEFAULT_MAX_DROP = 0.01     # accuracy the crossbars may lose against the exact quantized network


@dataclass
class AccuracyResult:
    """Top-1 accuracies of one bundle on its evaluation set."""

    samples: int
    crossbar: float              # the network on the simulated crossbars (the chip's ADC model)
    exact: float                 # the ideal quantized network (exact integer products)
    agreement: float             # fraction of samples whose top-1 class is the same in both
    float_accuracy: float | None  # the float model's, as the front-end measured it (or None)
    index_unit: bool
    batch_size: int

    @property
    def drop(self) -> float:
        """Accuracy lost on the crossbars: exact - crossbar."""
        return self.exact - self.crossbar

    def kept(self, max_drop: float = DEFAULT_MAX_DROP) -> bool:
        """Whether the crossbars lose at most ``max_drop`` accuracy against the exact network."""
        return self.drop <= max_drop + 1e-12

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drop": self.drop}


def _pool(x: np.ndarray, params: dict[str, Any], op: str) -> np.ndarray:
    if params.get("global"):
        return (x.max(axis=(2, 3), keepdims=True) if op == "maxpool"
                else x.mean(axis=(2, 3), keepdims=True))
    kh, kw, sh, sw, ph, pw = pool_window(params)
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)),
                   constant_values=-np.inf if op == "maxpool" else 0.0)
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    win = win[:, :, :oh, :ow]
    return win.max(axis=(4, 5)) if op == "maxpool" else win.mean(axis=(4, 5))


def network_outputs(bundle: Any, x: np.ndarray, *, mode: str = "crossbar",
                    index_unit: bool = True, _weights: dict[str, np.ndarray] | None = None
                    ) -> np.ndarray:
    """The network's output (its graph's last node) for the batch ``x`` ``[B, *input shape]``,
    every crossbar op computed as ``mode`` says (see the module docstring)."""
    if mode not in MODES:
        raise LayoutError(f"mode={mode!r}: must be one of {', '.join(MODES)}")
    graph, cfg = bundle.graph, bundle.config
    if not graph:
        raise LayoutError("bundle: no network graph to evaluate")
    if sum(node.op == "input" for node in graph) != 1:
        raise LayoutError("bundle: the accuracy of a graph with more than one input node is not "
                          "defined (one input, one output)")
    weights = _weights if _weights is not None else _exact_weights(bundle, mode)
    last_use = {}
    for i, node in enumerate(graph):
        for src in node.inputs:
            last_use[src] = i
    vals: dict[str, np.ndarray] = {}
    x = np.asarray(x, dtype=np.float64)
    for i, node in enumerate(graph):
        ins = [vals[s] for s in node.inputs]
        op, p = node.op, node.params
        if op == "input":
            y = x
        elif op in ("conv", "linear"):
            layout = bundle.layer(node.name)
            if mode == "crossbar":
                y, _ = kernels.run_layer(layout, ins[0], cfg, index_unit=index_unit)
            else:
                y = quantized_output(layout.spec, weights[node.name], layout.weight_scale,
                                     layout.bias, ins[0], cfg)
        elif op == "relu":
            y = np.maximum(ins[0], 0.0)
        elif op in ("maxpool", "avgpool"):
            y = _pool(ins[0], p, op)
        elif op == "add":
            y = ins[0]
            for other in ins[1:]:
                y = y + other
        elif op == "flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif op == "softmax":
            z = ins[0] - ins[0].max(axis=1, keepdims=True)
            e = np.exp(z)
            y = e / e.sum(axis=1, keepdims=True)
        else:
            raise LayoutError(f"graph node {i} ('{node.name}'): op {op!r} has no numpy "
                              f"evaluation")
        vals[node.name] = y
        for src in node.inputs:          # free what no later node reads
            if last_use.get(src) == i:
                del vals[src]
    return vals[graph[-1].name]


def _exact_weights(bundle: Any, mode: str) -> dict[str, np.ndarray]:
    if mode != "exact":
        return {}
    return {lay.spec.name: unmap(lay, bundle.config).astype(np.float64) for lay in bundle.layers}


def predictions(bundle: Any, x: np.ndarray, *, mode: str = "crossbar", index_unit: bool = True,
                batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Top-1 class of every sample of ``x``, batch by batch (int64 ``[N]``)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise LayoutError(f"batch_size={batch_size!r}: must be an integer >= 1")
    weights = _exact_weights(bundle, mode)
    out = np.empty(len(x), dtype=np.int64)
    for b0 in range(0, len(x), batch_size):
        y = network_outputs(bundle, x[b0:b0 + batch_size], mode=mode, index_unit=index_unit,
                            _weights=weights)
        out[b0:b0 + batch_size] = np.argmax(y.reshape(y.shape[0], -1), axis=1)
    return out


def evaluate(bundle: Any, *, index_unit: bool = True, batch_size: int = DEFAULT_BATCH,
             where: str = "bundle") -> AccuracyResult:
    """Top-1 accuracy of ``bundle`` on its evaluation set, on the crossbars and exactly
    quantized. Raises LayoutError (naming ``where``) when the bundle has no eval set."""
    e = getattr(bundle, "eval_set", None)
    if e is None:
        raise LayoutError(f"{where} {NO_EVAL_SET}")
    problem = bundle.eval_set_problem()
    if problem:
        raise LayoutError(f"{where}: eval set: {problem}")
    xb = predictions(bundle, e.x, mode="crossbar", index_unit=index_unit, batch_size=batch_size)
    ex = predictions(bundle, e.x, mode="exact", batch_size=batch_size)
    return AccuracyResult(samples=int(len(e.labels)), crossbar=float(np.mean(xb == e.labels)),
                          exact=float(np.mean(ex == e.labels)),
                          agreement=float(np.mean(xb == ex)), float_accuracy=e.float_accuracy,
                          index_unit=index_unit, batch_size=batch_size)


__all__ = ["DEFAULT_BATCH", "DEFAULT_MAX_DROP", "MODES", "AccuracyResult", "evaluate",
           "network_outputs", "predictions"]
