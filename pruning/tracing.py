"""Tracing a model with ``torch.fx`` and folding BatchNorm into the conv before it.

The one home of both for the front-end: the export (:mod:`pruning.export`), channel coupling
(:mod:`pruning.coupling`), the crossbar-backed layers (:mod:`pruning.xbar_layers`) and the pruning
groups (:func:`pruning.groups.couple_batchnorm`) all trace and fold through this module.

- :func:`trace_graph` traces a model (no input needed); :func:`trace_shapes` also propagates the
  shapes of one input through it (in eval mode). A model ``torch.fx`` cannot trace raises
  :class:`~pruning.errors.ExportError`.
- The operations the crossbar front-end understands are recognised in their module, functional
  and tensor-method forms alike: :func:`is_add` (``+`` / ``torch.add``: a residual connection),
  :func:`is_relu` (``F.relu``, ``torch.relu``, ``x.relu()`` and their in-place forms;
  ``nn.ReLU`` is a module), :func:`pool_call` (``nn.MaxPool2d`` / ``F.max_pool2d`` /
  ``torch.max_pool2d``, ``nn.AvgPool2d`` / ``F.avg_pool2d``, ``nn.AdaptiveAvgPool2d`` /
  ``F.adaptive_avg_pool2d``: one :class:`PoolCall` whichever form), :func:`flatten_start`
  (``nn.Flatten`` aside: ``torch.flatten(x, d)``, ``x.flatten(d)``, and ``x.view`` /
  ``x.reshape`` / ``torch.reshape`` to ``(x.size(0), -1)`` or ``(x.shape[0], -1)``),
  :func:`reshape_dims` (the target of any ``view`` / ``reshape``, e.g. ``(-1, 512)``, which the
  export checks against the shapes), :func:`is_shape_node` (``x.size(...)``, ``x.shape[...]``:
  values only a reshape or a pooling size reads; :func:`shape_value` gives their number),
  :func:`global_mean` (``x.mean((2, 3))``: a global average pool) and :func:`is_dropout`
  (``F.dropout``: nothing at inference).
- A BatchNorm2d *folds* into a conv when it reads the conv's output and nothing else does
  (:func:`folded_conv`, :func:`conv_bn_pairs`); :func:`fold_batchnorm` computes the folded weight
  ``W' = W * g / sqrt(var + eps)`` per filter and bias ``b' = (b - mean) * g / sqrt(var + eps) +
  beta`` in float64.
"""

from __future__ import annotations

import inspect
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from pruning.errors import ExportError

ADD_FUNCTIONS = (operator.add, torch.add, operator.iadd)
RELU_FUNCTIONS = (F.relu, torch.relu, F.relu_, torch.relu_)
RELU_METHODS = ("relu", "relu_")
DROPOUT_FUNCTIONS = (F.dropout, F.dropout2d, F.alpha_dropout, F.feature_alpha_dropout)
RESHAPE_METHODS = ("view", "reshape")


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
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros((1, *input_shape)))
    except Exception as exc:   # a shape mismatch in the user's forward: one line, not a traceback
        cause = exc.__cause__ or exc
        node = getattr(exc, "node", None) or _failing_node(str(exc))
        at = f" at node '{node}'" if node else ""
        text = str(cause).splitlines()[0] if str(cause) else ""
        raise ExportError(f"model {type(model).__name__}: an input of shape "
                          f"{tuple(input_shape)} (one image) fails{at}: "
                          f"{type(cause).__name__}: {text}") from None
    return gm


def _failing_node(message: str) -> str | None:
    """The node name in torch.fx ShapeProp's "ShapeProp error for: node=%NAME ..." message."""
    marker = "node=%"
    if marker not in message:
        return None
    return message.split(marker, 1)[1].split(" ", 1)[0]


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


def is_dropout(node: fx.Node) -> bool:
    """``F.dropout`` and its kin (an identity at inference; ``nn.Dropout`` is a module)."""
    return node.op == "call_function" and node.target in DROPOUT_FUNCTIONS


