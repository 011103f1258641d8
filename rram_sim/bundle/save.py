"""Saving a bundle: ``manifest.json`` (everything that is not an array) and ``arrays.npz`` (every
array, uncompressed), written to a temporary directory beside the target and renamed into place,
so a reader never sees half a bundle."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rram_sim.bundle.types import ARRAYS, BUNDLE_FORMAT_VERSION, LAYER_ARRAYS, MANIFEST, Bundle
from rram_sim.errors import LayoutError
from rram_sim.fileio import atomic_save_npz, atomic_write_json
from rram_sim.layout import FORMAT_VERSION, LayerSpec


def _spec_to_dict(s: LayerSpec) -> dict[str, Any]:
    return {"name": s.name, "kind": s.kind, "weight_shape": [int(v) for v in s.weight_shape],
            "input_shape": [int(v) for v in s.input_shape], "stride": [int(v) for v in s.stride],
            "padding": [int(v) for v in s.padding]}


def _manifest(b: Bundle) -> dict[str, Any]:
    m = {
        "format_version": FORMAT_VERSION if b.eval_set is None else BUNDLE_FORMAT_VERSION,
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
    if b.eval_set is not None:
        m["eval_set"] = b.eval_set.manifest()
    return m


def _arrays(b: Bundle) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for i, lay in enumerate(b.layers):
        for key in LAYER_ARRAYS:
            arrays[f"L{i}.{key}"] = getattr(lay, key)
        if lay.bias is not None:
            arrays[f"L{i}.bias"] = np.asarray(lay.bias, dtype=np.float64)
        arrays[f"P{i}.location"] = b.placement.location[i]
    for j, g in enumerate(b.golden.values()):
        arrays[f"G{j}.input"] = np.asarray(g.input, dtype=np.float64)
        arrays[f"G{j}.output"] = np.asarray(g.output, dtype=np.float64)
        arrays[f"G{j}.output_quantized"] = np.asarray(g.output_quantized, dtype=np.float64)
    if b.eval_set is not None:
        arrays.update(b.eval_set.arrays())
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
    problem = bundle.eval_set_problem()
    if problem:
        raise LayoutError(f"bundle {path}: eval set: {problem}")
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
