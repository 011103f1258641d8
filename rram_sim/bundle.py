"""Layout bundles: a whole mapped network on disk — what the front-end hands the simulator.

A bundle holds the chip configuration it was mapped for, every layer's :class:`LayerLayout`, the
:class:`~rram_sim.placement.Placement` of their crossbars, the network graph (how layers, pools and
activations connect) and optional golden test vectors (a layer's real input and its float and
exactly-quantized reference outputs) with which the simulator checks itself.

On disk a bundle is a directory with two files: ``manifest.json`` (everything that is not an array)
and ``arrays.npz`` (every array, uncompressed, loaded with ``allow_pickle=False``). It is written to
a temporary directory beside the target and renamed into place, so a reader never sees half a
bundle. :func:`load_bundle` trusts nothing: every key, shape, dtype, level, index and offset is
checked, and the first fault raises a one-line :class:`LayoutError` naming the layer and field.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rram_sim import __version__
from rram_sim.config import Config, from_dict
from rram_sim.errors import ConfigError, LayoutError, MappingError
from rram_sim.fileio import atomic_save_npz, atomic_write_json
from rram_sim.layout import FORMAT_VERSION, SCHEMES, LayerLayout, LayerSpec
from rram_sim.mapping import (
    check_spec,
    im2col,
    layer_figures,
    map_layer,
    network_figures,
    quantize_layer_weights,
    unit_shape,
    unroll_weight,
    used_positions,
)
from rram_sim.placement import Placement, place, placement_figures
from rram_sim.quant import qmax, quantize

GRAPH_OPS = ("input", "conv", "linear", "relu", "maxpool", "avgpool", "add", "flatten", "softmax")
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
_LAYER_ARRAYS = ("row_index", "col_index", "cells", "crossbar", "row_offset", "col_offset")


@dataclass
class GraphNode:
    """One node of the network graph. ``conv`` and ``linear`` nodes are named after their layer;
    ``params`` holds an op's settings (e.g. ``{"kernel": 2, "stride": 2}`` for a pool)."""

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Golden:
    """Reference vectors of one layer.

    ``input``: float ``[B, *spec.input_shape]``, the layer's real input. ``output``: the float
    reference ``[B, *spec.output_shape]`` (bias included). ``output_quantized``: the dequantized
    exact integer product ``(xq @ Wq) * sx * sw + bias`` of the quantized input (per-tensor scale
    over the batch, ``precision.input_bits``) and the quantized unrolled weights.
    """

    input: np.ndarray
    output: np.ndarray
    output_quantized: np.ndarray


@dataclass
class Bundle:
    """A mapped network: config, layers, placement, graph, golden vectors, figures, metadata."""

    config: Config
    scheme: str
    layers: list[LayerLayout]
    placement: Placement
    graph: list[GraphNode]
    golden: dict[str, Golden]
    figures: dict[str, Any]
    meta: dict[str, Any]

    def layer(self, name: str) -> LayerLayout:
        for lay in self.layers:
            if lay.spec.name == name:
                return lay
        raise LayoutError(f"bundle: no layer named '{name}'")


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------

def _per_layer(arg: Any, specs: Sequence[LayerSpec], what: str, required: bool) -> list[Any]:
    names = [s.name for s in specs]
    if arg is None:
        if required:
            raise MappingError(f"{what}: required, one per layer")
        return [None] * len(specs)
    if isinstance(arg, Mapping):
        unknown = sorted(set(arg) - set(names))
        if unknown:
            raise MappingError(f"{what}: unknown layer(s) {', '.join(unknown)}")
        missing = [n for n in names if n not in arg]
        if required and missing:
            raise MappingError(f"{what}: missing for layer(s) {', '.join(missing)}")
        return [arg.get(n) for n in names]
    arg = list(arg)
    if len(arg) != len(specs):
        raise MappingError(f"{what}: {len(arg)} given for {len(specs)} layers")
    return arg


def default_graph(specs: Sequence[LayerSpec]) -> list[GraphNode]:
    """A plain chain: input, then the layers in order, with a flatten before a linear layer that
    follows a conv. It has no activations or pools; pass a graph to describe them."""
    graph = [GraphNode("input", "input")]
    prev, prev_kind = "input", None
    for s in specs:
        if s.kind == "linear" and prev_kind == "conv":
            graph.append(GraphNode(f"{s.name}.flatten", "flatten", [prev]))
            prev = graph[-1].name
        graph.append(GraphNode(s.name, s.kind, [prev]))
        prev, prev_kind = s.name, s.kind
    return graph


