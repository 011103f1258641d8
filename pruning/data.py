"""Datasets: where images come from, how they are split and normalized, and how they are batched.

``get_data(name, root, batch_size, seed)`` returns a :class:`DataSplits` of three PyTorch loaders
(train, validation, test). Splits are fixed (a permutation seeded with :data:`SPLIT_SEED`, never the
training seed), so a model's validation and test images never change between runs; ``seed`` only
orders the training batches. Inputs are normalized per channel with the training split's mean and
standard deviation.

Datasets:

- ``digits`` (default): scikit-learn's shipped 8x8 grey digits (1,797 images, 10 classes), split
  70 / 15 / 15 %. Needs no files.
- ``synthetic``: random 1x8x8 images labelled by a fixed random linear rule (learnable); for tests.
- ``cifar10``: the *binary* release, ``ROOT/cifar-10-batches-bin/data_batch_{1..5}.bin`` and
  ``test_batch.bin`` (records of 1 label byte + 3,072 pixel bytes, channel-major 3x32x32).
- ``cifar100``: the binary release, ``ROOT/cifar-100-binary/train.bin`` and ``test.bin`` (records
  of a coarse-label byte, a fine-label byte and 3,072 pixel bytes; the fine label is used).
- ``svhn``: the cropped-digits ``ROOT/svhn/train_32x32.mat`` and ``test_32x32.mat`` (``X``
  32x32x3xN uint8, ``y`` Nx1 with label 10 for the digit 0), read with ``scipy.io.loadmat``.

The pickled Python releases of CIFAR are refused (reading them would unpickle); the message points
at the binary release. For the file-based sets the last 10 % of a fixed permutation of the training
files is the validation split. ``root`` defaults to ``$RRAM_PRUNE_DATA`` or ``./data``.

Device-resident batches (:func:`on_device`): the loaders above are PyTorch ``DataLoader``
objects over CPU tensors, which index and collate one image at a time. :func:`on_device` turns a
:class:`DataSplits` into one whose loaders are :class:`DeviceLoader` objects: every split is one
tensor resident on the device (a GPU, or the CPU), batches are slices of a seeded permutation, and
the training split can be augmented the CIFAR way, batched on the device (no per-image Python
loop): a random crop of the image padded by 4 pixels (zero padding of the normalized image, i.e.
the mean colour) and a random horizontal flip. The random numbers come from the loader's CPU
generator
(``generator``), so a run is reproducible and resumable whatever the device. ``get_data`` itself is
unchanged: without :func:`on_device` nothing is augmented and nothing moves.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from pruning.errors import DataError

SPLIT_SEED = 0
DATASETS = ("digits", "synthetic", "cifar10", "cifar100", "svhn")
CIFAR_RECORD_PIXELS = 3 * 32 * 32


class DeviceLoader:
    """Batches of device-resident tensors ``x`` (N, C, H, W) and ``y`` (N,).

    ``shuffle``: a new permutation per pass, drawn from ``generator`` (seeded by the training
    loop per epoch, as the ``DataLoader``'s is). ``augment`` (``"crop_flip"`` or None): a random
    crop of the image zero-padded by ``pad`` pixels, then a random horizontal flip, both drawn
    from ``generator`` and applied to the whole batch at once on the device.
    ``channels_last``: batches in the channels-last memory format. ``dataset`` is a
    ``TensorDataset`` of the same tensors (``len()`` and ``.tensors`` work as for the CPU
    loaders).
    """

    AUGMENTATIONS = ("crop_flip",)

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = False,
                 seed: int = 0, augment: str | None = None, pad: int = 4,
                 channels_last: bool = False) -> None:
        if batch_size < 1:
            raise DataError(f"batch_size={batch_size}: must be >= 1")
        if augment is not None and augment not in self.AUGMENTATIONS:
            raise DataError(f"augment '{augment}': unknown (known: "
                            f"{', '.join(self.AUGMENTATIONS)})")
        if x.dim() != 4 or y.dim() != 1 or len(x) != len(y):
            raise DataError(f"DeviceLoader: need x (N, C, H, W) and y (N,), got "
                            f"{tuple(x.shape)} and {tuple(y.shape)}")
        if pad < 0:
            raise DataError(f"pad={pad}: must be >= 0")
        self.x, self.y = x, y
        self.batch_size, self.shuffle = int(batch_size), bool(shuffle)
        self.augment, self.pad, self.channels_last = augment, int(pad), bool(channels_last)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.dataset = TensorDataset(x, y)
        self._padded: torch.Tensor | None = None

    @property
    def device(self) -> torch.device:
        return self.x.device

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def _crop_flip(self, idx: torch.Tensor) -> torch.Tensor:
        n, (c, h, w), p = len(idx), self.x.shape[1:], self.pad
        if self._padded is None:   # padded once, kept on the device
            self._padded = torch.nn.functional.pad(self.x, (p, p, p, p))
        oy = torch.randint(0, 2 * p + 1, (n,), generator=self.generator)
        ox = torch.randint(0, 2 * p + 1, (n,), generator=self.generator)
        flip = torch.rand(n, generator=self.generator) < 0.5
        dev = self.x.device
        rows = (oy[:, None] + torch.arange(h)).to(dev)                      # (n, h)
        cols = ox[:, None] + torch.arange(w)                                 # (n, w)
        cols = torch.where(flip[:, None], cols.flip(1), cols).to(dev)        # flip = reversed
        ch = torch.arange(c, device=dev)
        return self._padded[idx.to(dev)[:, None, None, None], ch[None, :, None, None],
                            rows[:, None, :, None], cols[:, None, None, :]]

    def __iter__(self):
        n = len(self.y)
        order = (torch.randperm(n, generator=self.generator) if self.shuffle
                 else torch.arange(n))
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.augment is not None:
                xb = self._crop_flip(idx)
            elif self.shuffle:
                xb = self.x[idx.to(self.x.device)]
            else:
                xb = self.x[start:start + self.batch_size]
            yb = self.y[idx.to(self.y.device)] if self.shuffle else \
                self.y[start:start + self.batch_size]
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, yb


@dataclass
class DataSplits:
    """Three loaders and what a model needs to know about the images."""

    train: DataLoader
    val: DataLoader
    test: DataLoader
    num_classes: int
    in_channels: int
    image_size: int
    name: str = ""
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()


def default_root() -> Path:
    return Path(os.environ.get("RRAM_PRUNE_DATA", "data"))


def _split(n: int, val_fraction: float, test_fraction: float) -> tuple[np.ndarray, ...]:
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    return perm[n_test + n_val:], perm[n_test:n_test + n_val], perm[:n_test]


def _normalize(x_train: np.ndarray, *others: np.ndarray):
    """Per-channel standardization with the training split's statistics (float32 NCHW)."""
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-8
    out = [((a - mean) / std).astype(np.float32) for a in (x_train, *others)]
    return out, tuple(float(m) for m in mean.ravel()), tuple(float(s) for s in std.ravel())


def _loaders(name: str, xs: list[np.ndarray], ys: list[np.ndarray], num_classes: int,
             batch_size: int, seed: int, mean: tuple, std: tuple) -> DataSplits:
    if batch_size < 1:
        raise DataError(f"batch_size={batch_size}: must be >= 1")
    gen = torch.Generator().manual_seed(int(seed))
    sets = [TensorDataset(torch.from_numpy(np.ascontiguousarray(x)),
                          torch.from_numpy(np.asarray(y, dtype=np.int64))) for x, y in zip(xs, ys)]
    train = DataLoader(sets[0], batch_size=batch_size, shuffle=True, generator=gen)
    val = DataLoader(sets[1], batch_size=max(batch_size, 256), shuffle=False)
    test = DataLoader(sets[2], batch_size=max(batch_size, 256), shuffle=False)
    return DataSplits(train, val, test, num_classes, int(xs[0].shape[1]), int(xs[0].shape[2]),
                      name, mean, std)


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    return x, d.target.astype(np.int64)


def synthetic_arrays(n: int = 384, channels: int = 1, size: int = 8, num_classes: int = 10,
                     seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian images labelled by the argmax of a fixed random linear map (learnable)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, channels, size, size)).astype(np.float32)
    proj = rng.standard_normal((channels * size * size, num_classes))
    y = np.argmax(x.reshape(n, -1) @ proj, axis=1).astype(np.int64)
    return x, y


