"""Training: accuracy on digits, determinism, resumption after a kill, masks kept applied; the
CIFAR recipe (device-resident augmented data, one-cycle, bf16 / channels_last) likewise."""

import numpy as np
import pytest
import torch

from pruning.checkpoint import load_checkpoint, model_from_checkpoint
from pruning.data import get_data, on_device
from pruning.errors import CheckpointError, PruningError
from pruning.masks import Masks
from pruning.models import build_model
from pruning.train import (
    TrainRecipe,
    current_recipe,
    onecycle_lr,
    seed_everything,
    train,
    use_recipe,
)

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


# -- the CIFAR recipe: device-resident data, one-cycle, bf16 / channels_last -------------------

def test_onecycle_warms_up_then_decays_to_zero():
    lrs = [onecycle_lr(0.1, t, 100, 0.2) for t in range(100)]
    assert lrs[0] == pytest.approx(0.1 / 20) and lrs[19] == pytest.approx(0.1)
    assert max(lrs) == pytest.approx(0.1) and lrs[-1] < 1e-3
    assert all(a < b for a, b in zip(lrs[:20], lrs[1:20]))
    assert all(a >= b for a, b in zip(lrs[20:], lrs[21:]))
    assert onecycle_lr(0.1, 0, 10, 0.0) == pytest.approx(0.1)   # no warm-up


def test_default_settings_keys_are_unchanged():
    """Runs without the recipe keep the settings (so their checkpoints resume) they had."""
    m, d = _fresh()
    r = train(m, d, 1, seed=0, progress=False)
    assert set(r.settings) == {"epochs", "optimizer", "lr", "momentum", "weight_decay",
                               "schedule", "seed", "data"}
    assert r.settings["schedule"] == "cosine"


def _device_data(seed=0):
    seed_everything(seed)
    d = get_data("digits", batch_size=128, seed=seed)
    return build_model(**SPEC), on_device(d, "cpu", augment="crop_flip", seed=seed)


def test_recipe_on_device_loader_resumes_exactly(tmp_path):
    recipe = TrainRecipe(schedule="onecycle", warmup=0.3)
    full, d = _device_data()
    with use_recipe(recipe):
        r_full = train(full, d, 2, lr=0.1, seed=1, progress=False)
    assert current_recipe() == TrainRecipe()          # the block restores the default
    assert r_full.settings["schedule"] == "onecycle" and r_full.settings["warmup"] == 0.3
    assert r_full.settings["augment"] == "crop_flip"
    steps = len(d.train)          # the lr of each epoch's first step is recorded
    assert [h["lr"] for h in r_full.history] == [onecycle_lr(0.1, e * steps, 2 * steps, 0.3)
                                                 for e in range(2)]
    part, d = _device_data()
    with use_recipe(recipe):
        _interrupted_device(part, d, tmp_path)
    again, d = _device_data(seed=5)
    with use_recipe(recipe):
        r = train(again, d, 2, lr=0.1, seed=1, progress=False, checkpoint_dir=tmp_path,
                  model_spec=SPEC)
    assert r.resumed_from == 1
    wf, wr = _weights(full), _weights(again)
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
    assert r.test_acc == r_full.test_acc and r.history == r_full.history
    # the recipe's schedule applies only to calls that name none
    other, d = _device_data()
    with use_recipe(recipe):
        assert train(other, d, 1, schedule="constant", progress=False).settings["schedule"] \
            == "constant"


def _interrupted_device(model, data, folder):
    orig = data.val
    calls = {"n": 0}

    class Boom(Exception):
        pass

    def killing_evaluate(loader):
        calls["n"] += 1
        if calls["n"] == 2:
            raise Boom
        return iter(orig)

    class KillOnSecondVal:
        device = orig.device
        channels_last = False

        def __iter__(self):
            return killing_evaluate(self)

    data.val = KillOnSecondVal()
    with pytest.raises(Boom):
        train(model, data, 2, lr=0.1, seed=1, progress=False, checkpoint_dir=folder,
              model_spec=SPEC)
    data.val = orig
    assert load_checkpoint(folder)["epoch"] == 1


def test_bf16_channels_last_path_keeps_masks_and_returns_a_plain_model(tmp_path):
    m, d = _device_data()
    rng = np.random.default_rng(0)
    masks = Masks({n: rng.random(tuple(p.shape)) > 0.5 for n, p in m.named_parameters()
                   if n.endswith("weight")})
    with use_recipe(TrainRecipe(schedule="onecycle", precision="bf16", channels_last=True)):
        r = train(m, d, 1, lr=0.05, masks=masks, seed=0, progress=False,
                  checkpoint_dir=tmp_path, model_spec=SPEC)
    assert r.settings["precision"] == "bf16"
    assert np.isfinite(r.history[0]["train_loss"]) and 0 <= r.test_acc <= 1
    params = dict(m.named_parameters())
    for n, mk in masks.items():
        w = params[n].detach()
        assert w.device.type == "cpu" and w.is_contiguous() and w.dtype == torch.float32
        assert np.all(w.numpy()[~mk] == 0)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert all(v.is_contiguous() for v in ck["state_dict"].values())


def test_recipe_errors():
    with pytest.raises(PruningError, match="schedule 'step'"):
        TrainRecipe(schedule="step").validate()
    with pytest.raises(PruningError, match="precision 'fp8'"):
        TrainRecipe(precision="fp8").validate()
    with pytest.raises(PruningError, match="warmup"):
        TrainRecipe(warmup=1.0).validate()
    m, d = _fresh()
    with pytest.raises(PruningError, match="schedule 'step'"):
        train(m, d, 1, schedule="step", progress=False)
