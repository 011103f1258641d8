"""Placement policies: how many copies of each crossbar layer a chip holds.

A copy of a layer is a second set of crossbars holding the same weights; the engine sends vector
``v`` of the layer to copy ``v mod r`` (``docs/timing.md``), so ``r`` copies split the layer's
output positions and its stage time falls from ``P x interval`` to about ``ceil(P / r) x
interval``. Policies (one class each, registered in :data:`PLACEMENT_POLICIES`):

- ``none``: the bundle's own placement (one copy per layer unless the bundle says otherwise);
  today's results exactly.
- ``fixed``: copies per layer given by the user (a dict layer -> copies, unnamed layers 1).
- ``balance``: replicate layers in proportion to their work so that the pipeline's stages match,
  bottleneck first, as far as the chip's free PEs and the NoC links allow (see
  :class:`BalancePolicy`, :class:`NocLoad`).
- ``balance_training``: the same for a training step's stages, forward plus backward (see
  :class:`TrainingBalancePolicy`).

A policy's copies are placed afresh on the chip, every copy on fresh PEs
(:func:`rram_sim.placement.place` with ``fresh_pe_per_copy``), so copies never share a PE's ADC
bank or write drivers; in training every copy holds the same weights and each update writes all
of them (the engine's ``book_update`` counts ``written cells x copies`` pulses; the copies' write
drivers work in parallel).

Mapping policies for pruned layouts (:data:`MAPPING_POLICIES`): ``pack`` (the ``compact``
scheme's own cut, fewest crossbars) or ``spread`` (:func:`spread_layout`: fewer OU reads per
crossbar on more crossbars).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping

from rram_sim.config import Config
from rram_sim.engine.timing import (
    LayerGeometry,
    Phase,
    backward_phases,
    forward_phases,
    geometry_from_layout,
)
from rram_sim.errors import ConfigError
from rram_sim.layout import LayerLayout
from rram_sim.mapping.figures import network_figures
from rram_sim.mapping.layer import layout_from_index, unmap
from rram_sim.placement import place
from rram_sim.schemes import scheme_of
from rram_sim.schemes.packing import pack_nonzero

# Units each copy of a layer has for itself; the others (the home tile's eDRAM, bus and tile
# shift-and-add) are shared by the copies (docs/timing.md, "Pipeline").
PER_COPY_UNITS = ("index", "xbar", "adc", "shift_add", "grad")


def layer_positions(layout) -> int:
    """Output positions per image of a crossbar layer: its input vectors (MVMs) per image."""
    shape = tuple(layout.spec.output_shape)
    return int(shape[1]) * int(shape[2]) if len(shape) == 3 else 1


def copy_and_shared_hold_cycles(geom: LayerGeometry, cfg: Config,
                                phases: list[Phase] | None = None) -> tuple[int, int]:
    """Per forward vector (or per step of ``phases``): the largest hold on a unit each copy has
    for itself, and the largest hold on a unit the copies share (a unit used twice per vector
    holds the sum)."""
    per_unit: dict[str, int] = {}
    for p in forward_phases(geom, cfg) if phases is None else phases:
        per_unit[p.unit] = per_unit.get(p.unit, 0) + p.cycles
    own = max((c for u, c in per_unit.items() if u in PER_COPY_UNITS), default=0)
    shared = max((c for u, c in per_unit.items() if u not in PER_COPY_UNITS), default=0)
    return own, shared


def stage_cycles(positions: int, copies: int, own_cycles: int, shared_cycles: int) -> int:
    """Cycles per image of a crossbar layer's stage with ``copies`` copies: the busiest copy's
    ``ceil(positions / copies)`` vectors on its own units, or every vector on the shared units,
    whichever is longer."""
    return max(-(-positions // copies) * own_cycles, positions * shared_cycles)


def stage_balance(stage_cycles_per_image: Mapping[str, int]) -> tuple[str | None, int, float]:
    """``(bottleneck stage, its cycles per image, stage balance)`` of a pipeline's stages: the
    slowest stage (the first on a tie), the initiation interval it sets, and the mean stage time
    over the slowest (1.0 when every stage takes as long, or there is none)."""
    if not stage_cycles_per_image:
        return None, 0, 1.0
    slowest = max(stage_cycles_per_image, key=lambda k: stage_cycles_per_image[k])
    worst = stage_cycles_per_image[slowest]
    mean = sum(stage_cycles_per_image.values()) / len(stage_cycles_per_image)
    return slowest, worst, mean / worst if worst else 1.0


def pes_needed(n_crossbars: list[int], copies: list[int], cfg: Config,
               fresh_tile: bool = False) -> int:
    """PEs that :func:`rram_sim.placement.place` with ``fresh_pe_per_copy`` occupies (the next
    free PE after the last layer, a fresh tile per layer counted when ``fresh_tile``)."""
    per_pe, pes = cfg.pe.crossbars, cfg.tile.pes
    next_pe = 0
    for n, r in zip(n_crossbars, copies):
        if fresh_tile:
            next_pe = -(-next_pe // pes) * pes
        next_pe += r * -(-int(n) // per_pe)
    return next_pe


class PlacementPolicy(ABC):
    """Base class: ``copies(bundle, cfg)`` returns copies per layer name, or None for the
    bundle's own placement."""

    name = ""

    @abstractmethod
    def copies(self, bundle, cfg: Config) -> dict[str, int] | None:
        """Copies per layer name, or None for the bundle's own placement."""


