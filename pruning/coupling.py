"""Channel coupling: which weights must go together when one channel of a feature map is removed.

A channel of a feature map is *written* by producers — the Conv2d / Linear layers whose filter
``c`` (``weight[c]``, one logical crossbar column) computes it — and *read* by consumers — the
layers whose input slice ``weight[:, c]`` (a band of wordlines) multiplies it. Between the two the
channel may pass through channel-wise operations that keep a zero channel zero: ReLU, max / average
pooling, Dropout, Identity, Flatten (channel ``c`` of a ``[C, H, W]`` map becomes features
``c*H*W ... (c+1)*H*W - 1``), and a BatchNorm once its ``weight[c]`` and ``bias[c]`` are removed
too.

A residual add ``a + b`` makes the channels of ``a`` and ``b`` one channel: it is zero only when it
is zero on both sides. Following the graph with a union-find over *channel sets* gives, for a
ResNet, one set per stage: the stem conv (or the stage's option-B shortcut conv) and every block's
last conv write it, every block's first conv and the next stage's shortcut (or the classifier)
read it. :func:`channel_sets` returns these sets from the model's ``torch.fx`` graph (traced with
:func:`pruning.tracing.trace_graph`, the export's tracer). A set is *removable* channel by channel
when all its producers are Conv2d / Linear layers and the model's output does not read it; a set
written by the model input or by an operation outside the list above, or read by the output, is
left out.

Removing channel ``c`` of a set (:func:`channel_removal_masks`) removes filter ``c`` of every
producer, its bias and every BatchNorm ``weight[c]`` / ``bias[c]`` on the set, and input slice
``c`` of every consumer: the channel is then exactly zero everywhere, so the consumers' slices
multiplied only zeros and removing them frees crossbar rows without changing any value.
:func:`propagate_dead_channels` applies this to every channel whose producers' filters are all
masked, repeatedly (a consumer that loses all its inputs loses all its filters in turn).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from torch import fx, nn

from pruning.errors import PruningError
from pruning.masks import Masks
from pruning.tracing import flatten_start, is_add, is_relu, trace_graph

_KEEP_MODULES = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
                 nn.Dropout, nn.Identity)


@dataclass(frozen=True)
class ChannelSet:
    """Feature-map channels that are one channel: channel ``c`` is removed from all at once."""

    producers: tuple[str, ...]              # weight names whose filter c (dim 0) writes channel c
    consumers: tuple[tuple[str, int], ...]  # (weight name, features per channel) reading it (dim 1)
    channelwise: tuple[str, ...]            # 1-D parameters indexed by channel: biases, BN
    n_channels: int
    adds: int                               # residual adds joining maps of this set

    @property
    def residual(self) -> bool:
        """Whether a residual add joins several maps into this set."""
        return self.adds > 0


class _Spaces:
    """Union-find over channel spaces, with what each space holds."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.producers: list[list[tuple[str, int]]] = []
        self.consumers: list[list[tuple[str, int | None]]] = []
        self.channelwise: list[list[str]] = []
        self.external: list[bool] = []
        self.adds: list[int] = []

    def new(self, external: bool = False) -> int:
        self.parent.append(len(self.parent))
        for lst in (self.producers, self.consumers, self.channelwise):
            lst.append([])
        self.external.append(external)
        self.adds.append(0)
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[b] = a
            self.producers[a] += self.producers[b]
            self.consumers[a] += self.consumers[b]
            self.channelwise[a] += self.channelwise[b]
            self.external[a] = self.external[a] or self.external[b]
            self.adds[a] += self.adds[b]
        self.adds[a] += 1
        return a


