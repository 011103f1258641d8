"""Masks: validation against a model, application, sparsity report, atomic save / load."""

import json

import numpy as np
import pytest
import torch

from pruning.errors import MaskError
from pruning.masks import Masks, prunable_names
from pruning.models import build_model

pytestmark = pytest.mark.torch


def _model():
    torch.manual_seed(0)
    return build_model("digits_cnn", 10, 1, 0.25, 8)


def test_validate_names_and_shapes():
    m = _model()
    with pytest.raises(MaskError, match="no parameter"):
        Masks({"nope.weight": np.ones(3, bool)}).validate(m)
    with pytest.raises(MaskError, match="shape"):
        Masks({"features.0.weight": np.ones((1, 1), bool)}).validate(m)
    with pytest.raises(MaskError, match="0/1"):
        Masks({"x": np.array([0.5])})


def test_apply_and_report():
    m = _model()
    ones = Masks.ones_like(m)
    assert ones.names() == prunable_names(m) and ones.sparsity() == 0.0
    w = dict(m.named_parameters())["features.0.weight"]
    mk = np.zeros(tuple(w.shape), bool)
    mk[0] = True
    masks = Masks({"features.0.weight": mk}).validate(m)
    masks.apply(m)
    assert torch.count_nonzero(w[1:]) == 0 and torch.count_nonzero(w[0]) > 0
    rep = masks.report()
    assert rep["layers"]["features.0.weight"]["kept"] == mk[0].size
    assert rep["sparsity"] == pytest.approx(1 - 1 / w.shape[0])
    both = masks & ones
    assert both["features.0.weight"].sum() == mk.sum() and len(both) == len(ones)


def test_save_load_roundtrip(tmp_path):
    m = _model()
    rng = np.random.default_rng(0)
    masks = Masks({n: rng.random(v.shape) > 0.5 for n, v in Masks.ones_like(m).items()})
    p = masks.save(tmp_path / "round1")
    assert p.name == "round1.npz"
    rep = json.loads((tmp_path / "round1.json").read_text())
    assert rep["sparsity"] == pytest.approx(masks.sparsity())
    assert Masks.load(tmp_path / "round1.npz") == masks
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(MaskError, match="no such"):
        Masks.load(tmp_path / "missing")