def check_graph(graph: Sequence[GraphNode], specs: Sequence[LayerSpec], err: type) -> None:
    """Ops known, names unique, inputs defined earlier, every layer exactly once as its node."""
    kinds = {s.name: s.kind for s in specs}
    seen: set[str] = set()
    for i, node in enumerate(graph):
        where = f"graph node {i} ('{node.name}')"
        if not isinstance(node.name, str) or not node.name:
            raise err(f"graph node {i}: name {node.name!r} must be a non-empty string")
        if node.op not in GRAPH_OPS:
            raise err(f"{where}: op={node.op!r} must be one of {', '.join(GRAPH_OPS)}")
        if node.name in seen:
            raise err(f"{where}: duplicate node name")
        if not isinstance(node.params, dict):
            raise err(f"{where}: params must be a mapping")
        for src in node.inputs:
            if src not in seen:
                raise err(f"{where}: input '{src}' is not an earlier node")
        if node.op in ("conv", "linear"):
            if kinds.get(node.name) != node.op:
                raise err(f"{where}: a {node.op} node must be named after a {node.op} layer")
        elif node.name in kinds:
            raise err(f"{where}: layer '{node.name}' must be a {kinds[node.name]} node")
        if node.op == "input" and node.inputs:
            raise err(f"{where}: an input node takes no inputs")
        if node.op not in ("input",) and not node.inputs:
            raise err(f"{where}: op {node.op} needs at least one input")
        seen.add(node.name)
    missing = [n for n in kinds if n not in seen]
    if graph and missing:
        raise err(f"graph: layer(s) {', '.join(missing)} have no node")


def map_network(specs: Sequence[LayerSpec], weights: Any, cfg: Config, scheme: str = "dense",
                masks: Any = None, biases: Any = None, graph: Sequence[GraphNode] | None = None,
                replication: Any = None, allow_multi_chip: bool = False,
                fresh_tile: bool = False) -> Bundle:
    """Map every layer (weights, masks, biases: lists aligned with ``specs`` or dicts by layer
    name), place the crossbars, and gather the figures. Golden vectors start empty; add them with
    ``bundle.golden[name] = golden_from_numpy(...)``."""
    specs = list(specs)
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise MappingError(f"layers: duplicate name(s) {', '.join(dup)}")
    ws = _per_layer(weights, specs, "weights", required=True)
    ms = _per_layer(masks, specs, "masks", required=False)
    bs = _per_layer(biases, specs, "biases", required=False)
    layers = [map_layer(s, w, cfg, scheme, mask=m, bias=b) for s, w, m, b in zip(specs, ws, ms, bs)]
    graph = list(graph) if graph is not None else default_graph(specs)
    check_graph(graph, specs, MappingError)
    placement = place([lay.n_crossbars for lay in layers], cfg, names=names,
                      replication=replication, allow_multi_chip=allow_multi_chip,
                      fresh_tile=fresh_tile)
    figures = {**network_figures([lay.figures for lay in layers]), **placement.figures}
    meta = {"producer": "rram_sim.bundle.map_network", "rram_sim_version": __version__,
            "config_hash": cfg.config_hash()}
    return Bundle(config=cfg, scheme=scheme, layers=layers, placement=placement, graph=graph,
                  golden={}, figures=figures, meta=meta)