def _read_cifar_bin(files: list[Path], label_offset: int, record: int) -> tuple[np.ndarray, ...]:
    xs, ys = [], []
    for f in files:
        raw = np.fromfile(f, dtype=np.uint8)
        if raw.size == 0 or raw.size % record:
            raise DataError(f"{f}: size {raw.size} B is not a whole number of {record}-byte "
                            f"records; not a CIFAR binary batch")
        raw = raw.reshape(-1, record)
        ys.append(raw[:, label_offset].astype(np.int64))
        xs.append(raw[:, record - CIFAR_RECORD_PIXELS:].reshape(-1, 3, 32, 32))
    return np.concatenate(xs).astype(np.float32) / 255.0, np.concatenate(ys)


def _need(root: Path, name: str, folder: str, files: list[str], pickled: str | None) -> Path:
    d = root / folder
    missing = [f for f in files if not (d / f).is_file()]
    if not missing:
        return d
    if pickled and (root / pickled).is_dir():
        raise DataError(f"{name}: found the pickled Python release at {root / pickled}, which is "
                        f"not read (it would need unpickling); put the binary release in {d} "
                        f"({', '.join(files)})")
    raise DataError(f"{name}: missing {', '.join(missing)} in {d}; download the dataset and put "
                    f"{', '.join(files)} there (or pass --data-root / set RRAM_PRUNE_DATA)")