def is_shape_node(node: fx.Node) -> bool:
    """``x.size()``, ``x.size(d)``, ``x.shape``, ``x.dim()`` and an index into one of them: values
    a reshape reads, not tensors."""
    if node.op == "call_method" and node.target in ("size", "dim"):
        return True
    if node.op == "call_function" and node.target is getattr:
        return len(node.args) > 1 and node.args[1] == "shape"
    if node.op == "call_function" and node.target is operator.getitem:
        a = node.args[0] if node.args else None
        return isinstance(a, fx.Node) and is_shape_node(a)
    return False


def _is_batch_size(a: Any) -> bool:
    """``x.size(0)``, ``x.size()[0]`` or ``x.shape[0]`` (the batch dimension of some tensor)."""
    if not isinstance(a, fx.Node):
        return False
    if a.op == "call_method" and a.target == "size":
        dim = a.args[1] if len(a.args) > 1 else a.kwargs.get("dim")
        return dim == 0
    if a.op == "call_function" and a.target is operator.getitem and a.args[1] == 0:
        b = a.args[0]
        return isinstance(b, fx.Node) and (
            b.op == "call_method" and b.target == "size" and len(b.args) == 1 and not b.kwargs
            or b.op == "call_function" and b.target is getattr and b.args[1] == "shape")
    return False


def shape_value(a: Any) -> Any:
    """The number a shape expression stands for — ``x.size(d)``, ``x.size()[d]``, ``x.shape[d]``
    for a non-batch ``d`` (after :func:`trace_shapes`) — or ``a`` itself when it is none (an
    int, a tuple, a batch size). ``F.avg_pool2d(x, x.size(3))`` then pools with a number."""
    if not isinstance(a, fx.Node):
        return a
    src, dim = None, None
    if a.op == "call_method" and a.target == "size" and len(a.args) + len(a.kwargs) == 2:
        src, dim = a.args[0], a.args[1] if len(a.args) > 1 else a.kwargs.get("dim")
    elif a.op == "call_function" and a.target is operator.getitem and isinstance(a.args[0],
                                                                                  fx.Node):
        b = a.args[0]
        if (b.op == "call_method" and b.target == "size" and len(b.args) == 1 and not b.kwargs
                or b.op == "call_function" and b.target is getattr and b.args[1] == "shape"):
            src, dim = b.args[0], a.args[1]
    meta = src.meta.get("tensor_meta") if isinstance(src, fx.Node) else None
    if meta is None or not isinstance(dim, int):
        return a
    shape = tuple(meta.shape)
    if dim % len(shape) == 0:       # the batch dimension: no fixed number
        return a
    return int(shape[dim])


def global_mean(node: fx.Node) -> bool | None:
    """For ``x.mean((2, 3))`` / ``torch.mean(x, [-2, -1], keepdim=...)`` (a global average pool
    over the spatial dimensions of a 4-D map) its ``keepdim``; None for any other node."""
    if node.op == "call_method" and node.target == "mean":
        args = node.args[1:]
    elif node.op == "call_function" and node.target is torch.mean:
        args = node.args[1:]
    else:
        return None
    dims = args[0] if args else node.kwargs.get("dim")
    keepdim = args[1] if len(args) > 1 else node.kwargs.get("keepdim", False)
    if not isinstance(dims, (tuple, list)) or not all(isinstance(d, int) for d in dims):
        return None
    if sorted(d % 4 for d in dims) != [2, 3] or node.kwargs.get("dtype") is not None:
        return None
    return bool(keepdim)