def golden_from_numpy(spec: LayerSpec, weight: np.ndarray, bias: np.ndarray | None,
                      x: np.ndarray, cfg: Config, mask: np.ndarray | None = None) -> Golden:
    """Reference outputs of one layer computed with numpy (float and exactly quantized)."""
    check_spec(spec)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[1:] != tuple(spec.input_shape) or x.shape[0] < 1:
        raise MappingError(f"layer '{spec.name}': golden input shape {x.shape} must be "
                           f"[B, {', '.join(map(str, spec.input_shape))}] with B >= 1")
    n = spec.matrix_shape[1]
    b = np.zeros(n) if bias is None else np.asarray(bias, dtype=np.float64)
    if b.shape != (n,):
        raise MappingError(f"layer '{spec.name}': bias shape {b.shape} must be ({n},)")
    wq, sw = quantize_layer_weights(weight, spec, cfg, mask)   # also validates weight and mask
    w = np.asarray(weight, dtype=np.float64)
    if mask is not None:
        w = np.where(np.asarray(mask).astype(bool), w, 0.0)
    out = im2col(x, spec) @ unroll_weight(w, spec) + b

    xq, sx = quantize(x, cfg.precision.input_bits)
    cols = im2col(xq, spec)
    bound = spec.matrix_shape[0] * qmax(cfg.precision.input_bits) * qmax(cfg.precision.weight_bits)
    # float64 BLAS is exact while every partial sum stays below 2**53; int64 otherwise.
    acc = (cols.astype(np.float64) @ wq.astype(np.float64) if bound < 2 ** 53
           else (cols @ wq).astype(np.float64))
    outq = acc * (sx * sw) + b
    return Golden(input=x, output=_to_output(out, spec, x.shape[0]),
                  output_quantized=_to_output(outq, spec, x.shape[0]))


def _to_output(m: np.ndarray, spec: LayerSpec, batch: int) -> np.ndarray:
    if spec.kind == "linear":
        return m
    n, oh, ow = spec.output_shape
    return m.reshape(batch, oh, ow, n).transpose(0, 3, 1, 2).copy()


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------

def _spec_to_dict(s: LayerSpec) -> dict[str, Any]:
    return {"name": s.name, "kind": s.kind, "weight_shape": [int(v) for v in s.weight_shape],
            "input_shape": [int(v) for v in s.input_shape], "stride": [int(v) for v in s.stride],
            "padding": [int(v) for v in s.padding]}


def _manifest(b: Bundle) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "config": b.config.to_dict(),
        "scheme": b.scheme,
        "layers": [{"spec": _spec_to_dict(lay.spec), "scheme": lay.scheme,
                    "weight_scale": float(lay.weight_scale), "n_crossbars": int(lay.n_crossbars),
                    "n_units": lay.n_units, "unit_rows": lay.unit_rows,
                    "unit_cols": lay.unit_cols, "has_bias": lay.bias is not None,
                    "figures": lay.figures} for lay in b.layers],
        "placement": b.placement.to_dict(),
        "graph": [{"name": g.name, "op": g.op, "inputs": list(g.inputs), "params": g.params}
                  for g in b.graph],
        "golden": list(b.golden),
        "figures": b.figures,
        "meta": b.meta,
    }


def _arrays(b: Bundle) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for i, lay in enumerate(b.layers):
        for key in _LAYER_ARRAYS:
            arrays[f"L{i}.{key}"] = getattr(lay, key)
        if lay.bias is not None:
            arrays[f"L{i}.bias"] = np.asarray(lay.bias, dtype=np.float64)
        arrays[f"P{i}.location"] = b.placement.location[i]
    for j, g in enumerate(b.golden.values()):
        arrays[f"G{j}.input"] = np.asarray(g.input, dtype=np.float64)
        arrays[f"G{j}.output"] = np.asarray(g.output, dtype=np.float64)
        arrays[f"G{j}.output_quantized"] = np.asarray(g.output_quantized, dtype=np.float64)
    return arrays


def save_bundle(bundle: Bundle, path: str | os.PathLike) -> None:
    """Write ``bundle`` as the directory ``path`` (manifest.json + arrays.npz), atomically.

    An existing bundle at ``path`` is replaced; any other existing file or non-empty directory is
    refused rather than deleted.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir() or (any(path.iterdir()) and not (path / MANIFEST).is_file()):
            raise LayoutError(f"bundle {path}: exists and is not a bundle directory; "
                              "refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(json.dumps(_manifest(bundle)))   # fails early on non-JSON metadata
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    old = None
    try:
        atomic_save_npz(tmp / ARRAYS, _arrays(bundle))
        atomic_write_json(tmp / MANIFEST, manifest)
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / "bundle")
        os.replace(tmp, path)
    except BaseException:
        if old is not None and not path.exists():
            os.replace(old / "bundle", path)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------

class _Checker:
    """Raises one-line LayoutErrors prefixed with the bundle path."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, msg: str) -> None:
        raise LayoutError(f"bundle {self.path}: {msg}")

    def key(self, d: Any, k: str, where: str, typ: type | tuple[type, ...]) -> Any:
        if not isinstance(d, dict) or k not in d:
            self.fail(f"{where}: missing key '{k}'")
        v = d[k]
        if not isinstance(v, typ) or (isinstance(v, bool) and typ is not bool):
            types = typ if isinstance(typ, tuple) else (typ,)
            self.fail(f"{where}.{k}={v!r}: must be of type {'/'.join(t.__name__ for t in types)}")
        return v


