"""Front-end files and values that used to reach torch or numpy unchecked: each is refused with one
line naming the file or setting, before any training, and a refused demo leaves nothing behind."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pruning.checkpoint import load_checkpoint
from pruning.errors import PruningError
from pruning.masks import Masks
from pruning.rounds import RunFolder
from pruning.train import check_optimizer_settings

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("name, value", [("momentum", -0.1), ("momentum", 1.0),
                                         ("weight_decay", -1e-4), ("lr", 0.0),
                                         ("lr", float("nan")), ("momentum", True)])
def test_bad_optimizer_values_are_refused(name, value):
    kw = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, name: value}
    with pytest.raises(PruningError, match=f"^{name}="):
        check_optimizer_settings(**kw)


def test_good_optimizer_values_pass():
    check_optimizer_settings("adam", 3e-3, 0.0, 0.0)
    with pytest.raises(PruningError, match="optimizer 'rmsprop': unknown"):
        check_optimizer_settings("rmsprop", 0.1, 0.9, 0.0)


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04 broken zip"])
def test_garbage_mask_file_is_one_line(tmp_path, content):
    p = tmp_path / "m.npz"
    p.write_bytes(content)
    with pytest.raises(PruningError, match="not a mask file"):
        Masks.load(p)


def test_object_or_non_numeric_mask_arrays_are_refused(tmp_path):
    p = tmp_path / "m.npz"
    np.savez(p, w=np.array(["a", "b"]))
    with pytest.raises(PruningError, match="mask 'w' must hold finite numbers"):
        Masks.load(p)
    np.savez(p, w=np.array([1.0, np.nan]))
    with pytest.raises(PruningError, match="finite"):
        Masks.load(p)


def test_checkpoint_without_weights_is_refused(tmp_path):
    from pruning.checkpoint import FORMAT_VERSION

    p = tmp_path / "ck.pt"
    torch.save({"format": FORMAT_VERSION, "model": {"name": "digits_cnn"}}, p)
    with pytest.raises(PruningError, match="no 'state_dict'"):
        load_checkpoint(p)


def test_round_report_that_is_not_a_mapping_is_refused(tmp_path):
    folder = RunFolder(tmp_path / "run", {})
    path = folder.round_path(0)
    (path / "train").mkdir(parents=True)
    Masks({"w": np.ones(3, np.float32)}).save(path / "mask")
    from pruning import rounds

    (path / rounds.REPORT_FILE).write_text(json.dumps([1, 2, 3]))
    with pytest.raises(PruningError, match="must be a JSON object"):
        folder.load(0)


def test_demo_with_an_unknown_chip_writes_nothing(tmp_path):
    from pruning.cli import main

    out = tmp_path / "demo"
    rc = main(["demo", "--quick", "--chip", "no_such_chip", "-o", str(out)])
    assert rc == 2
    assert not out.exists() or not any(out.iterdir())
