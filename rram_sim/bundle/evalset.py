"""The evaluation set a bundle may carry: labelled samples of the model's test split, with which
the simulator measures the accuracy of the network on the crossbars (:mod:`rram_sim.accuracy`).

On disk: the manifest's ``eval_set`` block (``samples``, ``classes``, ``source`` and, when the
front-end measured it, ``float_accuracy``: the float model's top-1 accuracy on these samples) and
two arrays, ``E.x`` (float32 ``[N, *input shape]``) and ``E.labels`` (int64 ``[N]``, each in
``0..classes-1``). A bundle with an eval set is written as format version 2
(:data:`~rram_sim.bundle.types.BUNDLE_FORMAT_VERSION`); one without is written as version 1,
byte for byte as before, and loads with ``eval_set = None`` (:data:`NO_EVAL_SET` says how to get
one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rram_sim.errors import LayoutError
from rram_sim.limits import short_repr

EVAL_X, EVAL_LABELS = "E.x", "E.labels"
NO_EVAL_SET = ("has no eval set (labelled test samples); export it with "
               "`rram-prune export --eval-samples N` to measure accuracy")


@dataclass
class EvalSet:
    """Labelled samples of the test split: ``x`` float32 ``[N, *input shape]``, ``labels`` int64
    ``[N]`` in ``0..classes-1``; ``float_accuracy``: the float model's top-1 accuracy on them, when
    the front-end measured it."""

    x: np.ndarray
    labels: np.ndarray
    classes: int
    source: str = ""
    float_accuracy: float | None = None

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        self.labels = np.ascontiguousarray(self.labels, dtype=np.int64)
        problem = self.problem()
        if problem:
            raise LayoutError(f"eval set: {problem}")

    def problem(self, input_shape: tuple[int, ...] | None = None) -> str | None:
        """The first broken rule of this eval set (None: valid)."""
        n = self.labels.shape[0] if self.labels.ndim == 1 else -1
        if n < 1:
            return f"labels must be a non-empty 1-D array, got shape {self.labels.shape}"
        if self.x.ndim < 2 or self.x.shape[0] != n:
            return f"x must have shape [{n}, ...] (one sample per label), got {self.x.shape}"
        if input_shape is not None and tuple(self.x.shape[1:]) != tuple(input_shape):
            return (f"samples of shape {tuple(self.x.shape[1:])} do not match the network's "
                    f"input shape {tuple(input_shape)}")
        if not np.all(np.isfinite(self.x)):
            return "x contains NaN or infinity"
        if isinstance(self.classes, bool) or not isinstance(self.classes, int) \
                or self.classes < 1:
            return f"classes={short_repr(self.classes)} must be an integer >= 1"
        if self.labels.min() < 0 or self.labels.max() >= self.classes:
            return (f"labels must lie in 0..{self.classes - 1} (found "
                    f"{int(self.labels.min())}..{int(self.labels.max())})")
        fa = self.float_accuracy
        if fa is not None and (isinstance(fa, bool) or not isinstance(fa, (int, float))
                               or not math.isfinite(fa) or not 0 <= fa <= 1):
            return f"float_accuracy={short_repr(fa)} must be a number in [0, 1] or null"
        return None

    def manifest(self) -> dict[str, Any]:
        return {"samples": int(self.labels.shape[0]), "classes": int(self.classes),
                "source": self.source, "float_accuracy": self.float_accuracy}

    def arrays(self) -> dict[str, np.ndarray]:
        return {EVAL_X: self.x, EVAL_LABELS: self.labels}


def load_eval_set(ck: Any, m: dict[str, Any], npz: Any, version: int,
                  input_shape: tuple[int, ...] | None, get_array: Any) -> EvalSet | None:
    """The eval set of a manifest ``m`` (None when it has none), every field checked; ``ck`` and
    ``get_array`` are the loader's checker and array reader, ``input_shape`` the network's input
    shape (None: the bundle has no graph)."""
    if "eval_set" not in m or m["eval_set"] is None:
        return None
    if version < 2:
        ck.fail(f"manifest.eval_set: needs format_version 2 (the manifest says {version})")
    if input_shape is None:
        ck.fail("manifest.eval_set: a bundle without a network graph cannot hold an eval set")
    d = ck.key(m, "eval_set", "manifest", dict)
    n = ck.key(d, "samples", "eval_set", int)
    classes = ck.key(d, "classes", "eval_set", int)
    source = ck.key(d, "source", "eval_set", str)
    fa = d.get("float_accuracy")
    if n < 1:
        ck.fail(f"eval_set.samples={n}: must be >= 1")
    x = get_array(ck, npz, EVAL_X, "eval set", np.float32, (n, *input_shape))
    labels = get_array(ck, npz, EVAL_LABELS, "eval set", np.int64, (n,))
    try:
        return EvalSet(x=x, labels=labels, classes=classes, source=source, float_accuracy=fa)
    except LayoutError as exc:
        ck.fail(str(exc))
    return None   # unreachable: ck.fail raises