def _get_array(ck: _Checker, npz: Any, key: str, where: str, dtype: Any,
               shape: tuple[int | None, ...]) -> np.ndarray:
    """Array ``key`` of the given dtype and shape (``None`` in ``shape``: any length)."""
    if key not in npz.files:
        ck.fail(f"{where}: array '{key}' missing from {ARRAYS}")
    try:
        a = npz[key]
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        ck.fail(f"{where}: array '{key}' unreadable ({exc.__class__.__name__}: {exc})")
    if a.dtype != np.dtype(dtype):
        ck.fail(f"{where}: array '{key}' has dtype {a.dtype}, must be {np.dtype(dtype)}")
    if len(a.shape) != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        ck.fail(f"{where}: array '{key}' has shape {a.shape}, must be {want}")
    return a


def _spec_from(ck: _Checker, d: Any, where: str) -> LayerSpec:
    name = ck.key(d, "name", where, str)
    kind = ck.key(d, "kind", where, str)
    tup = {}
    for k in ("weight_shape", "input_shape", "stride", "padding"):
        v = ck.key(d, k, where, list)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
            ck.fail(f"{where}.{k}={v!r}: must be a list of integers")
        tup[k] = tuple(v)
    spec = LayerSpec(name=name, kind=kind, **tup)
    try:
        check_spec(spec)
    except MappingError as exc:
        ck.fail(f"{where}: {exc}")
    return spec


def _check_layer(ck: _Checker, lay: LayerLayout, cfg: Config, where: str) -> None:
    """Levels, index tables, duplicates, crossbar bounds and overlaps of one layer."""
    k, n = lay.spec.matrix_shape
    ri, ci, cells = lay.row_index, lay.col_index, lay.cells
    if cells.size and int(cells.max()) >= 2 ** cfg.cell.bits:
        ck.fail(f"{where}: cells: level {int(cells.max())} out of range 0..{2 ** cfg.cell.bits - 1}"
                f" for cell.bits={cfg.cell.bits}")
    for name, a, hi in (("row_index", ri, k), ("col_index", ci, n)):
        if a.size and (int(a.min()) < -1 or int(a.max()) >= hi):
            ck.fail(f"{where}: {name}: entries must lie in -1..{hi - 1} "
                    f"(found {int(a.min())}..{int(a.max())})")
    valid = used_positions(ri, ci)
    if np.any(cells[~valid]):
        ck.fail(f"{where}: cells: unused rows/columns must hold level 0")
    keys = (np.broadcast_to(ri[:, :, None].astype(np.int64), valid.shape)[valid] * n
            + np.broadcast_to(ci[:, None, :], valid.shape)[valid])
    counts = np.bincount(keys, minlength=1)
    if counts.size and counts.max() > 1:
        dup = int(np.argmax(counts))
        ck.fail(f"{where}: index tables: (row, col) pair ({dup // n}, {dup % n}) stored "
                f"{int(counts.max())} times")
    rows, cols = cfg.crossbar.rows, cfg.crossbar.cols
    width = lay.unit_cols * cfg.columns_per_weight
    for name, a in (("crossbar", lay.crossbar), ("row_offset", lay.row_offset),
                    ("col_offset", lay.col_offset)):
        if a.size and int(a.min()) < 0:
            ck.fail(f"{where}: {name}: negative entry {int(a.min())}")
    if lay.n_units and int(lay.crossbar.max()) >= lay.n_crossbars:
        ck.fail(f"{where}: crossbar: entry {int(lay.crossbar.max())} out of range for "
                f"n_crossbars={lay.n_crossbars}")
    if lay.n_units and int((lay.row_offset + lay.unit_rows).max()) > rows:
        ck.fail(f"{where}: row_offset: a unit of {lay.unit_rows} rows at row "
                f"{int(lay.row_offset.max())} overruns the crossbar's {rows} rows")
    if lay.n_units and int((lay.col_offset + width).max()) > cols:
        ck.fail(f"{where}: col_offset: a unit of {width} columns at column "
                f"{int(lay.col_offset.max())} overruns the crossbar's {cols} columns")
    # Overlap: every unit row is an interval [col_offset, col_offset + width) on one crossbar
    # line; sorted by (line, start), an overlap shows between neighbours on the same line.
    line = ((lay.crossbar.astype(np.int64) * rows + lay.row_offset)[:, None]
            + np.arange(lay.unit_rows)).ravel()
    start = np.repeat(lay.col_offset.astype(np.int64), lay.unit_rows)
    order = np.lexsort((start, line))
    line, start = line[order], start[order]
    clash = (line[1:] == line[:-1]) & (start[1:] < start[:-1] + width)
    if clash.any():
        i = int(np.flatnonzero(clash)[0])
        ck.fail(f"{where}: units overlap on crossbar {int(line[i] // rows)}, row "
                f"{int(line[i] % rows)}")