class NonePolicy(PlacementPolicy):
    """Today: the bundle's own placement, unchanged."""

    name = "none"

    def copies(self, bundle, cfg: Config) -> dict[str, int] | None:
        return None


class FixedPolicy(PlacementPolicy):
    """Copies per layer given by the user (layers not named get one copy)."""

    name = "fixed"

    def __init__(self, copies_per_layer: Mapping[str, int]):
        self.copies_per_layer = dict(copies_per_layer)

    def copies(self, bundle, cfg: Config) -> dict[str, int]:
        names = [lay.spec.name for lay in bundle.layers]
        unknown = sorted(set(self.copies_per_layer) - set(names))
        if unknown:
            raise ConfigError(f"placement 'fixed': unknown layer(s) {', '.join(unknown)}; "
                              f"layers: {', '.join(names)}")
        out = {}
        for name in names:
            r = self.copies_per_layer.get(name, 1)
            if isinstance(r, bool) or not isinstance(r, int) or r < 1:
                raise ConfigError(f"placement 'fixed': copies of layer '{name}' = {r!r}: must be "
                                  f"an integer >= 1")
            out[name] = r
        return out


class NocLoad:
    """How long the messages into each stage hold the NoC links, per image, under a placement.

    The engine sends each output vector of a producer to its consumer's tiles as one multicast
    per chip (:func:`rram_sim.engine.messages.multicasts`), holding every link of the route for
    ``hops x noc.hop_latency_cycles + flits`` cycles; the producer's vectors follow one another on
    those links, so an edge holds them ``vectors x cycles`` per image. Copies spread a layer over
    more tiles and push later layers further away, so this grows with them. Returns, per stage,
    its slowest inbound edge (messages through one router, which hold no link, and the network
    input, which arrives off chip, count 0)."""

    def __init__(self, bundle, cfg: Config):
        from rram_sim.engine import plan_for
        from rram_sim.noc import topology_for

        self.cfg = cfg
        self.topology = topology_for(cfg)
        self.stages = plan_for(bundle, cfg, "multi_chip")   # names, inputs, vectors, values
        self.by_name = {st.name: st for st in self.stages}
        self.layer_of = {n.name: n.params.get("layer", n.name) for n in bundle.graph
                         if n.op in ("conv", "linear")}
        self.names = [lay.spec.name for lay in bundle.layers]
        self.n_xb = [int(lay.n_crossbars) for lay in bundle.layers]
        placement = getattr(bundle, "placement", None)
        self.fresh_tile = bool(placement.fresh_tile) if placement is not None else False

    def link_cycles(self, copies: Mapping[str, int]) -> dict[str, int]:
        from rram_sim.engine.messages import multicasts
        from rram_sim.engine.plan import tiles_from_placement

        pl = place(self.n_xb, self.cfg, names=self.names,
                   replication=[copies[n] for n in self.names], allow_multi_chip=True,
                   fresh_tile=self.fresh_tile, fresh_pe_per_copy=True)
        tiles, _ = tiles_from_placement(pl, self.cfg)
        where: dict[str, tuple[int, ...]] = {}
        out: dict[str, int] = {}
        bits = self.cfg.precision.input_bits
        for st in self.stages:
            if st.op == "input":
                where[st.name] = st.tiles   # the plan puts the input on tile 0
                continue
            key = self.layer_of.get(st.name)
            where[st.name] = tiles[key] if key is not None else (where[st.inputs[0]][0],)
            worst = 0
            for src in st.inputs:
                p = self.by_name[src]
                if p.op == "input":
                    continue
                msgs = multicasts(where[src][0], where[st.name], p.group_values(0) * bits,
                                  self.topology, self.cfg)
                held = max((m.cycles for m in msgs if m.links), default=0)
                worst = max(worst, p.groups * held)
            out[key if key is not None else st.name] = worst
        return out