def reshape_dims(node: fx.Node) -> tuple[Any, ...] | None:
    """The target shape of ``x.view(...)`` / ``x.reshape(...)`` / ``torch.reshape(x, ...)`` (ints
    and batch-size nodes), None for any other node."""
    if node.op == "call_method" and node.target in RESHAPE_METHODS:
        dims = node.args[1:]
        if not dims:
            dims = node.kwargs.get("shape", node.kwargs.get("size", ()))
    elif node.op == "call_function" and node.target is torch.reshape:
        dims = node.args[1:] if len(node.args) > 1 else (node.kwargs.get("shape", ()),)
    else:
        return None
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return tuple(dims)


def flatten_start(node: fx.Node) -> int | None:
    """The ``start_dim`` of a flatten to the last dimension — ``torch.flatten(x, d)``,
    ``x.flatten(d)``, and 1 for a reshape to ``(x.size(0), -1)`` — None for any other node
    (``nn.Flatten`` is a module)."""
    if node.op == "call_function" and node.target is torch.flatten or (
            node.op == "call_method" and node.target == "flatten"):
        start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
        end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
        return start if end == -1 else None
    dims = reshape_dims(node)
    if dims is not None and len(dims) == 2 and _is_batch_size(dims[0]) and dims[1] == -1:
        return 1
    return None


@dataclass(frozen=True)
class PoolCall:
    """A 2-D pooling in any of its forms (module, ``F.*`` or ``torch.*``), arguments bound."""

    kind: str                   # "max", "avg" or "adaptive_avg"
    kernel: Any = None
    stride: Any = None          # None (or []): the kernel
    padding: Any = 0
    dilation: Any = 1
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: Any = None
    return_indices: bool = False
    output_size: Any = None     # adaptive only


def _max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                return_indices=False): ...


def _avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True, divisor_override=None): ...


def _adaptive_avg_pool2d(input, output_size): ...


_POOL_SIGNATURES = {F.max_pool2d: ("max", _max_pool2d), torch.max_pool2d: ("max", _max_pool2d),
                    F.avg_pool2d: ("avg", _avg_pool2d),
                    F.adaptive_avg_pool2d: ("adaptive_avg", _adaptive_avg_pool2d)}


def pool_call(node: fx.Node, modules: dict[str, nn.Module] | None = None) -> PoolCall | None:
    """The pooling a node computes, module or function alike; None for any other node.
    :class:`ExportError` when a functional call's arguments do not fit its signature."""
    if node.op == "call_module" and modules is not None:
        mod = modules.get(node.target)
        if isinstance(mod, nn.MaxPool2d):
            return PoolCall("max", mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                            mod.ceil_mode, return_indices=mod.return_indices)
        if isinstance(mod, nn.AvgPool2d):
            return PoolCall("avg", mod.kernel_size, mod.stride, mod.padding, 1, mod.ceil_mode,
                            mod.count_include_pad, mod.divisor_override)
        if isinstance(mod, nn.AdaptiveAvgPool2d):
            return PoolCall("adaptive_avg", output_size=mod.output_size)
        return None
    if node.op != "call_function":
        return None
    try:
        kind, sig = _POOL_SIGNATURES[node.target]
    except (KeyError, TypeError):
        return None
    try:
        bound = inspect.signature(sig).bind(*node.args, **node.kwargs)
    except TypeError as exc:
        raise ExportError(f"node '{node.name}': {node.target.__name__} arguments: {exc}") from None
    bound.apply_defaults()
    a = dict(bound.arguments)
    del a["input"]
    if kind == "adaptive_avg":
        return PoolCall(kind, output_size=a["output_size"])
    return PoolCall(kind, a.pop("kernel_size"), **a)


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


__all__ = ["ADD_FUNCTIONS", "DROPOUT_FUNCTIONS", "RELU_FUNCTIONS", "RELU_METHODS",
           "RESHAPE_METHODS", "PoolCall", "conv_bn_pairs", "flatten_start", "fold_batchnorm",
           "folded_conv", "global_mean", "is_add", "is_dropout", "is_relu", "is_shape_node",
           "node_shape", "pool_call", "reshape_dims", "shape_value", "trace_graph", "trace_shapes"]
