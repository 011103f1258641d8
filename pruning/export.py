"""Export: a PyTorch model -> the layer list, network graph and layout bundle the simulator reads.

:func:`extract_network` traces the model with ``torch.fx`` (in eval mode) and propagates the shapes
of one input through it. It keeps what a crossbar accelerator computes:

- ``nn.Conv2d`` (no groups, no dilation, zero padding) -> a ``conv`` layer, and ``nn.Linear`` -> a
  ``linear`` layer, each named after its module path (``features.0``);
- an ``nn.BatchNorm2d`` right after a conv whose output nothing else reads is *folded* into that
  conv: ``W' = W * g / sqrt(var + eps)`` per filter,
  ``b' = (b - mean) * g / sqrt(var + eps) + beta`` (:mod:`pruning.tracing`, which also traces);
- ``nn.ReLU`` / ``F.relu`` / ``torch.relu`` / ``x.relu()`` -> ``relu``; ``nn.MaxPool2d`` /
  ``F.max_pool2d`` / ``torch.max_pool2d`` and ``nn.AvgPool2d`` / ``F.avg_pool2d`` -> ``maxpool``
  / ``avgpool`` with ``kernel``, ``stride``, ``padding``; ``nn.AdaptiveAvgPool2d(1)`` /
  ``F.adaptive_avg_pool2d(x, 1)`` -> a global ``avgpool``; ``nn.Flatten``,
  ``torch.flatten(x, 1)``, ``x.flatten(1)``, ``x.view(x.size(0), -1)``, ``x.reshape(x.shape[0],
  -1)`` and ``x.view(-1, N)`` (N the feature count) -> ``flatten``; ``x.mean((2, 3))`` -> a
  global ``avgpool`` and a ``flatten`` (with ``keepdim=True``: the pool alone); ``+`` /
  ``torch.add`` -> ``add`` (residual connections); ``nn.Dropout`` / ``F.dropout`` and
  ``nn.Identity`` vanish (inference). A module and its functional form export to the same
  bundle, byte for byte.

Anything else — grouped or dilated convs, a BatchNorm not after a conv, any other module,
function or method — raises :class:`~pruning.errors.ExportError` naming the node and what to
use instead (``call_function 'gelu' is not supported by the crossbar export; use nn.ReLU ...``).

:func:`export_bundle` maps every layer with :func:`rram_sim.bundle.map_network` (masks applied) and
stores golden vectors per layer from a real input: ``input`` is the layer's actual input in the
float model, ``output`` the layer's torch output (after a folded BatchNorm), and
``output_quantized`` the exact product of the quantized input and the quantized unrolled weights
(:func:`rram_sim.bundle.golden_from_numpy`, the :mod:`rram_sim.quant` rules). With ``eval_set``
it also stores labelled test samples and the float model's accuracy on them, from which
``rram-sim verify``, sweeps and the demo measure the accuracy on the crossbars
(:mod:`rram_sim.accuracy`).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import fx, nn

from pruning.errors import ExportError
from pruning.masks import Masks
from pruning.tracing import (
    PoolCall,
    flatten_start,
    fold_batchnorm,
    folded_conv,
    global_mean,
    is_add,
    is_dropout,
    is_relu,
    is_shape_node,
    node_shape,
    pool_call,
    reshape_dims,
    shape_value,
    trace_shapes,
)
from rram_sim.bundle import (
    Bundle,
    EvalSet,
    GraphNode,
    golden_from_numpy,
    map_network,
    save_bundle,
)
from rram_sim.config import Config
from rram_sim.errors import LayoutError
from rram_sim.layout import LayerSpec

_PASS_MODULES = (nn.Dropout, nn.Identity)


@dataclass
class Network:
    """What :func:`extract_network` found, plus the bookkeeping the golden run needs."""

    specs: list[LayerSpec]
    weights: dict[str, np.ndarray]          # by layer name, BN folded, float64
    biases: dict[str, np.ndarray | None]
    graph: list[GraphNode]
    module: fx.GraphModule                  # the traced model
    layer_input: dict[str, str]             # layer -> fx node whose value is the layer's input
    layer_output: dict[str, str]            # layer -> fx node whose value is its (BN'd) output


def _pair(v: Any, what: str, where: str) -> int:
    v = shape_value(v)
    if isinstance(v, (tuple, list)):
        v = tuple(shape_value(x) for x in v)
        if len(set(v)) != 1:
            raise ExportError(f"{where}: non-square {what} {v} is not supported")
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, int):
        raise ExportError(f"{where}: {what} {getattr(v, 'name', v)!r} is not a number the export "
                          "can fix (use an int, or x.size(d) / x.shape[d] of a non-batch d)")
    return v


def extract_network(model: nn.Module, input_shape: tuple[int, ...]) -> Network:
    """Trace ``model`` for inputs of shape ``input_shape`` (no batch) and return the crossbar
    layers (``specs``, ``weights``, ``biases``, BN folded) and the graph. Unpack as
    ``specs, weights, biases, graph = extract_network(...)[:4]`` or use the attributes."""
    input_shape = tuple(int(s) for s in input_shape)
    was_training = model.training
    model.eval()
    try:
        gm = trace_shapes(model, input_shape)
    finally:
        model.train(was_training)
    mods = dict(gm.named_modules())
    specs: list[LayerSpec] = []
    weights: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray | None] = {}
    graph: list[GraphNode] = []
    env: dict[str, str] = {}           # fx node name -> graph node name carrying its value
    layer_in: dict[str, str] = {}
    layer_out: dict[str, str] = {}

    def src(node: fx.Node, i: int = 0) -> fx.Node:
        a = node.args[i]
        if not isinstance(a, fx.Node):
            raise ExportError(f"node '{node.name}': argument {i} is not a tensor")
        return a

    def emit(node: fx.Node, op: str, inputs: list[fx.Node], params: dict | None = None,
             name: str | None = None) -> None:
        gname = name or node.name
        if any(g.name == gname for g in graph):
            raise ExportError(f"node '{node.name}': name '{gname}' is used twice in the graph")
        graph.append(GraphNode(gname, op, [env[i.name] for i in inputs], params or {}))
        env[node.name] = gname

    for node in gm.graph.nodes:
        where = f"node '{node.name}'"
        if node.op == "placeholder":
            emit(node, "input", [], {"shape": list(input_shape)}, name="input")
        elif node.op == "output":
            continue
        elif node.op == "call_module":
            mod = mods[node.target]
            where = f"module '{node.target}' ({type(mod).__name__})"
            if isinstance(mod, nn.Conv2d):
                if mod.groups != 1:
                    raise ExportError(f"{where}: grouped convolution (groups={mod.groups}) does "
                                      "not map to one crossbar matrix")
                if tuple(mod.dilation) != (1, 1):
                    raise ExportError(f"{where}: dilation {tuple(mod.dilation)} is not supported")
                if isinstance(mod.padding, str) or mod.padding_mode != "zeros":
                    raise ExportError(f"{where}: only numeric zero padding is supported")
                x = src(node)
                spec = LayerSpec(node.target, "conv", tuple(int(s) for s in mod.weight.shape),
                                 node_shape(x), tuple(int(s) for s in mod.stride),
                                 tuple(int(p) for p in mod.padding))
                b = mod.bias.detach().double().numpy().copy() if mod.bias is not None else None
                _add_layer(specs, weights, biases, spec, mod.weight, b)
                emit(node, "conv", [x], name=node.target)
                layer_in[node.target], layer_out[node.target] = x.name, node.name
            elif isinstance(mod, nn.Linear):
                x = src(node)
                spec = LayerSpec(node.target, "linear", tuple(int(s) for s in mod.weight.shape),
                                 node_shape(x))
                if len(spec.input_shape) != 1:
                    raise ExportError(f"{where}: input of shape {spec.input_shape}; a linear "
                                      "layer needs a flattened [B, features] input")
                b = mod.bias.detach().double().numpy().copy() if mod.bias is not None else None
                _add_layer(specs, weights, biases, spec, mod.weight, b)
                emit(node, "linear", [x], name=node.target)
                layer_in[node.target], layer_out[node.target] = x.name, node.name
            elif isinstance(mod, nn.BatchNorm2d):
                x = folded_conv(node, mods)
                if x is None:
                    raise ExportError(f"{where}: a BatchNorm must directly follow a conv whose "
                                      "output nothing else reads (it is folded into the conv)")
                layer = env[x.name]
                weights[layer], biases[layer] = fold_batchnorm(mod, weights[layer], biases[layer])
                env[node.name] = layer
                layer_out[layer] = node.name
            elif isinstance(mod, nn.ReLU):
                emit(node, "relu", [src(node)])
            elif pool_call(node, mods) is not None:
                _emit_pool(node, pool_call(node, mods), where, emit, src(node))
            elif isinstance(mod, nn.Flatten):
                if mod.start_dim != 1 or mod.end_dim != -1:
                    raise ExportError(f"{where}: only Flatten(start_dim=1) is supported")
                emit(node, "flatten", [src(node)])
            elif isinstance(mod, _PASS_MODULES):
                env[node.name] = env[src(node).name]
            else:
                raise ExportError(f"{where}: not supported by the crossbar export; "
                                  f"{_module_hint(mod)}")
        elif is_add(node):
            a, b = src(node, 0), src(node, 1)
            emit(node, "add", [a, b])
        elif is_relu(node):
            emit(node, "relu", [src(node)])
        elif pool_call(node) is not None:
            _emit_pool(node, pool_call(node), where, emit, src(node))
        elif is_dropout(node):
            env[node.name] = env[src(node).name]
        elif global_mean(node) is not None:
            x = src(node)
            if len(node_shape(x)) != 3:
                raise ExportError(f"{where}: a mean over dimensions (2, 3) needs a [C, H, W] map")
            keep = global_mean(node)
            _emit_pool(node, PoolCall("adaptive_avg", output_size=1), where, emit, x)
            if not keep:    # x.mean((2, 3)) is the global pool, then a flatten
                emit(node, "flatten", [node], name=f"{env[node.name]}_flatten")
        elif is_shape_node(node):
            continue            # x.size(0), x.shape[0]: read by the reshape that follows
        elif flatten_start(node) is not None:
            if flatten_start(node) != 1:
                raise ExportError(f"{where}: only a flatten from dimension 1 is supported; use "
                                  "x.flatten(1) or x.view(x.size(0), -1)")
            emit(node, "flatten", [src(node)])
        elif reshape_dims(node) is not None:
            x = src(node)
            if not _is_flatten_reshape(reshape_dims(node), node_shape(x), node_shape(node)):
                raise ExportError(f"{where}: {_op_text(node)} to {_dims_text(reshape_dims(node))} "
                                  "is not supported (only a flatten to [batch, features]); use "
                                  "x.flatten(1) or x.view(x.size(0), -1)")
            emit(node, "flatten", [x])
        else:
            raise ExportError(f"{where}: {_op_text(node)} is not supported by the crossbar "
                              f"export; {_function_hint(node)}")
    if not specs:
        raise ExportError(f"model {type(model).__name__}: no Conv2d or Linear layer to map")
    return Network(specs, weights, biases, graph, gm, layer_in, layer_out)


def _emit_pool(node: fx.Node, pc: PoolCall, where: str, emit: Any, x: fx.Node) -> None:
    """The graph node of a pooling, whichever form it was written in (module or function)."""
    if pc.kind == "adaptive_avg":
        if _pair(pc.output_size, "output size", where) != 1:
            raise ExportError(f"{where}: only a global average pool (output size 1) is "
                              "supported")
        _, h, w = node_shape(x)
        if h != w:
            raise ExportError(f"{where}: global pool over a non-square {h}x{w} map")
        emit(node, "avgpool", [x], {"kernel": h, "stride": h, "padding": 0, "global": True})
        return
    if pc.ceil_mode:
        raise ExportError(f"{where}: ceil_mode=True is not supported")
    if pc.return_indices:
        raise ExportError(f"{where}: return_indices=True is not supported")
    if _pair(pc.dilation, "dilation", where) != 1:
        raise ExportError(f"{where}: pooling dilation is not supported")
    if pc.divisor_override is not None:
        raise ExportError(f"{where}: divisor_override is not supported")
    k = _pair(pc.kernel, "kernel", where)
    s = _pair(pc.stride if pc.stride not in (None, [], ()) else k, "stride", where)
    p = _pair(pc.padding, "padding", where)
    if pc.kind == "avg" and p and pc.count_include_pad is False:
        raise ExportError(f"{where}: count_include_pad=False is not supported")
    op = "maxpool" if pc.kind == "max" else "avgpool"
    emit(node, op, [x], {"kernel": k, "stride": s, "padding": p})


def _is_flatten_reshape(dims: tuple[Any, ...], in_shape: tuple[int, ...],
                        out_shape: tuple[int, ...]) -> bool:
    """A reshape to ``(-1, N)`` / ``(B, -1)`` that keeps the batch and flattens the rest."""
    if len(dims) != 2 or len(out_shape) != 1:
        return False
    first, second = dims
    if not (first == -1 or isinstance(first, fx.Node)):
        return False    # a literal batch size would be wrong for any other batch
    return out_shape[0] == int(np.prod(in_shape)) and (second == -1 or second == out_shape[0])


def _dims_text(dims: tuple[Any, ...]) -> str:
    return "(" + ", ".join(d.name if isinstance(d, fx.Node) else repr(d) for d in dims) + ")"


def _op_text(node: fx.Node) -> str:
    what = getattr(node.target, "__name__", node.target)
    return f"{node.op} '{what}'"


# What to write instead, by function / method name (the crossbar export maps conv, linear, ReLU,
# pooling, flatten and residual adds; see the module docstring).
_HINTS = {
    **dict.fromkeys(("gelu", "silu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "celu",
                     "hardswish", "hardsigmoid", "mish", "softplus", "relu6", "hardtanh",
                     "prelu", "sigmoid_", "tanh_"),
                    "use nn.ReLU (or F.relu): the only activation the crossbars' digital units "
                    "compute"),
    **dict.fromkeys(("softmax", "log_softmax"),
                    "return the logits instead (apply softmax in the loss; the argmax is the "
                    "same)"),
    **dict.fromkeys(("cat", "concat", "concatenate", "stack"),
                    "concatenation is not supported; only residual additions (a + b) join "
                    "branches"),
    **dict.fromkeys(("mul", "matmul", "mm", "bmm", "einsum", "conv2d", "linear", "truediv",
                     "sub", "div"),
                    "compute weighted sums with nn.Conv2d / nn.Linear modules (their weights are "
                    "what the crossbars hold); only residual additions combine tensors"),
    **dict.fromkeys(("mean", "sum", "adaptive_max_pool2d", "amax", "max"),
                    "use x.mean((2, 3)), nn.AdaptiveAvgPool2d(1) or F.adaptive_avg_pool2d(x, 1) "
                    "for a global pool, nn.MaxPool2d / F.max_pool2d for a local one"),
    **dict.fromkeys(("batch_norm",),
                    "use an nn.BatchNorm2d module right after a conv (it is folded into it)"),
    **dict.fromkeys(("size", "getattr", "getitem", "dim"),
                    "shapes are only read by a flatten: x.view(x.size(0), -1) or x.flatten(1)"),
    **dict.fromkeys(("permute", "transpose", "contiguous", "squeeze", "unsqueeze", "expand"),
                    "keep the [batch, channels, height, width] layout; flatten with "
                    "x.flatten(1)"),
    **dict.fromkeys(("interpolate", "upsample", "pad"),
                    "resampling and padding ops are not supported; pad inside nn.Conv2d "
                    "(padding=...)"),
}


def _function_hint(node: fx.Node) -> str:
    name = str(getattr(node.target, "__name__", node.target)).lstrip("_")
    return _HINTS.get(name, "supported: Conv2d, Linear, BatchNorm2d after a conv, ReLU, max / "
                            "average pooling (module or F.*), AdaptiveAvgPool2d(1), flatten / "
                            "view / reshape to [batch, features], Dropout, residual add")


_MODULE_HINTS = {
    (nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.Hardswish,
     nn.Hardsigmoid, nn.Mish, nn.Softplus, nn.ReLU6, nn.Hardtanh, nn.PReLU): _HINTS["gelu"],
    (nn.Softmax, nn.LogSoftmax): _HINTS["softmax"],
    (nn.AdaptiveMaxPool2d, nn.MaxPool1d, nn.AvgPool1d): _HINTS["mean"],
    (nn.BatchNorm1d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d):
        "normalization other than an nn.BatchNorm2d right after a conv is not supported",
    (nn.Upsample,): _HINTS["interpolate"],
}


def _module_hint(mod: nn.Module) -> str:
    for types, hint in _MODULE_HINTS.items():
        if isinstance(mod, types):
            return hint
    return ("supported: Conv2d, Linear, BatchNorm2d after a conv, ReLU, MaxPool2d, AvgPool2d, "
            "AdaptiveAvgPool2d(1), Flatten, Dropout, Identity, residual add")


def _add_layer(specs, weights, biases, spec, w: torch.Tensor, b) -> None:
    specs.append(spec)
    weights[spec.name] = w.detach().double().numpy().copy()
    biases[spec.name] = b


def layer_masks(net: Network, masks: Masks | None) -> dict[str, np.ndarray]:
    """Masks by layer name (``features.0``) from masks by parameter name (``features.0.weight``)."""
    out = {}
    for s in net.specs:
        m = masks.get(f"{s.name}.weight") if masks is not None else None
        if m is not None:
            out[s.name] = m
    return out


class _Recorder(fx.Interpreter):
    def __init__(self, gm: fx.GraphModule, keep: set[str]) -> None:
        super().__init__(gm)
        self.keep, self.values = keep, {}

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        if n.name in self.keep:
            self.values[n.name] = out.detach().double().numpy().copy()
        return out


def layer_activations(net: Network, x: torch.Tensor) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each layer's ``(input, output)`` in the float model for the batch ``x`` (eval mode)."""
    keep = set(net.layer_input.values()) | set(net.layer_output.values())
    rec = _Recorder(net.module, keep)
    with torch.no_grad():
        rec.run(x.float())
    return {s.name: (rec.values[net.layer_input[s.name]], rec.values[net.layer_output[s.name]])
            for s in net.specs}


