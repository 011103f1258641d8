"""Training: accuracy on digits, determinism, resumption after a kill, masks kept applied."""

import numpy as np
import pytest
import torch

from pruning.checkpoint import load_checkpoint, model_from_checkpoint
from pruning.data import get_data
from pruning.errors import CheckpointError
from pruning.masks import Masks
from pruning.models import build_model
from pruning.train import seed_everything, train

pytestmark = pytest.mark.torch

SPEC = {"name": "digits_cnn", "num_classes": 10, "in_channels": 1, "width": 0.5,
        "image_size": 8}


def _fresh(seed=0):
    seed_everything(seed)
    return build_model(**SPEC), get_data("digits", batch_size=128, seed=seed)


def _weights(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_digits_cnn_reaches_90_percent():
    seed_everything(0)
    m = build_model("digits_cnn", 10, 1, 1.0, 8)
    d = get_data("digits", batch_size=32, seed=0)
    r = train(m, d, 4, optimizer="adam", lr=3e-3, weight_decay=0.0, seed=0, progress=False)
    assert r.test_acc >= 0.90
    assert len(r.history) == 4 and r.history[-1]["train_loss"] < r.history[0]["train_loss"]


def test_same_seed_same_weights():
    a, d = _fresh()
    train(a, d, 1, seed=3, progress=False)
    b, d = _fresh()
    train(b, d, 1, seed=3, progress=False)
    c, d = _fresh()
    train(c, d, 1, seed=4, progress=False)
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_resume_after_kill_equals_uninterrupted(tmp_path):
    full, d = _fresh()
    train(full, d, 2, seed=1, progress=False)
    # an uninterrupted run writing checkpoints gives the same result as one without
    part, d = _fresh()
    r1 = train(part, d, 2, seed=1, progress=False, checkpoint_dir=tmp_path, model_spec=SPEC)
    ck = load_checkpoint(tmp_path)
    assert ck["epoch"] == 2
    assert all(torch.equal(v, _weights(full)[k]) for k, v in _weights(part).items())
    # Now a true interruption: run epoch 1 only into a fresh folder, then resume to 2 epochs.
    part, d = _fresh()
    _interrupted(part, d, tmp_path / "k")
    again, d = _fresh(seed=9)  # a different model init: everything must come from the checkpoint
    r = train(again, d, 2, seed=1, progress=False, checkpoint_dir=tmp_path / "k", model_spec=SPEC)
    assert r.resumed_from == 1 and len(r.history) == 2
    wf, wr = _weights(full), _weights(again)
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
    assert r.test_acc == r1.test_acc


def _interrupted(model, data, folder):
    """Train epoch 1 of a 2-epoch run, then stop as if killed (raise inside epoch 2)."""
    calls = {"n": 0}
    orig = data.val

    class Boom(Exception):
        """Stands for the kill."""

    class KillOnSecondVal:
        def __iter__(self):
            calls["n"] += 1
            if calls["n"] == 2:
                raise Boom
            return iter(orig)

    data.val = KillOnSecondVal()
    with pytest.raises(Boom):
        train(model, data, 2, seed=1, progress=False, checkpoint_dir=folder, model_spec=SPEC)
    data.val = orig
    assert load_checkpoint(folder)["epoch"] == 1


def test_resume_with_other_settings_is_refused(tmp_path):
    m, d = _fresh()
    train(m, d, 1, seed=0, progress=False, checkpoint_dir=tmp_path, model_spec=SPEC)
    with pytest.raises(CheckpointError, match="settings"):
        train(m, d, 1, lr=0.01, seed=0, progress=False, checkpoint_dir=tmp_path)


def test_masks_stay_applied_and_checkpoint_rebuilds(tmp_path):
    m, d = _fresh()
    rng = np.random.default_rng(0)
    masks = Masks({n: rng.random(tuple(p.shape)) > 0.6 for n, p in m.named_parameters()
                   if n.endswith("weight")})
    train(m, d, 1, seed=0, masks=masks, progress=False, checkpoint_dir=tmp_path, model_spec=SPEC)
    params = dict(m.named_parameters())
    for n, mk in masks.items():
        w = params[n].detach().numpy()
        assert np.all(w[~mk] == 0)
        assert np.all(w[mk] != 0)
    rebuilt, masks2, ck = model_from_checkpoint(tmp_path)
    assert masks2 == masks and ck["model"] == SPEC
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in rebuilt.state_dict().items())
