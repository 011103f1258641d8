"""Datasets: digits and synthetic splits, the CIFAR / SVHN readers on tiny fake files, and the
device-resident loaders with the CIFAR crop/flip augmentation."""

import numpy as np
import pytest
import torch

from pruning.data import DeviceLoader, get_data, on_device, subset
from pruning.errors import DataError

pytestmark = pytest.mark.torch


def test_digits_split_is_fixed_and_normalized():
    a = get_data("digits", batch_size=32, seed=0)
    b = get_data("digits", batch_size=16, seed=5)
    assert (a.num_classes, a.in_channels, a.image_size) == (10, 1, 8)
    n = [len(a.train.dataset), len(a.val.dataset), len(a.test.dataset)]
    assert sum(n) == 1797 and n[1] == n[2] == 270
    xa, xb = a.test.dataset.tensors[0], b.test.dataset.tensors[0]
    assert np.array_equal(xa.numpy(), xb.numpy())  # split does not depend on the training seed
    xt = a.train.dataset.tensors[0].numpy()
    assert abs(float(xt.mean())) < 1e-4 and abs(float(xt.std()) - 1) < 1e-3


def test_shuffle_depends_on_seed():
    y0 = next(iter(get_data("digits", batch_size=64, seed=0).train))[1]
    y0b = next(iter(get_data("digits", batch_size=64, seed=0).train))[1]
    y1 = next(iter(get_data("digits", batch_size=64, seed=1).train))[1]
    assert np.array_equal(y0.numpy(), y0b.numpy())
    assert not np.array_equal(y0.numpy(), y1.numpy())


def test_synthetic():
    d = get_data("synthetic", batch_size=8)
    x, y = next(iter(d.train))
    assert x.shape == (8, 1, 8, 8) and y.dtype.is_floating_point is False


def _cifar_records(n, labels, coarse=False):
    rng = np.random.default_rng(1)
    pix = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    head = [np.full((n, 1), 3, np.uint8)] if coarse else []
    return np.concatenate(head + [np.asarray(labels, np.uint8)[:, None], pix], axis=1), pix


def test_cifar10_binary_reader(tmp_path):
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    for i in range(1, 6):
        _cifar_records(4, [i % 10] * 4)[0].tofile(d / f"data_batch_{i}.bin")
    rec, pix = _cifar_records(5, [0, 1, 2, 3, 9])
    rec.tofile(d / "test_batch.bin")
    s = get_data("cifar10", root=tmp_path, batch_size=4)
    assert (s.num_classes, s.in_channels, s.image_size) == (10, 3, 32)
    assert len(s.train.dataset) + len(s.val.dataset) == 20
    assert s.test.dataset.tensors[1].tolist() == [0, 1, 2, 3, 9]
    # pixels are channel-major: record byte 1024 is channel 1, row 0, col 0
    x = s.test.dataset.tensors[0].numpy()
    std, mean = np.array(s.std), np.array(s.mean)
    back = x[2, 1, 0, 0] * std[1] + mean[1]
    assert back == pytest.approx(pix[2, 1024] / 255.0, abs=1e-5)


def test_cifar100_binary_reader_uses_fine_label(tmp_path):
    d = tmp_path / "cifar-100-binary"
    d.mkdir()
    _cifar_records(10, list(range(50, 60)), coarse=True)[0].tofile(d / "train.bin")
    _cifar_records(3, [99, 0, 42], coarse=True)[0].tofile(d / "test.bin")
    s = get_data("cifar100", root=tmp_path)
    assert s.num_classes == 100 and s.test.dataset.tensors[1].tolist() == [99, 0, 42]


