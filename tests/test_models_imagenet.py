"""The ImageNet ResNet-18 (registry name resnet18_imagenet): torchvision's parameter count, the
7x7 stride-2 stem and 3x3 stride-2 max-pool, and the layer shapes the export hands the simulator
at 224x224 (the stages at 56, 28, 14 and 7)."""

import pytest
import torch

from pruning.export import extract_network
from pruning.models import build_model

pytestmark = pytest.mark.torch


def test_resnet18_imagenet_shapes_and_export():
    torch.manual_seed(0)
    m = build_model("resnet18_imagenet", num_classes=1000, in_channels=3, image_size=224).eval()
    # torchvision.models.resnet18(): 11,689,512 parameters (BN affine weights included)
    assert sum(p.numel() for p in m.parameters()) == 11_689_512
    net = extract_network(m, (3, 224, 224))
    convs = [s for s in net.specs if s.kind == "conv"]
    assert len(convs) == 20 and net.specs[-1].kind == "linear"
    stem = convs[0]
    assert stem.weight_shape == (64, 3, 7, 7) and tuple(stem.stride) == (2, 2)
    assert tuple(stem.padding) == (3, 3) and stem.output_positions == 112 * 112
    pools = [n for n in net.graph if n.op == "maxpool"]
    assert len(pools) == 1
    assert pools[0].params == {"kernel": 3, "stride": 2, "padding": 1}
    sides = sorted({s.input_shape[1] for s in convs[1:]}, reverse=True)
    assert sides == [56, 28, 14, 7]
    assert m(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
