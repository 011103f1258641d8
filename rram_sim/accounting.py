"""Accounting: where event counts meet component costs. The one place a run's energy and area are
computed; reports, sweeps, the demo and the plots read what it produces.

- **Counts of a stage** (:func:`stage_counts`): the crossbar events of its pass from the layer's
  read plan (:func:`rram_sim.kernels.forward_counts` / ``transposed_counts``, the same counts a
  functional run gives), the stage's eDRAM and bus traffic (:func:`buffer_traffic`), the weight
  fetch of a reload over the off-chip link, plus the events only the discrete-event run knows
  (flits, hops, digital operations, write pulses), recorded by the engine.
- **Dynamic energy** (:func:`dynamic_energy_pj`): counts x energy per event, per component.
- **Static energy** (:func:`static_energy_pj`): leakage x time of the tiles a run occupies (and
  their routers; the off-chip links always), including an index unit per crossbar wherever the
  mapping scheme reads through index tables.
- **Area** (:func:`area_figures`): the chip roll-up, with the index units of an indexed scheme.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rram_sim import costs, kernels
from rram_sim.config import Config
from rram_sim.counts import Counts
from rram_sim.engine import timing as T
from rram_sim.schemes import scheme_of


def is_indexed(scheme: str) -> bool:
    """Whether layouts of ``scheme`` read through index tables (AUTO-PRUNE's indexed datapath), so
    every crossbar has an index unit that leaks and takes area ('': a report of no bundle)."""
    return bool(scheme) and scheme_of(scheme).indexed


def stage_counts(rec, st, n_images: int, cfg: Config) -> Counts:
    """All event counts of one stage record (:class:`rram_sim.engine.model.StageRecord`) of stage
    ``st``: the read plan's crossbar counts for its pass, the buffer traffic of the stage
    (:func:`buffer_traffic`) and the engine's own counts.

    Forward: the forward read plan over every output position of every image. Backward: the
    transposed read plan (none for a layer fed by the network input: no error goes further back)
    plus the weight gradient, on the crossbars (``training.gradient_unit == "crossbar"``: one
    forward read per position) or on the digital gradient unit (one MAC per stored weight and
    position: pruned weights have no gradient). Update records hold the engine's write pulses; a
    reload record (one programming of the layer) also fetches the layer's stored weights over the
    off-chip link (the weights come from off-chip memory)."""
    total = Counts() + rec.counts
    if st is None:
        return total
    if rec.pass_name == "reload":
        if st.geom is not None:
            total.offchip_bytes += -(-T.weight_fetch_bits(st.geom, cfg) // 8)
        return total
    if rec.pass_name == "update":
        return total
    read_b, write_b = buffer_traffic(st, rec.pass_name, rec.first_layer, n_images, cfg)
    total.buffer_read_bytes += read_b
    total.buffer_write_bytes += write_b
    if st.layout is None:
        return total
    n_vec = st.positions * n_images
    if rec.pass_name == "forward":
        total += kernels.forward_counts(st.layout, cfg, n_vec)
        return total
    if not rec.first_layer:
        total += kernels.transposed_counts(st.layout, cfg, n_vec)
    if cfg.training.gradient_unit == "crossbar":
        total += kernels.forward_counts(st.layout, cfg, n_vec)
    else:   # one product input x error per stored weight and output position
        total.gradient_macs += T.stored_weights(st.geom, cfg) * n_vec
    return total


def buffer_traffic(st, pass_name: str, first_layer: bool, n_images: int,
                   cfg: Config) -> tuple[int, int]:
    """``(eDRAM bytes read, eDRAM bytes written)`` of one stage over ``n_images`` (values of
    ``precision.input_bits`` each; every byte read or written crosses the tile bus).

    A crossbar layer reads each input vector it applies (``inputs used`` values per output
    position: overlapping windows are read again, as the engine's load stage does) and writes its
    outputs (``N`` per position). Backward it reads the output errors and, for the gradient, the
    stored inputs, and writes the input errors (not for a layer fed by the network input). A
    digital stage reads its inputs (a pool: its window per output; an add: both operands) and
    writes its outputs; ``flatten`` moves nothing; the input stage writes the image."""
    vb = -(-cfg.precision.input_bits // 8)
    out_v = st.values * n_images
    if st.geom is not None:
        pos = st.positions * n_images
        k_used, n_out = st.geom.inputs_used, st.geom.cols_n
        if pass_name == "forward":
            return k_used * pos * vb, n_out * pos * vb
        reads = (n_out + k_used) * pos
        writes = 0 if first_layer else k_used * pos
        return reads * vb, writes * vb
    if st.op == "flatten":
        return 0, 0
    if st.op == "input":
        return (0, out_v * vb) if pass_name == "forward" else (0, 0)
    per_out = st.pool_k if st.op in ("maxpool", "avgpool") else 2 if st.op == "add" else 1
    return per_out * out_v * vb, out_v * vb


def dynamic_energy_pj(counts: Counts, cfg: Config) -> dict[str, float]:
    """Dynamic energy of ``counts`` per component of the cost library (pJ)."""
    return costs.dynamic_energy_pj(counts, cfg)


def static_energy_pj(cfg: Config, time_ns: float, tiles: Iterable[int], *,
                     indexed: bool) -> dict[str, float]:
    """Leakage over ``time_ns`` of the global tile ids ``tiles`` in use, chip by chip (each chip's
    routers serving them and its off-chip links included), per component (pJ)."""
    per_chip: dict[int, set[int]] = {}
    for t in tiles:
        per_chip.setdefault(t // cfg.chip.tiles, set()).add(t)
    out: dict[str, float] = {}
    for used in per_chip.values():
        for k, v in costs.leakage_energy_pj(cfg, time_ns, len(used), indexed=indexed).items():
            out[k] = out.get(k, 0.0) + v
    return out


def area_figures(cfg: Config, *, indexed: bool) -> dict[str, Any]:
    """Chip, tile and PE area and peak power of ``cfg`` (index units included when ``indexed``)."""
    roll = costs.rollup(cfg, indexed=indexed)
    return {"chip_area_mm2": roll.chip_area_mm2, "tile_area_mm2": roll.tile_area_mm2,
            "pe_area_um2": roll.pe_area_um2, "chip_peak_power_w": roll.chip_power_w,
            "tile_peak_power_mw": roll.tile_power_mw}


def by_category(per_component: dict[str, float], cfg: Config) -> dict[str, float]:
    """Per-component energies summed into the cost library's categories."""
    return costs.energy_by_category(per_component, cfg)


__all__ = ["area_figures", "by_category", "dynamic_energy_pj", "is_indexed",
           "buffer_traffic", "stage_counts", "static_energy_pj"]