def load_arrays(name: str, root: str | os.PathLike | None = None):
    """``(x_train_all, y_train_all, x_test, y_test, num_classes)`` as float images in [0, 1]."""
    root = Path(root) if root is not None else default_root()
    if name == "cifar10":
        files = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        d = _need(root, name, "cifar-10-batches-bin", files, "cifar-10-batches-py")
        xtr, ytr = _read_cifar_bin([d / f for f in files[:5]], 0, 1 + CIFAR_RECORD_PIXELS)
        xte, yte = _read_cifar_bin([d / files[5]], 0, 1 + CIFAR_RECORD_PIXELS)
        return xtr, ytr, xte, yte, 10
    if name == "cifar100":
        d = _need(root, name, "cifar-100-binary", ["train.bin", "test.bin"], "cifar-100-python")
        xtr, ytr = _read_cifar_bin([d / "train.bin"], 1, 2 + CIFAR_RECORD_PIXELS)
        xte, yte = _read_cifar_bin([d / "test.bin"], 1, 2 + CIFAR_RECORD_PIXELS)
        return xtr, ytr, xte, yte, 100
    if name == "svhn":
        d = _need(root, name, "svhn", ["train_32x32.mat", "test_32x32.mat"], None)
        try:
            from scipy.io import loadmat
        except ImportError:
            raise DataError("svhn: reading the .mat files needs scipy, which is not installed "
                            "(pip install scipy)") from None
        out = []
        for f in ("train_32x32.mat", "test_32x32.mat"):
            m = loadmat(d / f)
            if "X" not in m or "y" not in m:
                raise DataError(f"{d / f}: no 'X' and 'y' arrays; not an SVHN cropped-digits file")
            x = np.transpose(m["X"], (3, 2, 0, 1)).astype(np.float32) / 255.0
            y = m["y"].reshape(-1).astype(np.int64) % 10  # label 10 is the digit 0
            out += [x, y]
        return (*out, 10)
    raise DataError(f"dataset '{name}': unknown (known: {', '.join(DATASETS)})")