def export_bundle(model: nn.Module, masks: Masks | None, cfg: Config, scheme: str,
                  sample_input: torch.Tensor, path: str | os.PathLike | None = None,
                  golden: bool = True, eval_set: tuple[Any, Any] | None = None,
                  eval_source: str = "", **map_kwargs: Any) -> Bundle:
    """Map ``model`` (with ``masks`` applied) onto chip ``cfg`` under ``scheme``, add golden
    vectors from ``sample_input`` ``[B, C, H, W]``, and save the bundle to ``path`` if given.
    ``eval_set``: ``(images [N, C, H, W], labels [N])`` of the test split, stored in the bundle
    (:class:`rram_sim.bundle.EvalSet`, with the float model's top-1 accuracy on them and
    ``eval_source`` naming where they came from) so the simulator can measure the accuracy on the
    crossbars (:mod:`rram_sim.accuracy`). Extra keyword arguments go to
    :func:`rram_sim.bundle.map_network` (``replication``, ``allow_multi_chip``, ``fresh_tile``)."""
    model = copy.deepcopy(model).eval()
    if masks is not None:
        masks.validate(model).apply(model)
    sample_input = torch.as_tensor(sample_input).float()
    net = extract_network(model, tuple(sample_input.shape[1:]))
    lm = layer_masks(net, masks)
    bundle = map_network(net.specs, net.weights, cfg, scheme, masks=lm, biases=net.biases,
                         graph=net.graph, **map_kwargs)
    if golden:
        acts = layer_activations(net, sample_input)
        for s in net.specs:
            x_in, y_out = acts[s.name]
            g = golden_from_numpy(s, net.weights[s.name], net.biases[s.name], x_in, cfg,
                                  lm.get(s.name))
            g.output = y_out
            bundle.golden[s.name] = g
    if eval_set is not None:
        bundle.eval_set = _eval_set(model, bundle, *eval_set, eval_source)
    bundle.meta["producer"] = "pruning.export.export_bundle"
    bundle.meta["model"] = type(model).__name__
    if path is not None:
        save_bundle(bundle, path)
    return bundle


def _eval_set(model: nn.Module, bundle: Bundle, x: Any, labels: Any, source: str) -> EvalSet:
    """The bundle's eval set: the samples, their labels, the float model's accuracy on them."""
    x = torch.as_tensor(x).float()
    labels = torch.as_tensor(labels).long()
    if x.dim() < 2 or labels.dim() != 1 or len(x) != len(labels) or len(x) < 1:
        raise ExportError(f"eval set: {len(labels)} labels for images of shape "
                          f"{tuple(x.shape)}; need one label per image and at least one image")
    out = bundle.output_shape()
    if len(out) != 1:
        raise ExportError(f"eval set: the network's output has shape {out}; accuracy needs one "
                          "value per class (end the model with its logits)")
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 256]).reshape(len(x[i:i + 256]), -1).argmax(1)
                          for i in range(0, len(x), 256)])
    acc = float((pred == labels).float().mean())
    try:
        return EvalSet(x=x.numpy(), labels=labels.numpy(), classes=int(out[0]), source=source,
                       float_accuracy=acc)
    except LayoutError as exc:
        raise ExportError(str(exc)) from None