# value forms: "map" (a conv-like [B, C, ...] map), "flat" (a flattened map), "vec" ([B, F], a
# linear output), "any" (the model input: any of these), "unknown" (dim 1 is not a channel)
def _trace_sets(model: nn.Module) -> _Spaces:
    gm = trace_graph(model)
    mods = dict(gm.named_modules())
    calls = Counter(n.target for n in gm.graph.nodes if n.op == "call_module")
    sp = _Spaces()
    state: dict[str, tuple[int, str]] = {}

    def arg(node: fx.Node, i: int = 0) -> tuple[int, str] | None:
        a = node.args[i] if len(node.args) > i else None
        return state.get(a.name) if isinstance(a, fx.Node) else None

    def unknown(node: fx.Node) -> None:
        state[node.name] = (sp.new(external=True), "unknown")

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            state[node.name] = (sp.new(external=True), "any")
            continue
        if node.op == "output":
            for a in node.all_input_nodes:  # the model output reads these sets whole
                if a.name in state:
                    sp.external[sp.find(state[a.name][0])] = True
            continue
        x = arg(node)
        mod = mods.get(node.target) if node.op == "call_module" else None
        if mod is not None and calls[node.target] > 1:
            unknown(node)  # a module called twice shares its weights between two sets
        elif isinstance(mod, nn.Conv2d) and x is not None and x[1] in ("map", "any", "unknown") \
                and mod.groups == 1:
            # a conv's output channels are its filters whatever its input was
            sp.consumers[sp.find(x[0])].append((f"{node.target}.weight", 1))
            s = sp.new()
            sp.producers[s].append((f"{node.target}.weight", int(mod.out_channels)))
            if mod.bias is not None:
                sp.channelwise[s].append(f"{node.target}.bias")
            state[node.name] = (s, "map")
        elif isinstance(mod, nn.Linear) and x is not None and x[1] in ("flat", "vec", "any"):
            # a linear reading a flattened map reads C*H*W features: H*W per channel, known at
            # the end from the set's channel count
            sp.consumers[sp.find(x[0])].append((f"{node.target}.weight",
                                                None if x[1] == "flat" else 1))
            s = sp.new()
            sp.producers[s].append((f"{node.target}.weight", int(mod.out_features)))
            if mod.bias is not None:
                sp.channelwise[s].append(f"{node.target}.bias")
            state[node.name] = (s, "vec")
        elif isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)) and x is not None and \
                x[1] == ("map" if isinstance(mod, nn.BatchNorm2d) else "vec"):
            for p in ("weight", "bias"):
                if getattr(mod, p) is not None:
                    sp.channelwise[sp.find(x[0])].append(f"{node.target}.{p}")
            state[node.name] = x
        elif isinstance(mod, _KEEP_MODULES) and x is not None:
            state[node.name] = x
        elif is_relu(node) and x is not None:
            state[node.name] = x
        elif (isinstance(mod, nn.Flatten) and mod.start_dim == 1 and mod.end_dim == -1
              or flatten_start(node) == 1) and x is not None:
            form = {"map": "flat", "vec": "vec", "flat": "flat", "any": "vec"}.get(x[1], "unknown")
            state[node.name] = (x[0], form)
        elif is_add(node) and len(node.args) == 2 and not node.kwargs:
            y = arg(node, 1)
            if x is None or y is None or x[1] != y[1] or x[1] == "unknown":
                unknown(node)
            else:
                state[node.name] = (sp.union(x[0], y[0]), x[1])
        else:
            unknown(node)
    return sp


def channel_sets(model: nn.Module) -> list[ChannelSet]:
    """The removable channel sets of ``model`` (see the module docstring), in graph order.

    Raises :class:`~pruning.errors.ExportError` when ``torch.fx`` cannot trace the model.
    """
    sp = _trace_sets(model)
    params = dict(model.named_parameters())
    order = {n: i for i, n in enumerate(params)}
    out = []
    for s in range(len(sp.parent)):
        if sp.find(s) != s or sp.external[s] or not sp.producers[s]:
            continue
        counts = {c for _, c in sp.producers[s]}
        if len(counts) != 1:
            continue  # the add would fail at run time; nothing to couple
        n = counts.pop()
        consumers = []
        for name, per in sp.consumers[s]:
            if per is None:  # a linear reading the flattened map: in_features = n * H * W
                fin = params[name].shape[1]
                per = fin // n if fin % n == 0 else 0
            consumers.append((name, per))
        if any(per == 0 for _, per in consumers):
            continue
        out.append(ChannelSet(tuple(sorted((p for p, _ in sp.producers[s]), key=order.get)),
                              tuple(sorted(consumers, key=lambda c: order[c[0]])),
                              tuple(sorted(sp.channelwise[s], key=order.get)), n, sp.adds[s]))
    return out


