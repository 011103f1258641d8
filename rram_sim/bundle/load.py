"""Loading a bundle: :func:`load_bundle` trusts nothing. Every key, shape, dtype, level, index
and offset is checked (arrays are read with ``allow_pickle=False``), and the first fault raises a
one-line :class:`LayoutError` naming the bundle, the layer and the field.

Limits come before work (:mod:`rram_sim.limits`): the manifest's size and nesting depth, every
array's ``.npy`` header against the bytes its member really holds (so a header claiming terabytes
is refused before numpy allocates them), layer shapes against a sane maximum. The graph is checked
whole (:func:`rram_sim.graph.check_graph`: op parameters, structure, and shapes propagated through
every node against every layer), golden vectors must be finite, and scheme names are looked up in
the scheme registry (:func:`rram_sim.schemes.scheme_names`), so a scheme registered at run time
loads."""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rram_sim.bundle.evalset import load_eval_set
from rram_sim.bundle.types import ARRAYS, BUNDLE_FORMAT_VERSION, MANIFEST, Bundle, Golden
from rram_sim.config import Config, from_dict
from rram_sim.errors import ConfigError, LayoutError, MappingError
from rram_sim.graph import GraphNode, check_graph, graph_shapes
from rram_sim.layout import LayerLayout, LayerSpec
from rram_sim.limits import (
    MAX_DIM,
    MAX_JSON_DEPTH,
    MAX_NAME_CHARS,
    MAX_TEXT_BYTES,
    check_shape,
    json_depth,
    npz_member_problem,
    short_repr,
)
from rram_sim.mapping import check_spec, layer_figures, network_figures, unit_shape, used_positions
from rram_sim.placement import Placement, placement_figures
from rram_sim.schemes import scheme_names


class _Checker:
    """Raises one-line LayoutErrors prefixed with the bundle path."""

    def __init__(self, path: Path, archive_bytes: int = 0):
        self.path = path
        self.archive_bytes = archive_bytes   # size of arrays.npz, the most any array may claim

    def fail(self, msg: str) -> None:
        raise LayoutError(f"bundle {self.path}: {msg}")

    def key(self, d: Any, k: str, where: str, typ: type | tuple[type, ...]) -> Any:
        if not isinstance(d, dict) or k not in d:
            self.fail(f"{where}: missing key '{k}'")
        v = d[k]
        if not isinstance(v, typ) or (isinstance(v, bool) and typ is not bool):
            types = typ if isinstance(typ, tuple) else (typ,)
            self.fail(f"{where}.{k}={short_repr(v)}: must be of type "
                      f"{'/'.join(t.__name__ for t in types)}")
        return v


