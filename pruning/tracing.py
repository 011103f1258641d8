"""Tracing a model with ``torch.fx`` and folding BatchNorm into the conv before it.

The one home of both for the front-end: the export (:mod:`pruning.export`), channel coupling
(:mod:`pruning.coupling`), the crossbar-backed layers (:mod:`pruning.xbar_layers`) and the pruning
groups (:func:`pruning.groups.couple_batchnorm`) all trace and fold through this module.

- :func:`trace_graph` traces a model (no input needed); :func:`trace_shapes` also propagates the
  shapes of one input through it (in eval mode). A model ``torch.fx`` cannot trace raises
  :class:`~pruning.errors.ExportError`.
- The operations the crossbar front-end understands are recognised by :func:`is_add` (``+`` /
  ``torch.add``: a residual connection), :func:`is_relu` (``F.relu``, ``torch.relu``,
  ``x.relu()``; ``nn.ReLU`` is a module) and :func:`flatten_start` (``torch.flatten(x, d)``).
- A BatchNorm2d *folds* into a conv when it reads the conv's output and nothing else does
  (:func:`folded_conv`, :func:`conv_bn_pairs`); :func:`fold_batchnorm` computes the folded weight
  ``W' = W * g / sqrt(var + eps)`` per filter and bias ``b' = (b - mean) * g / sqrt(var + eps) +
  beta`` in float64.
"""

from __future__ import annotations

import operator

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from pruning.errors import ExportError

ADD_FUNCTIONS = (operator.add, torch.add, operator.iadd)
RELU_FUNCTIONS = (F.relu, torch.relu)
RELU_METHODS = ("relu", "relu_")


def trace_graph(model: nn.Module) -> fx.GraphModule:
    """The model's ``torch.fx`` graph (no shapes); :class:`ExportError` when it cannot be traced."""
    try:
        return fx.symbolic_trace(model)
    except Exception as exc:
        raise ExportError(f"model {type(model).__name__}: torch.fx cannot trace it "
                          f"({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from None


def trace_shapes(model: nn.Module, input_shape: tuple[int, ...]) -> fx.GraphModule:
    """The traced graph in eval mode, every node's ``tensor_meta`` filled for one input of shape
    ``input_shape`` (no batch dimension)."""
    gm = trace_graph(model)
    gm.eval()
    with torch.no_grad():
        ShapeProp(gm).propagate(torch.zeros((1, *input_shape)))
    return gm


def node_shape(node: fx.Node) -> tuple[int, ...]:
    """A node's output shape without the batch dimension (after :func:`trace_shapes`)."""
    return tuple(int(s) for s in node.meta["tensor_meta"].shape[1:])


def is_add(node: fx.Node) -> bool:
    """``a + b`` / ``torch.add(a, b)``: a residual add."""
    return node.op == "call_function" and node.target in ADD_FUNCTIONS


def is_relu(node: fx.Node) -> bool:
    """A functional or method ReLU (``nn.ReLU`` modules are ``call_module`` nodes)."""
    return (node.op == "call_function" and node.target in RELU_FUNCTIONS
            or node.op == "call_method" and node.target in RELU_METHODS)


def flatten_start(node: fx.Node) -> int | None:
    """The ``start_dim`` of a ``torch.flatten`` call, None for any other node."""
    if node.op != "call_function" or node.target is not torch.flatten:
        return None
    return node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)


def folded_conv(node: fx.Node, modules: dict[str, nn.Module]) -> fx.Node | None:
    """The conv node a BatchNorm2d node folds into: its input, when that is a Conv2d whose output
    nothing else reads; None otherwise (also for a node that is no BatchNorm2d)."""
    if node.op != "call_module" or not isinstance(modules.get(node.target), nn.BatchNorm2d):
        return None
    src = node.args[0] if node.args else None
    if (isinstance(src, fx.Node) and src.op == "call_module"
            and isinstance(modules.get(src.target), nn.Conv2d) and len(src.users) == 1):
        return src
    return None


def conv_bn_pairs(model: nn.Module) -> dict[str, str]:
    """``{conv module name: BatchNorm module name}`` for every BN that folds into a conv."""
    gm = trace_graph(model)
    mods = dict(model.named_modules())
    pairs = {}
    for node in gm.graph.nodes:
        conv = folded_conv(node, mods)
        if conv is not None:
            pairs[conv.target] = node.target
    return pairs


def fold_batchnorm(bn: nn.BatchNorm2d, weight: np.ndarray, bias: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The conv's ``(weight, bias)`` with ``bn`` folded in (float64; a missing bias is 0)."""
    g = bn.weight.detach().double().numpy() if bn.weight is not None else 1.0
    beta = bn.bias.detach().double().numpy() if bn.bias is not None else 0.0
    scale = g / np.sqrt(bn.running_var.double().numpy() + bn.eps)
    b = bias if bias is not None else 0.0
    w = weight * np.broadcast_to(scale, (weight.shape[0],))[:, None, None, None]
    return w, (b - bn.running_mean.double().numpy()) * scale + beta


__all__ = ["ADD_FUNCTIONS", "RELU_FUNCTIONS", "RELU_METHODS", "conv_bn_pairs", "flatten_start",
           "fold_batchnorm", "folded_conv", "is_add", "is_relu", "node_shape", "trace_graph",
           "trace_shapes"]
