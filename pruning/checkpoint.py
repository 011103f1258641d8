"""Checkpoints: a model's weights plus everything needed to rebuild it and to resume training.

A checkpoint is one ``torch.save`` file holding only tensors, numbers, strings, lists and dicts, so
it is read back with ``torch.load(weights_only=True)`` (no arbitrary unpickling). Keys:

- ``format``: :data:`FORMAT_VERSION`;
- ``model``: ``{name, num_classes, in_channels, width, image_size}`` for :func:`build_model`;
  ``name`` is a registry name or a model spec (``/abs/path/file.py:Class``,
  ``package.module:factory``; see :mod:`pruning.models`), so a checkpoint of any ``nn.Module``
  rebuilds it — by running that file or module again;
- ``data``: ``{name, mean, std}`` — the dataset and its normalization;
- ``state_dict``: the model's parameters and buffers;
- ``masks``: ``{parameter name: bool tensor}`` (empty when unpruned);
- ``optimizer``, ``epoch`` (epochs completed), ``rng`` (torch and loader generator states),
  ``history`` (per-epoch metrics) and ``settings`` (the training settings) for resuming.

Files are written atomically: a run killed while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pruning.errors import CheckpointError, ModelError
from pruning.masks import Masks
from pruning.models import build_model
from rram_sim.fileio import atomic_write_bytes

FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Atomically write a checkpoint dict (see the module docstring for its keys)."""
    p = Path(path)
    if p.suffix != ".pt":
        p = p / CHECKPOINT_NAME
    payload = {"format": FORMAT_VERSION, **payload}
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(p, buf.getvalue())
    return p


def resolve(path: str | os.PathLike) -> Path:
    """A checkpoint file, or the ``checkpoint.pt`` inside a training output folder."""
    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint (expected a .pt file or a folder holding "
                              f"{CHECKPOINT_NAME})")
    return p


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    p = resolve(path)
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file: one clear line, not a traceback
        raise CheckpointError(f"{p}: not a readable checkpoint ({exc.__class__.__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{p}: not a checkpoint of format {FORMAT_VERSION}")
    if not isinstance(ck.get("state_dict"), dict):
        raise CheckpointError(f"{p}: no 'state_dict' of weights in it")
    return ck


def model_from_checkpoint(path_or_ck: str | os.PathLike | dict[str, Any]
                          ) -> tuple[nn.Module, Masks, dict[str, Any]]:
    """Rebuild the model and load its weights: ``(model in eval mode, masks, checkpoint)``."""
    ck = path_or_ck if isinstance(path_or_ck, dict) else load_checkpoint(path_or_ck)
    where = "checkpoint" if isinstance(path_or_ck, dict) else str(resolve(path_or_ck))
    spec = ck.get("model")
    keys = ("name", "num_classes", "in_channels", "width", "image_size")
    if not isinstance(spec, dict) or any(k not in spec for k in keys):
        raise CheckpointError(f"{where}: no 'model' description ({', '.join(keys)}); cannot "
                              "rebuild the model")
    try:
        model = build_model(spec["name"], spec["num_classes"], spec["in_channels"],
                            spec["width"], spec["image_size"])
    except ModelError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    try:
        model.load_state_dict(ck["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint weights do not fit model '{spec['name']}': "
                              f"{str(exc).splitlines()[0]}") from None
    masks = Masks({k: v.numpy() for k, v in ck.get("masks", {}).items()}).validate(model)
    model.eval()
    return model, masks, ck