def _check_placement(ck: _Checker, m: Any, npz: Any, layers: list[LayerLayout],
                     cfg: Config) -> Placement:
    where = "placement"
    names = ck.key(m, "layer_names", where, list)
    if names != [lay.spec.name for lay in layers]:
        ck.fail(f"{where}.layer_names: must list the layers in order")
    reps = ck.key(m, "replication", where, list)
    if len(reps) != len(layers) or any(
            isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in reps):
        ck.fail(f"{where}.replication={reps!r}: must be one integer >= 1 per layer")
    fresh = ck.key(m, "fresh_tile", where, bool)
    multi = ck.key(m, "allow_multi_chip", where, bool)
    limits = np.array([np.iinfo(np.int32).max if multi else 1, cfg.chip.tiles, cfg.tile.pes,
                       cfg.pe.crossbars])
    locs, tiles_used = [], []
    for i, (lay, r) in enumerate(zip(layers, reps)):
        lw = f"layer '{lay.spec.name}' placement"
        loc = _get_array(ck, npz, f"P{i}.location", lw, np.int32, (r, lay.n_crossbars, 4))
        flat = loc.reshape(-1, 4)
        bad = (flat < 0) | (flat >= limits)
        if bad.any():
            f = int(np.flatnonzero(bad.any(0))[0])
            ck.fail(f"{lw}: location {['chip', 'tile', 'pe', 'slot'][f]} out of range "
                    f"0..{int(limits[f]) - 1}")
        locs.append(loc)
        tiles_used.append(int(np.unique(flat[:, :2], axis=0).shape[0]))
    allloc = np.concatenate([x.reshape(-1, 4) for x in locs] + [np.zeros((0, 4), np.int32)])
    if len(np.unique(allloc, axis=0)) != len(allloc):
        ck.fail(f"{where}: two crossbars share one (chip, tile, pe, slot) location")
    return Placement(layer_names=names, replication=reps, location=locs, tiles_used=tiles_used,
                     fresh_tile=fresh, allow_multi_chip=multi,
                     figures=placement_figures(locs, cfg))


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and validate a bundle directory written by :func:`save_bundle`."""
    path = Path(path)
    ck = _Checker(path)
    if not path.is_dir():
        ck.fail("not a bundle directory (missing or not a directory)")
    if not (path / MANIFEST).is_file():
        ck.fail(f"{MANIFEST} missing")
    if not (path / ARRAYS).is_file():
        ck.fail(f"{ARRAYS} missing")
    try:
        m = json.loads((path / MANIFEST).read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        ck.fail(f"{MANIFEST}: not valid JSON ({exc})")
    if not isinstance(m, dict):
        ck.fail(f"{MANIFEST}: must hold a JSON object")
    version = ck.key(m, "format_version", "manifest", int)
    if version > FORMAT_VERSION or version < 1:
        ck.fail(f"manifest.format_version={version}: this rram_sim reads versions 1.."
                f"{FORMAT_VERSION}; upgrade rram_sim to read it")
    try:
        cfg = from_dict(ck.key(m, "config", "manifest", dict))
    except ConfigError as exc:
        ck.fail(f"manifest.config invalid: {exc}")
    scheme = ck.key(m, "scheme", "manifest", str)
    if scheme not in SCHEMES:
        ck.fail(f"manifest.scheme={scheme!r}: must be one of {', '.join(SCHEMES)}")
    try:
        npz = np.load(path / ARRAYS, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        ck.fail(f"{ARRAYS}: not a readable .npz ({exc.__class__.__name__})")
    with npz:
        layers = []
        for i, d in enumerate(ck.key(m, "layers", "manifest", list)):
            spec = _spec_from(ck, ck.key(d, "spec", f"layers[{i}]", dict), f"layers[{i}].spec")
            where = f"layer '{spec.name}' ({i})"
            lscheme = ck.key(d, "scheme", where, str)
            if lscheme not in SCHEMES:
                ck.fail(f"{where}: scheme={lscheme!r} must be one of {', '.join(SCHEMES)}")
            scale = ck.key(d, "weight_scale", where, (int, float))
            if not (math.isfinite(scale) and scale > 0):
                ck.fail(f"{where}: weight_scale={scale!r} must be a finite number > 0")
            n_xb = ck.key(d, "n_crossbars", where, int)
            if n_xb < 0:
                ck.fail(f"{where}: n_crossbars={n_xb} must be >= 0")
            has_bias = ck.key(d, "has_bias", where, bool)
            ur, uc = unit_shape(lscheme, cfg)
            ri = _get_array(ck, npz, f"L{i}.row_index", where, np.int32, (None, ur))
            u = ri.shape[0]
            arr = {"row_index": ri,
                   "col_index": _get_array(ck, npz, f"L{i}.col_index", where, np.int32, (u, uc)),
                   "cells": _get_array(ck, npz, f"L{i}.cells", where, np.uint8,
                                       (u, ur, uc, cfg.columns_per_weight))}
            for k in ("crossbar", "row_offset", "col_offset"):
                arr[k] = _get_array(ck, npz, f"L{i}.{k}", where, np.int32, (u,))
            bias = (_get_array(ck, npz, f"L{i}.bias", where, np.float64,
                               (spec.matrix_shape[1],)) if has_bias else None)
            if bias is not None and not np.all(np.isfinite(bias)):
                ck.fail(f"{where}: bias contains NaN or infinity")
            lay = LayerLayout(spec=spec, scheme=lscheme, weight_scale=float(scale),
                              n_crossbars=n_xb, bias=bias, **arr)
            _check_layer(ck, lay, cfg, where)
            lay.figures = layer_figures(lay, cfg)
            layers.append(lay)
        names = [lay.spec.name for lay in layers]
        if len(set(names)) != len(names):
            ck.fail("layers: duplicate layer names")
        placement = _check_placement(ck, ck.key(m, "placement", "manifest", dict), npz, layers,
                                     cfg)
        graph = []
        for i, g in enumerate(ck.key(m, "graph", "manifest", list)):
            w = f"graph[{i}]"
            inputs = ck.key(g, "inputs", w, list)
            if not all(isinstance(s, str) for s in inputs):
                ck.fail(f"{w}.inputs: must be a list of node names")
            graph.append(GraphNode(ck.key(g, "name", w, str), ck.key(g, "op", w, str), inputs,
                                   ck.key(g, "params", w, dict)))
        try:
            check_graph(graph, [lay.spec for lay in layers], LayoutError)
        except LayoutError as exc:
            ck.fail(str(exc))
        golden = {}
        by_name = {lay.spec.name: lay.spec for lay in layers}
        for j, name in enumerate(ck.key(m, "golden", "manifest", list)):
            if name not in by_name or name in golden:
                ck.fail(f"golden[{j}]={name!r}: must name a layer, once")
            spec = by_name[name]
            w = f"golden '{name}'"
            x = _get_array(ck, npz, f"G{j}.input", w, np.float64, (None, *spec.input_shape))
            b = x.shape[0]
            golden[name] = Golden(
                input=x,
                output=_get_array(ck, npz, f"G{j}.output", w, np.float64,
                                  (b, *spec.output_shape)),
                output_quantized=_get_array(ck, npz, f"G{j}.output_quantized", w, np.float64,
                                            (b, *spec.output_shape)))
        meta = ck.key(m, "meta", "manifest", dict)
        ck.key(m, "figures", "manifest", dict)
    figures = {**network_figures([lay.figures for lay in layers]), **placement.figures}
    return Bundle(config=cfg, scheme=scheme, layers=layers, placement=placement, graph=graph,
                  golden=golden, figures=figures, meta=meta)