class BalancePolicy(PlacementPolicy):
    """Replicate the bottleneck layer until the stages match or the chip is full.

    A layer's work per image is its output positions (vectors) x the read plan's hold per vector
    on its own units (:func:`copy_and_shared_hold_cycles`). Greedily: take the stage with the
    longest time per image (:func:`stage_cycles`); give it the fewest extra copies that shorten
    it; keep them if the network still fits one chip (:func:`pes_needed`). A stage that cannot
    be shortened (the chip has no room for its next copies, it is bound by its shared units, or
    it has one copy per position) is left as it is and the next-longest stage is taken, until no
    stage can be: the bottleneck sets the throughput, the shorter other stages cut the pipeline's
    fill and drain (which a short batch, such as a training step's, pays in full). With
    ``noc_aware`` (the default here) a stage also takes at least its inbound link time
    (:class:`NocLoad`) under the trial placement, and copies are kept only if their stage
    shortens and the slowest stage or link anywhere does not lengthen.

    ISAAC (Shafiee et al., ISCA 2016, section on balancing the pipeline) replicates layer ``i``'s
    weights in proportion to the output rate it must keep up with -- in practice early conv layers,
    which have the most output positions -- so every layer produces its outputs at the same rate.
    This rule differs: it weighs positions by the layer's measured step time from the read plan
    (pruned, compact or OU-bound layers count as they run, not by their position count alone),
    replicates one bottleneck at a time by whole copies until the chip is full (ISAAC sizes the
    chip for the replication instead), and leaves layers the chip cannot replicate with fewer
    copies than the balance would ask for. This policy balances the forward (inference) stages;
    :class:`TrainingBalancePolicy` balances a training step's.
    """

    name = "balance"
    noc_aware = True

    def stage_terms(self, bundle, cfg: Config) -> list[list[tuple[int, int, int]]]:
        """Per layer, the ``(vectors per image, own hold, shared hold)`` of each pass the rule
        balances; a layer's stage time is the sum of :func:`stage_cycles` over them."""
        return [[(layer_positions(lay),
                  *copy_and_shared_hold_cycles(geometry_from_layout(lay, cfg), cfg))]
                for lay in bundle.layers]

    def copies(self, bundle, cfg: Config) -> dict[str, int]:
        layouts = list(bundle.layers)
        names = [lay.spec.name for lay in layouts]
        n_xb = [int(lay.n_crossbars) for lay in layouts]
        placement = getattr(bundle, "placement", None)
        fresh_tile = bool(placement.fresh_tile) if placement is not None else False
        chip_pes = cfg.chip.tiles * cfg.tile.pes
        copies = [1] * len(layouts)
        if pes_needed(n_xb, copies, cfg, fresh_tile) > chip_pes:
            return dict(zip(names, copies))        # does not fit once: nothing to replicate
        terms = self.stage_terms(bundle, cfg)

        def time(i: int, r: int) -> int:
            return sum(stage_cycles(p, r, own, shared) for p, own, shared in terms[i])

        noc = NocLoad(bundle, cfg) if self.noc_aware else None

        def times_of(c: list[int]) -> tuple[list[int], int]:
            """Each layer's stage time (its own passes, or its inbound messages' link time when
            longer) and the longest link time into a stage that cannot be copied."""
            t = [time(i, c[i]) for i in range(len(layouts))]
            if noc is None:
                return t, 0
            inbound = noc.link_cycles(dict(zip(names, c)))
            t = [max(t[i], inbound.get(names[i], 0)) for i in range(len(layouts))]
            return t, max((v for k, v in inbound.items() if k not in names), default=0)

        times, other = times_of(copies)
        stuck: set[int] = set()
        while len(stuck) < len(layouts):
            i = max((k for k in range(len(layouts)) if k not in stuck), key=lambda k: times[k])
            r = copies[i]
            # the fewest copies that lower ceil(vectors / copies) of some pass
            wants = [-(-p // (-(-p // r) - 1)) for p, own, _ in terms[i]
                     if own > 0 and -(-p // r) > 1]
            trial = copies.copy()
            trial[i] = min(wants, default=r)
            if (not wants                                  # one copy per vector already
                    or time(i, trial[i]) >= times[i]       # bound by the shared eDRAM / bus
                    or pes_needed(n_xb, trial, cfg, fresh_tile) > chip_pes):
                stuck.add(i)                               # then the next-longest stage
                continue
            new, new_other = times_of(trial)
            # copies spread layers apart: keep them only if this stage shortens and the
            # slowest stage or link anywhere does not lengthen
            if new[i] >= times[i] or max(max(new), new_other) > max(max(times), other):
                stuck.add(i)
                continue
            copies, times, other = trial, new, new_other
        return dict(zip(names, copies))


class TrainingBalancePolicy(BalancePolicy):
    """:class:`BalancePolicy` for a training step: a layer's work per image is its forward
    vectors x forward hold plus as many backward steps (one per output position: the transposed
    read of its error and the weight gradient,
    :func:`rram_sim.engine.timing.backward_phases`) x their hold, each split
    over the copies.

    PipeLayer (Song et al., HPCA 2017) replicates a layer's weights by a *parallelism
    granularity* so that several of its inputs are processed at once, in training as in testing,
    and pipelines the layers' forward and backward passes within a batch. This rule differs: the
    copies per layer are not a chosen granularity but the result of balancing the measured
    forward-plus-backward stage times, bottleneck first, until the chip is full; a copy splits
    the layer's vectors (output positions forward, input positions backward) rather than whole
    images; the update writes every copy (the engine counts ``written cells x copies`` pulses)."""

    name = "balance_training"
    # NocLoad models the forward messages only; a training step's backward messages run the other
    # way and its copies pay off in the backward pass (measured: ResNet-20 on pipelayer, dense,
    # a 2.9x longer step when the forward link time capped the copies), so it is left out here.
    noc_aware = False

    def stage_terms(self, bundle, cfg: Config) -> list[list[tuple[int, int, int]]]:
        from_input = {n.name for n in bundle.graph if n.op == "input"}
        fed = {n.params.get("layer", n.name) for n in bundle.graph
               if any(i in from_input for i in n.inputs)}
        out = []
        for lay in bundle.layers:
            geom = geometry_from_layout(lay, cfg)
            p_out = layer_positions(lay)
            tiles = max(1, -(-geom.n_crossbars // (cfg.pe.crossbars * cfg.tile.pes)))
            back = backward_phases(geom, tiles, lay.spec.name in fed, cfg)
            out.append([(p_out, *copy_and_shared_hold_cycles(geom, cfg)),
                        (p_out, *copy_and_shared_hold_cycles(geom, cfg, back))])
        return out


# Mapping policies for pruned (``compact``) layouts: how the survivors of a column block are cut
# into crossbars.
MAPPING_POLICIES = ("pack", "spread")


def spread_layout(layout: LayerLayout, cfg: Config) -> LayerLayout:
    """A ``compact`` layout re-cut under the ``spread`` mapping policy; other schemes unchanged.

    ``pack`` (the compact scheme's own cut) fills each crossbar with up to ``crossbar.rows`` of a
    column block's surviving rows: the fewest crossbars, but the busiest crossbar reads as many
    OU row groups per input chunk as a dense one. ``spread`` deals the block's surviving rows
    evenly over as many crossbars as the dense mapping gives it (``ceil(K / crossbar.rows)``),
    each crossbar's rows rounded up to whole OUs (``ou.rows``): more crossbars (at most the dense
    layer's), fewer OU reads per crossbar and so a shorter hold per vector -- on chips whose OU is
    smaller than the crossbar (``edge``); where one read drives every row (``ou.rows ==
    crossbar.rows``, ISAAC, PipeLayer) nothing changes. The weights stored are the same."""
    if layout.scheme != "compact":
        return layout
    q = unmap(layout, cfg)
    height, width = scheme_of(layout.scheme).unit_shape(cfg)
    row_index, col_index = pack_nonzero(q, height, width, spread_chunks=-(-q.shape[0] // height),
                                        granule=cfg.ou.rows)
    return layout_from_index(layout.spec, layout.scheme, q, layout.weight_scale, row_index,
                             col_index, cfg, layout.bias)


def apply_mapping_policy(bundle, cfg: Config, mapping: str):
    """``bundle`` under mapping policy ``mapping`` (:data:`MAPPING_POLICIES`): ``pack`` returns
    it unchanged, ``spread`` re-cuts its ``compact`` layers (:func:`spread_layout`) and places
    the crossbars afresh under the bundle's own placement rules (copies, multi-chip, fresh
    tiles)."""
    if mapping not in MAPPING_POLICIES:
        raise ConfigError(f"mapping={mapping!r}: must be one of {', '.join(MAPPING_POLICIES)}")
    if mapping == "pack":
        return bundle
    layers = [spread_layout(lay, cfg) for lay in bundle.layers]
    old = bundle.placement
    placement = place([lay.n_crossbars for lay in layers], cfg, names=old.layer_names,
                      replication=old.replication, allow_multi_chip=old.allow_multi_chip,
                      fresh_tile=old.fresh_tile)
    figures = {**bundle.figures, **network_figures([lay.figures for lay in layers]),
               **placement.figures}
    return dataclasses.replace(bundle, layers=layers, placement=placement, figures=figures,
                               meta={**bundle.meta, "mapping_policy": mapping})


PLACEMENT_POLICIES: dict[str, type[PlacementPolicy]] = {
    NonePolicy.name: NonePolicy,
    FixedPolicy.name: FixedPolicy,
    BalancePolicy.name: BalancePolicy,
    TrainingBalancePolicy.name: TrainingBalancePolicy,
}


def parse_copies(text: str) -> dict[str, int]:
    """``"LAYER=N,LAYER=N"`` (the command line's ``--copies``) -> copies per layer name."""
    out: dict[str, int] = {}
    for item in text.split(","):
        name, sep, value = item.strip().rpartition("=")
        if not sep or not name or not value.strip().isdigit() or int(value) < 1:
            raise ConfigError(f"--copies {text!r}: each item must be LAYER=N with N an integer "
                              f">= 1 (got {item.strip()!r})")
        if name in out:
            raise ConfigError(f"--copies {text!r}: layer '{name}' given twice")
        out[name] = int(value)
    return out


def get_policy(name: str, copies_per_layer: Mapping[str, int] | None = None) -> PlacementPolicy:
    """The policy registered as ``name`` (``fixed`` takes ``copies_per_layer``)."""
    if name not in PLACEMENT_POLICIES:
        raise ConfigError(f"placement={name!r}: must be one of {', '.join(PLACEMENT_POLICIES)}")
    if name == FixedPolicy.name:
        if copies_per_layer is None:
            raise ConfigError("placement 'fixed' needs the copies per layer")
        return FixedPolicy(copies_per_layer)
    if copies_per_layer is not None:
        raise ConfigError(f"placement {name!r} takes no copies per layer (use 'fixed')")
    return PLACEMENT_POLICIES[name]()


__all__ = ["MAPPING_POLICIES", "PLACEMENT_POLICIES", "BalancePolicy", "FixedPolicy", "NonePolicy",
           "PlacementPolicy", "TrainingBalancePolicy", "apply_mapping_policy",
           "copy_and_shared_hold_cycles",
           "get_policy", "layer_positions", "parse_copies", "pes_needed", "spread_layout",
           "stage_balance", "stage_cycles"]