def get_data(name: str = "digits", root: str | os.PathLike | None = None, batch_size: int = 64,
             seed: int = 0) -> DataSplits:
    """Load a dataset, split it (fixed), normalize it and wrap it in loaders."""
    if name in ("digits", "synthetic"):
        x, y = load_digits_arrays() if name == "digits" else synthetic_arrays()
        tr, va, te = _split(len(x), 0.15, 0.15)
        (xtr, xva, xte), mean, std = _normalize(x[tr], x[va], x[te])
        return _loaders(name, [xtr, xva, xte], [y[tr], y[va], y[te]], 10, batch_size, seed,
                        mean, std)
    xtr_all, ytr_all, xte, yte, k = load_arrays(name, root)
    tr, va, _ = _split(len(xtr_all), 0.10, 0.0)
    (xtr, xva, xte), mean, std = _normalize(xtr_all[tr], xtr_all[va], xte)
    return _loaders(name, [xtr, xva, xte], [ytr_all[tr], ytr_all[va], yte], k, batch_size, seed,
                    mean, std)


def _tensors(loader) -> tuple[torch.Tensor, torch.Tensor]:
    ds = loader.dataset
    if not isinstance(ds, TensorDataset) or len(ds.tensors) != 2:
        raise DataError("on_device: the loaders must wrap a TensorDataset of (images, labels)")
    return ds.tensors[0], ds.tensors[1]


def subset(data: DataSplits, train: int | None = None, val: int | None = None,
           test: int | None = None) -> DataSplits:
    """The first ``train`` / ``val`` / ``test`` images of each split (None: all), same loaders
    and normalization (the splits are already fixed permutations, so the first images are a
    seeded random sample). For presets that train on part of a dataset, named as such."""
    out = {}
    for key, n in (("train", train), ("val", val), ("test", test)):
        loader = getattr(data, key)
        if n is None:
            out[key] = loader
            continue
        if n < 1:
            raise DataError(f"subset {key}={n}: must be >= 1")
        x, y = _tensors(loader)
        if isinstance(loader, DeviceLoader):
            new = DeviceLoader(x[:n], y[:n], loader.batch_size, loader.shuffle, 0, loader.augment,
                               loader.pad, loader.channels_last)
            new.generator = loader.generator
        else:
            new = DataLoader(TensorDataset(x[:n], y[:n]), batch_size=loader.batch_size,
                             shuffle=key == "train",
                             generator=getattr(loader.sampler, "generator", None))
        out[key] = new
    return replace(data, **out)


def on_device(data: DataSplits, device: str | torch.device = "cpu", augment: str | None = None,
              seed: int = 0, batch_size: int | None = None, eval_batch_size: int | None = None,
              channels_last: bool = False) -> DataSplits:
    """The same splits with every image resident on ``device`` in :class:`DeviceLoader` objects
    (see the module docstring): ``augment`` applies to the training split only; ``batch_size``
    (default: the training loader's) and ``eval_batch_size`` (default: the evaluation
    loaders')."""
    tr_x, tr_y = _tensors(data.train)
    dev = torch.device(device)
    bs = batch_size or data.train.batch_size
    ebs = eval_batch_size or data.val.batch_size

    def move(loader, b, shuffle, aug, s):
        x, y = _tensors(loader)
        return DeviceLoader(x.to(dev), y.to(dev), b, shuffle, s, aug,
                            channels_last=channels_last)

    return replace(data, train=DeviceLoader(tr_x.to(dev), tr_y.to(dev), bs, True, seed, augment,
                                            channels_last=channels_last),
                   val=move(data.val, ebs, False, None, 0),
                   test=move(data.test, ebs, False, None, 0))
