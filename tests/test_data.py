"""Datasets: digits and synthetic splits, and the CIFAR / SVHN readers on tiny fake files."""

import numpy as np
import pytest

from pruning.data import get_data
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