def _get_array(ck: _Checker, npz: Any, key: str, where: str, dtype: Any,
               shape: tuple[int | None, ...]) -> np.ndarray:
    """Array ``key`` of the given dtype and shape (``None`` in ``shape``: any length)."""
    if key not in npz.files:
        ck.fail(f"{where}: array '{key}' missing from {ARRAYS}")
    problem = npz_member_problem(npz, key, ck.archive_bytes)   # before numpy allocates anything
    if problem:
        ck.fail(f"{where}: array '{key}' unreadable ({problem})")
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
    if len(name) > MAX_NAME_CHARS:
        ck.fail(f"{where}.name={short_repr(name)}: longer than {MAX_NAME_CHARS} characters")
    kind = ck.key(d, "kind", where, str)
    tup = {}
    for k in ("weight_shape", "input_shape", "stride", "padding"):
        v = ck.key(d, k, where, list)
        if len(v) > 4 or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
            ck.fail(f"{where}.{k}={short_repr(v)}: must be a list of at most 4 integers")
        if any(abs(i) > MAX_DIM for i in v):
            ck.fail(f"{where}.{k}={short_repr(v)}: entries must not exceed {MAX_DIM}")
        tup[k] = tuple(v)
    spec = LayerSpec(name=name, kind=kind, **tup)
    try:
        check_spec(spec)
    except MappingError as exc:
        ck.fail(f"{where}: {exc}")
    for what, shape in (("weight_shape", spec.weight_shape), ("input_shape", spec.input_shape),
                        ("output_shape", spec.output_shape)):
        problem = check_shape(shape, f"{where}: layer {short_repr(name)} {what} {shape}")
        if problem:
            ck.fail(problem)
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
        ck.fail(f"{where}.replication={short_repr(reps)}: must be one integer >= 1 per layer")
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
    ck.archive_bytes = (path / ARRAYS).stat().st_size
    size = (path / MANIFEST).stat().st_size
    if size > MAX_TEXT_BYTES:
        ck.fail(f"{MANIFEST}: {size} bytes, more than the limit of {MAX_TEXT_BYTES}")
    try:
        m = json.loads((path / MANIFEST).read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        ck.fail(f"{MANIFEST}: not a text file")
    except RecursionError:
        ck.fail(f"{MANIFEST}: nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    except ValueError as exc:   # json.JSONDecodeError, or an integer too long to convert
        ck.fail(f"{MANIFEST}: not valid JSON ({str(exc).split(';')[0][:120]})")
    if not isinstance(m, dict):
        ck.fail(f"{MANIFEST}: must hold a JSON object")
    if json_depth(m) > MAX_JSON_DEPTH:
        ck.fail(f"{MANIFEST}: nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    version = ck.key(m, "format_version", "manifest", int)
    if version > BUNDLE_FORMAT_VERSION or version < 1:
        ck.fail(f"manifest.format_version={version}: this rram_sim reads versions 1.."
                f"{BUNDLE_FORMAT_VERSION}; upgrade rram_sim to read it")
    try:
        cfg = from_dict(ck.key(m, "config", "manifest", dict), source=path / MANIFEST)
    except ConfigError as exc:
        ck.fail(f"manifest.config invalid: {exc}")
    scheme = ck.key(m, "scheme", "manifest", str)
    if scheme not in scheme_names():
        ck.fail(f"manifest.scheme={short_repr(scheme)}: must be one of "
                f"{', '.join(scheme_names())}")
    try:
        npz = np.load(path / ARRAYS, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        ck.fail(f"{ARRAYS}: not a readable .npz ({exc.__class__.__name__})")
    with npz:
        layers = []
        for i, d in enumerate(ck.key(m, "layers", "manifest", list)):
            spec = _spec_from(ck, ck.key(d, "spec", f"layers[{i}]", dict), f"layers[{i}].spec")
            where = f"layer {short_repr(spec.name)} ({i})"
            lscheme = ck.key(d, "scheme", where, str)
            if lscheme not in scheme_names():
                ck.fail(f"{where}: scheme={short_repr(lscheme)} must be one of "
                        f"{', '.join(scheme_names())}")
            scale = ck.key(d, "weight_scale", where, (int, float))
            if not (math.isfinite(scale) and scale > 0):
                ck.fail(f"{where}: weight_scale={short_repr(scale)} must be a finite number > 0")
            n_xb = ck.key(d, "n_crossbars", where, int)
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
            # every crossbar holds at least one unit; the count sizes arrays later
            if not 0 <= n_xb <= u:
                ck.fail(f"{where}: n_crossbars={short_repr(n_xb)} must lie in 0..{u} (the layer's "
                        f"units)")
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
            if not isinstance(name, str) or name not in by_name or name in golden:
                ck.fail(f"golden[{j}]={short_repr(name)}: must name a layer, once")
            spec = by_name[name]
            w = f"golden '{name}'"
            x = _get_array(ck, npz, f"G{j}.input", w, np.float64, (None, *spec.input_shape))
            b = x.shape[0]
            g = Golden(
                input=x,
                output=_get_array(ck, npz, f"G{j}.output", w, np.float64,
                                  (b, *spec.output_shape)),
                output_quantized=_get_array(ck, npz, f"G{j}.output_quantized", w, np.float64,
                                            (b, *spec.output_shape)))
            for k in ("input", "output", "output_quantized"):
                # NaN compares false with everything, so a NaN reference would verify as PASS
                if not np.all(np.isfinite(getattr(g, k))):
                    ck.fail(f"{w}: array 'G{j}.{k}' contains NaN or infinity")
            golden[name] = g
        meta = ck.key(m, "meta", "manifest", dict)
        ck.key(m, "figures", "manifest", dict)
        in_shape = (graph_shapes(graph, [lay.spec for lay in layers])[graph[0].name] if graph
                    else None)
        eval_set = load_eval_set(ck, m, npz, version, in_shape, _get_array)
    figures = {**network_figures([lay.figures for lay in layers]), **placement.figures}
    b = Bundle(config=cfg, scheme=scheme, layers=layers, placement=placement, graph=graph,
               golden=golden, figures=figures, meta=meta, eval_set=eval_set)
    problem = b.eval_set_problem()
    if problem:
        ck.fail(f"eval set: {problem}")
    return b
