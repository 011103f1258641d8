"""Crossbar-backed layers: evaluate a PyTorch model on the simulated ReRAM crossbars.

:class:`XbarConv2d` and :class:`XbarLinear` are drop-in replacements for ``nn.Conv2d`` /
``nn.Linear`` whose forward pass runs :func:`rram_sim.kernels.run_layer` on the layer mapped with
:func:`rram_sim.mapping.map_layer`: the input is quantized per tensor over the batch
(``precision.input_bits``), fed bit-serially through DACs, multiplied by the quantized, bit-sliced
weights, converted by the ADCs (with the chip's ADC bits and range policy) and shifted and added —
so accuracy can be measured against ADC bits, cell bits and mapping scheme. A layer is mapped once
per input size and cached; the event counts of every forward are summed in ``.counts``.

The backward pass gives the *input* gradient through the same crossbars (the transposed read,
:func:`rram_sim.kernels.transposed`, with the output gradient quantized to ``input_bits``, then
col2im for a conv). Weights are fixed while mapped (no weight gradient): to retrain, train the
float model and convert again.

With ``mode="quantized"`` the same modules compute the exact integer product in software
(``(xq @ Wq) * sx * sw + bias``: :func:`rram_sim.bundle.golden_from_numpy`, the golden reference
every exported bundle carries) — the quantized software model the crossbars must match when the
ADC is lossless.

:func:`to_crossbar` converts a whole model: BatchNorm layers that follow a conv are folded into it
(:mod:`pruning.tracing`) and replaced by ``nn.Identity``, masks are applied, and every conv /
linear layer is replaced.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pruning.errors import PruningError
from pruning.masks import Masks
from pruning.tracing import conv_bn_pairs, fold_batchnorm
from rram_sim.bundle import golden_from_numpy
from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.layout import SCHEMES, LayerLayout, LayerSpec
from rram_sim.mapping import map_layer
from rram_sim.quant import quantize

MODES = ("crossbar", "quantized")


class _XbarFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, layer: _XbarBase) -> torch.Tensor:  # noqa: D102
        ctx.layer, ctx.in_shape = layer, tuple(x.shape)
        y = layer._run(x.detach().cpu().double().numpy())
        return torch.from_numpy(np.ascontiguousarray(y)).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: D102
        return ctx.layer._grad_input(grad.detach().cpu().double().numpy(), ctx.in_shape), None


class _XbarBase(nn.Module):
    kind = ""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None, cfg: Config,
                 scheme: str = "dense", mask: np.ndarray | None = None,
                 mode: str = "crossbar", index_unit: bool = True, name: str = "layer") -> None:
        super().__init__()
        if scheme not in SCHEMES:
            raise PruningError(f"scheme '{scheme}': must be one of {', '.join(SCHEMES)}")
        if mode not in MODES:
            raise PruningError(f"mode '{mode}': must be one of {', '.join(MODES)}")
        self.weight_np = np.asarray(weight, dtype=np.float64)
        self.bias_np = None if bias is None else np.asarray(bias, dtype=np.float64)
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        self.cfg, self.scheme, self.mode, self.index_unit = cfg, scheme, mode, index_unit
        self.name = name
        self.counts = Counts()
        self._layouts: dict[tuple[int, ...], LayerLayout] = {}

    def layout(self, input_shape: tuple[int, ...]) -> LayerLayout:
        """The mapped layer for inputs of shape ``input_shape`` (cached)."""
        key = tuple(input_shape)
        if key not in self._layouts:
            self._layouts[key] = map_layer(self.spec(key), self.weight_np, self.cfg, self.scheme,
                                           mask=self.mask, bias=self.bias_np)
        return self._layouts[key]

    def _run(self, x: np.ndarray) -> np.ndarray:
        from rram_sim import kernels

        spec = self.spec(tuple(x.shape[1:]))
        if self.mode == "crossbar":
            y, counts = kernels.run_layer(self.layout(spec.input_shape), x, self.cfg,
                                          index_unit=self.index_unit)
            self.counts += counts
            return y
        # the exact quantized product of the layer: the golden reference rram_sim checks against
        return golden_from_numpy(spec, self.weight_np, self.bias_np, x, self.cfg,
                                 self.mask).output_quantized

    def _grad_input(self, g: np.ndarray, in_shape: tuple[int, ...]) -> torch.Tensor:
        from rram_sim import kernels

        spec = self.spec(tuple(in_shape[1:]))
        lay = self.layout(spec.input_shape)
        rows = g.reshape(g.shape[0], -1) if spec.kind == "linear" else \
            g.transpose(0, 2, 3, 1).reshape(-1, spec.matrix_shape[1])
        eq, se = quantize(rows, self.cfg.precision.input_bits)
        res = kernels.transposed(lay, eq, self.cfg, index_unit=self.index_unit)
        self.counts += res.counts
        cols = torch.from_numpy(res.values * (se * lay.weight_scale))
        if spec.kind == "linear":
            return cols.float()
        b = in_shape[0]
        _, _, kh, kw = spec.weight_shape
        cols = cols.reshape(b, spec.output_positions, -1).transpose(1, 2)
        return F.fold(cols, in_shape[2:], (kh, kw), padding=spec.padding,
                      stride=spec.stride).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _XbarFn.apply(x, self)

    def extra_repr(self) -> str:
        return (f"{self.kind} {tuple(self.weight_np.shape)}, scheme={self.scheme}, "
                f"mode={self.mode}, chip={self.cfg.name}")


class XbarConv2d(_XbarBase):
    """A conv layer computed on simulated crossbars (see the module docstring)."""

    kind = "conv"

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None, stride: tuple[int, int],
                 padding: tuple[int, int], cfg: Config, **kw: Any) -> None:
        super().__init__(weight, bias, cfg, **kw)
        self.stride, self.padding = tuple(stride), tuple(padding)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, cfg: Config, **kw: Any) -> XbarConv2d:
        if conv.groups != 1 or tuple(conv.dilation) != (1, 1) or isinstance(conv.padding, str):
            raise PruningError(f"conv {tuple(conv.weight.shape)}: grouped, dilated or "
                               "string-padded convolutions do not map to crossbars")
        b = conv.bias.detach().double().numpy() if conv.bias is not None else None
        return cls(conv.weight.detach().double().numpy(), b, conv.stride, conv.padding, cfg, **kw)

    def spec(self, input_shape: tuple[int, ...]) -> LayerSpec:
        return LayerSpec(self.name, "conv", tuple(self.weight_np.shape), tuple(input_shape),
                         self.stride, self.padding)


class XbarLinear(_XbarBase):
    """A linear layer computed on simulated crossbars (see the module docstring)."""

    kind = "linear"

    @classmethod
    def from_linear(cls, lin: nn.Linear, cfg: Config, **kw: Any) -> XbarLinear:
        b = lin.bias.detach().double().numpy() if lin.bias is not None else None
        return cls(lin.weight.detach().double().numpy(), b, cfg, **kw)

    def spec(self, input_shape: tuple[int, ...]) -> LayerSpec:
        return LayerSpec(self.name, "linear", tuple(self.weight_np.shape), tuple(input_shape))


def _set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, new)


def to_crossbar(model: nn.Module, cfg: Config, scheme: str = "dense", masks: Masks | None = None,
                mode: str = "crossbar", index_unit: bool = True) -> nn.Module:
    """A copy of ``model`` (eval mode) whose conv / linear layers run on crossbars (or, with
    ``mode="quantized"``, in exact quantized software arithmetic); BN folded, masks applied."""
    model = copy.deepcopy(model).eval()
    if masks is not None:
        masks.validate(model).apply(model)
    pairs = conv_bn_pairs(model)
    kw = {"scheme": scheme, "mode": mode, "index_unit": index_unit}
    for name, mod in list(model.named_modules()):
        mask = masks.get(f"{name}.weight") if masks is not None else None
        if isinstance(mod, nn.Conv2d):
            new = XbarConv2d.from_conv(mod, cfg, mask=mask, name=name, **kw)
            if name in pairs:
                new.weight_np, new.bias_np = fold_batchnorm(model.get_submodule(pairs[name]),
                                                            new.weight_np, new.bias_np)
                _set_module(model, pairs[name], nn.Identity())
            _set_module(model, name, new)
        elif isinstance(mod, nn.Linear):
            _set_module(model, name, XbarLinear.from_linear(mod, cfg, mask=mask, name=name, **kw))
    return model


def crossbar_layers(model: nn.Module) -> list[_XbarBase]:
    return [m for m in model.modules() if isinstance(m, _XbarBase)]


def total_counts(model: nn.Module) -> Counts:
    """Sum of the event counts of every crossbar layer of a converted model."""
    out = Counts()
    for m in crossbar_layers(model):
        out += m.counts
    return out
