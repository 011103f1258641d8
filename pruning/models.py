"""Model zoo: the CNNs the front-end trains, prunes and exports, behind one registry.

Every model is built from plain ``nn.Conv2d`` (no groups, no dilation), ``nn.BatchNorm2d``,
``nn.ReLU``, ``nn.MaxPool2d`` / ``nn.AvgPool2d`` / ``nn.AdaptiveAvgPool2d(1)``, ``nn.Flatten``,
``nn.Linear`` and residual additions, so every weighted layer maps onto crossbars and
:func:`pruning.export.extract_network` can follow the graph.

- ``vgg11`` / ``vgg16`` / ``vgg19``: CIFAR-style VGG (3x3 convs + BN + ReLU, 2x2 max-pools, one
  linear classifier). A pool whose input is already 1x1 is left out, so small images work too.
- ``resnet18`` / ``resnet20``: CIFAR ResNets of BasicBlocks. Shortcuts that change shape are
  *option B* (1x1 conv + BN), so every layer is a crossbar layer; the head is a global average pool.
- ``lenet5``: LeNet-5 (5x5 convs, padding 2 on the first, 2x2 max-pools, 120-84-classes MLP).
- ``digits_cnn``: a small CNN for 8x8 grey digits (three 3x3 convs, two pools, one linear layer).

``width`` multiplies every hidden channel count (at least 1 channel). ``image_size`` (height =
width of the input) sizes the classifier.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from pruning.errors import ModelError

VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def _ch(c: int, width: float) -> int:
    return max(1, int(round(c * width)))


class VGG(nn.Module):
    def __init__(self, cfg: list[int | str], num_classes: int, in_channels: int, width: float,
                 image_size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, size = in_channels, image_size
        for v in cfg:
            if v == "M":
                if size >= 2:  # a 1x1 map has nothing left to pool
                    layers.append(nn.MaxPool2d(2))
                    size //= 2
                continue
            out = _ch(int(v), width)
            layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=False)]
            c = out
        self.features = nn.Sequential(*layers)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(c * size * size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.features(x)))


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN layers and a shortcut; option B: a 1x1 conv + BN when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, stages: list[tuple[int, int, int]], stem: int, num_classes: int,
                 in_channels: int, width: float) -> None:
        super().__init__()
        c = _ch(stem, width)
        self.conv1 = nn.Conv2d(in_channels, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        blocks: list[nn.Module] = []
        for channels, n_blocks, stride in stages:
            out = _ch(channels, width)
            for i in range(n_blocks):
                blocks.append(BasicBlock(c, out, stride if i == 0 else 1))
                c = out
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        return self.fc(self.flatten(self.pool(self.layers(x))))


class LeNet5(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, width: float, image_size: int) -> None:
        super().__init__()
        c1, c2 = _ch(6, width), _ch(16, width)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2))
        s = ((image_size // 2) - 4) // 2
        if s < 1:
            raise ModelError(f"lenet5: image_size={image_size} too small (needs >= 12: two 2x2 "
                             f"pools around a 5x5 conv without padding)")
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(c2 * s * s, _ch(120, width)), nn.ReLU(),
            nn.Linear(_ch(120, width), _ch(84, width)), nn.ReLU(),
            nn.Linear(_ch(84, width), num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.features(x)))


class DigitsCNN(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, width: float, image_size: int) -> None:
        super().__init__()
        c1, c2 = _ch(16, width), _ch(32, width)
        if image_size < 4:
            raise ModelError(f"digits_cnn: image_size={image_size} too small (needs >= 4: two "
                             f"2x2 pools)")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c2, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        s = image_size // 4
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(c2 * s * s, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.features(x)))


Builder = Callable[[int, int, float, int], nn.Module]

_REGISTRY: dict[str, Builder] = {
    "vgg11": lambda k, c, w, s: VGG(VGG_CONFIGS["vgg11"], k, c, w, s),
    "vgg16": lambda k, c, w, s: VGG(VGG_CONFIGS["vgg16"], k, c, w, s),
    "vgg19": lambda k, c, w, s: VGG(VGG_CONFIGS["vgg19"], k, c, w, s),
    "resnet18": lambda k, c, w, s: ResNet([(64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2)],
                                          64, k, c, w),
    "resnet20": lambda k, c, w, s: ResNet([(16, 3, 1), (32, 3, 2), (64, 3, 2)], 16, k, c, w),
    "lenet5": lambda k, c, w, s: LeNet5(k, c, w, s),
    "digits_cnn": lambda k, c, w, s: DigitsCNN(k, c, w, s),
}


def model_names() -> list[str]:
    """Names accepted by :func:`build_model` (and by ``--model`` on the command line)."""
    return list(_REGISTRY)


def register_model(name: str, builder: Builder) -> None:
    """Add a model: ``builder(num_classes, in_channels, width, image_size) -> nn.Module``."""
    if name in _REGISTRY:
        raise ModelError(f"model '{name}': already registered")
    _REGISTRY[name] = builder


def build_model(name: str, num_classes: int = 10, in_channels: int = 3, width: float = 1.0,
                image_size: int = 32) -> nn.Module:
    """Build a registered model with freshly initialized weights (seed torch beforehand)."""
    if name not in _REGISTRY:
        raise ModelError(f"model '{name}': unknown (known: {', '.join(model_names())})")
    if not width > 0:
        raise ModelError(f"model '{name}': width={width} must be > 0")
    if num_classes < 1 or in_channels < 1 or image_size < 1:
        raise ModelError(f"model '{name}': num_classes, in_channels and image_size must be >= 1")
    return _REGISTRY[name](num_classes, in_channels, float(width), int(image_size))
