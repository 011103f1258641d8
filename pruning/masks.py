"""Pruning masks: which weights of a model are kept.

A :class:`Masks` maps parameter names (as in ``model.named_parameters()``) to boolean arrays of the
parameter's shape; ``True`` keeps a weight, ``False`` removes it. Parameters without a mask are kept
whole. Masks are validated against a model (every name exists, every shape matches), applied by
zeroing removed weights, reported as per-parameter sparsity, and saved as an ``.npz`` of boolean
arrays (read back with ``allow_pickle=False``) plus a JSON sparsity report next to it, both written
atomically.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pruning.errors import MaskError
from rram_sim.fileio import atomic_save_npz, atomic_write_json


class Masks:
    """A validated ``{parameter name: bool array}``."""

    def __init__(self, masks: dict[str, np.ndarray] | None = None) -> None:
        self._m: dict[str, np.ndarray] = {}
        for name, m in (masks or {}).items():
            a = m.detach().cpu().numpy() if isinstance(m, torch.Tensor) else np.asarray(m)
            if a.dtype != np.bool_:
                if not np.isin(a, (0, 1)).all():
                    raise MaskError(f"mask '{name}': values must be 0/1 or boolean")
                a = a.astype(bool)
            self._m[str(name)] = a

    # mapping-like access
    def __getitem__(self, name: str) -> np.ndarray:
        return self._m[name]

    def __contains__(self, name: object) -> bool:
        return name in self._m

    def __iter__(self):
        return iter(self._m)

    def __len__(self) -> int:
        return len(self._m)

    def items(self):
        return self._m.items()

    def names(self) -> list[str]:
        return list(self._m)

    def get(self, name: str, default: Any = None) -> Any:
        return self._m.get(name, default)

    def copy(self) -> Masks:
        return Masks({k: v.copy() for k, v in self._m.items()})

    def __and__(self, other: Masks) -> Masks:
        """Keep a weight only where both masks keep it (names of either side)."""
        out = {k: v.copy() for k, v in self._m.items()}
        for k, v in other.items():
            out[k] = out[k] & v if k in out else v.copy()
        return Masks(out)

    @classmethod
    def ones_like(cls, model: nn.Module, names: list[str] | None = None) -> Masks:
        """Keep-everything masks for the named parameters (default: every conv/linear weight)."""
        params = dict(model.named_parameters())
        names = names if names is not None else prunable_names(model)
        return cls({n: np.ones(tuple(params[n].shape), dtype=bool) for n in names})

    def validate(self, model: nn.Module) -> Masks:
        params = dict(model.named_parameters())
        for name, m in self._m.items():
            if name not in params:
                raise MaskError(f"mask '{name}': the model has no parameter of that name")
            if tuple(m.shape) != tuple(params[name].shape):
                raise MaskError(f"mask '{name}': shape {tuple(m.shape)} does not match the "
                                f"parameter's {tuple(params[name].shape)}")
        return self

    @torch.no_grad()
    def apply(self, model: nn.Module) -> None:
        """Zero every removed weight in place (call after each optimizer step)."""
        params = dict(model.named_parameters())
        for name, m in self._m.items():
            p = params[name]
            p.mul_(torch.from_numpy(m).to(device=p.device, dtype=p.dtype))

    def report(self) -> dict[str, Any]:
        """Per-parameter and total kept / total counts and sparsity (fraction removed)."""
        layers = {}
        kept_all = total_all = 0
        for name, m in self._m.items():
            kept, total = int(m.sum()), int(m.size)
            layers[name] = {"kept": kept, "total": total,
                            "sparsity": 1.0 - kept / total if total else 0.0}
            kept_all += kept
            total_all += total
        return {"layers": layers, "kept": kept_all, "total": total_all,
                "sparsity": 1.0 - kept_all / total_all if total_all else 0.0}

    def sparsity(self) -> float:
        return float(self.report()["sparsity"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``PATH.npz`` (masks) and ``PATH.json`` (sparsity report), atomically."""
        p = Path(path)
        base = p.with_suffix("") if p.suffix in (".npz", ".json") else p
        atomic_save_npz(base.with_suffix(".npz"), dict(self._m))
        atomic_write_json(base.with_suffix(".json"), self.report())
        return base.with_suffix(".npz")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Masks:
        p = Path(path)
        if p.suffix != ".npz":
            p = p.with_suffix(".npz")
        if not p.is_file():
            raise MaskError(f"{p}: no such mask file")
        # A damaged, foreign or object-array file is one line naming it, never a traceback.
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MaskError(f"{p}: not a mask file ({why})") from None
        for k, a in arrays.items():
            if a.dtype.kind not in "biuf" or not np.isfinite(a.astype(np.float64)).all():
                raise MaskError(f"{p}: mask '{k}' must hold finite numbers, got dtype {a.dtype}")
        return cls(arrays)

    def to_tensors(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v.copy()) for k, v in self._m.items()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Masks) or set(self._m) != set(other._m):
            return False
        return all(np.array_equal(v, other._m[k]) for k, v in self._m.items())

    def __repr__(self) -> str:
        return f"Masks({len(self._m)} parameters, sparsity {self.sparsity():.3f})"


def prunable_names(model: nn.Module) -> list[str]:
    """Names of the weights that map onto crossbars: every Conv2d and Linear ``weight``."""
    out = []
    for mname, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            out.append(f"{mname}.weight" if mname else "weight")
    return out


def json_report(masks: Masks) -> str:
    return json.dumps(masks.report(), indent=2)