def test_cifar_pickle_release_is_refused(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(DataError, match="binary release"):
        get_data("cifar10", root=tmp_path)


def test_missing_dataset_names_folder_and_files(tmp_path):
    with pytest.raises(DataError, match=r"cifar-100-binary.*train\.bin"):
        get_data("cifar100", root=tmp_path)
    with pytest.raises(DataError, match="unknown"):
        get_data("imagenet")


def test_corrupt_cifar_file(tmp_path):
    d = tmp_path / "cifar-100-binary"
    d.mkdir()
    np.zeros(100, np.uint8).tofile(d / "train.bin")
    np.zeros(100, np.uint8).tofile(d / "test.bin")
    with pytest.raises(DataError, match="records"):
        get_data("cifar100", root=tmp_path)


def test_svhn_mat_reader(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    d = tmp_path / "svhn"
    d.mkdir()
    rng = np.random.default_rng(0)
    for f, labels in (("train_32x32.mat", [1, 2, 10, 3, 4, 5, 6, 7, 8, 9]),
                      ("test_32x32.mat", [10, 1, 5])):
        x = rng.integers(0, 256, (32, 32, 3, len(labels)), dtype=np.uint8)
        scipy_io.savemat(d / f, {"X": x, "y": np.array(labels, np.uint8)[:, None]})
    s = get_data("svhn", root=tmp_path)
    assert s.test.dataset.tensors[1].tolist() == [0, 1, 5]
    assert s.test.dataset.tensors[0].shape == (3, 3, 32, 32)


# -- device-resident loaders and the CIFAR augmentation ---------------------------------------

def _tagged_images(n=6, c=2, h=5, w=7):
    """Images whose every pixel value is unique, so a crop can be located in the original."""
    x = torch.arange(1, n * c * h * w + 1, dtype=torch.float32).reshape(n, c, h, w)
    return x, torch.arange(n)


def _find_crop(img, orig, pad):
    """(dy, dx, flipped) such that ``img`` is that crop of ``orig`` zero-padded by ``pad``."""
    padded = torch.nn.functional.pad(orig, (pad, pad, pad, pad))
    h, w = orig.shape[1:]
    hits = []
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, dy:dy + h, dx:dx + w]
            for flipped, cand in ((False, crop), (True, crop.flip(2))):
                if torch.equal(cand, img):
                    hits.append((dy, dx, flipped))
    return hits


def test_crop_flip_is_a_padded_crop_and_flip_of_the_same_image():
    x, y = _tagged_images()
    loader = DeviceLoader(x, y, batch_size=4, shuffle=True, seed=3, augment="crop_flip", pad=2)
    seen_flip, seen_offsets, n = set(), set(), 0
    for _ in range(8):
        for xb, yb in loader:
            assert xb.shape[1:] == x.shape[1:]
            for img, label in zip(xb, yb):
                hits = _find_crop(img, x[int(label)], 2)
                assert hits, "an augmented image must be a crop (maybe flipped) of its own image"
                seen_flip.update(h[2] for h in hits)
                seen_offsets.update(h[:2] for h in hits)
                n += 1
    assert n == 8 * len(x)
    assert seen_flip == {False, True} and len(seen_offsets) > 5


def test_device_loader_is_seeded_and_covers_every_image_once():
    x, y = _tagged_images(n=10)
    a = DeviceLoader(x, y, 3, shuffle=True, seed=1, augment="crop_flip")
    b = DeviceLoader(x, y, 3, shuffle=True, seed=1, augment="crop_flip")
    c = DeviceLoader(x, y, 3, shuffle=True, seed=2, augment="crop_flip")
    ba, bb, bc = list(a), list(b), list(c)
    assert len(a) == 4 and [len(t[1]) for t in ba] == [3, 3, 3, 1]
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(ba, bb))
    assert not all(torch.equal(p[1], q[1]) for p, q in zip(ba, bc))
    assert sorted(torch.cat([t[1] for t in ba]).tolist()) == list(range(10))
    # reseeding the generator (as training does per epoch) replays the same epoch
    a.generator.manual_seed(7)
    first = [t[1] for t in a]
    a.generator.manual_seed(7)
    assert all(torch.equal(p, q) for p, q in zip(first, (t[1] for t in a)))
    # without augmentation and shuffling, batches are the images in order
    plain = DeviceLoader(x, y, 4)
    assert torch.equal(torch.cat([t[0] for t in plain]), x)


def test_on_device_keeps_the_splits_and_subset_takes_the_first_images():
    d = get_data("digits", batch_size=32, seed=0)
    dd = on_device(d, "cpu", augment="crop_flip", eval_batch_size=100)
    assert isinstance(dd.train, DeviceLoader) and dd.train.augment == "crop_flip"
    assert dd.val.augment is None and not dd.val.shuffle and dd.val.batch_size == 100
    for key in ("train", "val", "test"):
        assert torch.equal(getattr(dd, key).dataset.tensors[0],
                           getattr(d, key).dataset.tensors[0])
    assert (dd.mean, dd.std, dd.num_classes) == (d.mean, d.std, d.num_classes)
    s = subset(dd, train=50, test=20)
    assert len(s.train.dataset) == 50 and len(s.test.dataset) == 20
    assert len(s.val.dataset) == len(dd.val.dataset)
    assert s.train.augment == "crop_flip" and s.train.generator is dd.train.generator
    assert torch.equal(s.test.dataset.tensors[0], dd.test.dataset.tensors[0][:20])
    plain = subset(d, train=40)
    assert len(plain.train.dataset) == 40 and len(list(plain.train)) == 2


def test_device_loader_errors():
    x, y = _tagged_images()
    with pytest.raises(DataError, match="augment 'mixup'"):
        DeviceLoader(x, y, 2, augment="mixup")
    with pytest.raises(DataError, match="batch_size"):
        DeviceLoader(x, y, 0)
    with pytest.raises(DataError, match=r"\(N, C, H, W\)"):
        DeviceLoader(x[0], y, 2)
    with pytest.raises(DataError, match="subset train=0"):
        subset(get_data("synthetic"), train=0)
