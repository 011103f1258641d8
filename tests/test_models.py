"""Model registry: every model builds, runs forward on small inputs and honours width."""

import pytest
import torch
from torch import nn

from pruning.errors import ModelError
from pruning.models import build_model, model_names, register_model

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("name", model_names())
def test_every_model_builds_and_runs(name):
    torch.manual_seed(0)
    size = 16 if name in ("vgg11", "vgg16", "vgg19", "lenet5") else 8
    m = build_model(name, num_classes=7, in_channels=3, width=0.125, image_size=size)
    out = m.eval()(torch.randn(2, 3, size, size))
    assert out.shape == (2, 7)
    for mod in m.modules():  # every weighted layer must map onto crossbars
        if isinstance(mod, nn.Conv2d):
            assert mod.groups == 1 and mod.dilation == (1, 1)


def test_width_scales_channels():
    small = build_model("vgg11", 10, 3, width=0.25)
    big = build_model("vgg11", 10, 3, width=0.5)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(big) > 3 * n(small)
    assert small.features[0].out_channels == 16


def test_registry_names_and_errors():
    assert {"vgg11", "vgg16", "vgg19", "resnet18", "resnet20", "lenet5",
            "digits_cnn"} <= set(model_names())
    with pytest.raises(ModelError, match="unknown"):
        build_model("alexnet")
    with pytest.raises(ModelError, match="width"):
        build_model("vgg11", width=0)
    with pytest.raises(ModelError, match="too small"):
        build_model("lenet5", image_size=8)
    with pytest.raises(ModelError, match="already registered"):
        register_model("vgg11", lambda k, c, w, s: nn.Linear(1, 1))


def test_resnet_option_b_shortcuts_are_convs():
    m = build_model("resnet20", 10, 3, width=0.25)
    shortcuts = [b.shortcut for b in m.layers]
    convs = [s for s in shortcuts if len(s) > 0]
    assert len(convs) == 2 and all(isinstance(s[0], nn.Conv2d) for s in convs)
    assert all(s[0].kernel_size == (1, 1) for s in convs)


def test_vgg11_is_the_batchnorm_variant_the_papers_train():
    """VGG-11 with BatchNorm (ReaLPrune's / AUTO-PRUNE's CIFAR-10 model): every conv is followed
    by a BatchNorm and a ReLU; 8 convs and one linear classifier over 512 features at 32x32."""
    m = build_model("vgg11", 10, 3, 1.0, 32)
    feats = list(m.features)
    convs = [i for i, mod in enumerate(feats) if isinstance(mod, nn.Conv2d)]
    assert len(convs) == 8
    for i in convs:
        assert isinstance(feats[i + 1], nn.BatchNorm2d) and isinstance(feats[i + 2], nn.ReLU)
    assert m.classifier.in_features == 512
    n = sum(p.numel() for mod in m.modules() if isinstance(mod, (nn.Conv2d, nn.Linear))
            for p in [mod.weight])
    assert n == 9_222_848        # 8 convs (9,217,728 weights) + the 512 x 10 classifier