def residual_sets(model: nn.Module) -> list[ChannelSet]:
    """The removable channel sets that a residual add joins (several producers or an identity
    path)."""
    return [s for s in channel_sets(model) if s.residual]


def channel_removal_masks(cset: ChannelSet, dead: np.ndarray,
                          shapes: Mapping[str, tuple[int, ...]],
                          skip: frozenset[str] | set[str] = frozenset()) -> dict[str, np.ndarray]:
    """Keep-masks removing the channels ``dead`` (bool ``[n_channels]``) of ``cset``: filter ``c``
    of every producer, ``c`` of every channel-wise parameter, input slice ``c`` of every consumer.
    Parameters named in ``skip`` (e.g. excluded from pruning) are left out; ``shapes`` gives every
    other parameter's shape."""
    dead = np.asarray(dead, bool)
    if dead.shape != (cset.n_channels,):
        raise PruningError(f"channel set of {cset.producers[0]}: dead has shape {dead.shape}, "
                           f"expected ({cset.n_channels},)")
    out: dict[str, np.ndarray] = {}
    for name in cset.producers + cset.channelwise:
        if name not in skip:
            shape = tuple(shapes[name])
            out[name] = np.broadcast_to(~dead.reshape(-1, *[1] * (len(shape) - 1)), shape).copy()
    for name, per in cset.consumers:
        if name not in skip:
            shape = tuple(shapes[name])
            keep = ~dead[np.arange(shape[1]) // per]
            out[name] = np.broadcast_to(keep.reshape(1, -1, *[1] * (len(shape) - 2)),
                                        shape).copy()
    return out


def dead_channels(cset: ChannelSet, masks: Mapping[str, np.ndarray]) -> np.ndarray:
    """Channels (bool ``[n_channels]``) whose filter is fully masked in every producer (a producer
    without a mask keeps all its filters)."""
    alive = np.zeros(cset.n_channels, bool)
    for p in cset.producers:
        m = masks.get(p)
        alive |= True if m is None else np.asarray(m).reshape(cset.n_channels, -1).any(axis=1)
    return ~alive


def propagate_dead_channels(model: nn.Module, masks: Masks) -> Masks:
    """Masks with every dead channel removed from everything that depends on it.

    A channel is dead when every producer's filter for it is fully masked. Its producers' bias,
    the BatchNorm ``weight`` / ``bias`` on it (after a conv or after a residual add) and every
    consumer's input slice ``weight[:, c]`` are masked too — for a plain chain (VGG), removing
    filter ``n`` of a conv removes input channel ``n`` of the next conv. Repeated until nothing
    changes: a layer left without inputs loses its filters in turn. The model's values are those
    of the masked model with the dead channels' constants (bias, BN shift) removed, as
    :func:`pruning.groups.couple_batchnorm` does; the consumers' removed slices only ever
    multiplied zeros.
    """
    masks.validate(model)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    sets = channel_sets(model)
    out = {k: v.copy() for k, v in masks.items()}
    kept = -1
    while kept != (kept := sum(int(v.sum()) for v in out.values())):
        # each pass that changes anything removes weights, so this ends
        for s in sets:
            dead = dead_channels(s, out)
            if dead.any():
                for name, keep in channel_removal_masks(s, dead, shapes).items():
                    out[name] = out[name] & keep if name in out else keep
    return Masks(out).validate(model)
