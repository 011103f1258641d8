"""Model zoo: the CNNs the front-end trains, prunes and exports, behind one registry.

Every model is built from plain ``nn.Conv2d`` (no groups, no dilation), ``nn.BatchNorm2d``,
``nn.ReLU``, ``nn.MaxPool2d`` / ``nn.AvgPool2d`` / ``nn.AdaptiveAvgPool2d(1)``, ``nn.Flatten``,
``nn.Linear`` and residual additions, so every weighted layer maps onto crossbars and
:func:`pruning.export.extract_network` can follow the graph.

- ``vgg11`` / ``vgg16`` / ``vgg19``: CIFAR-style VGG (3x3 convs + BN + ReLU, 2x2 max-pools, one
  linear classifier). A pool whose input is already 1x1 is left out, so small images work too.
- ``resnet18`` / ``resnet20``: CIFAR ResNets of BasicBlocks. Shortcuts that change shape are
  *option B* (1x1 conv + BN), so every layer is a crossbar layer; the head is a global average pool.
- ``resnet18_imagenet``: the same ResNet-18 with the ImageNet stem (He et al., CVPR 2016, Table 1:
  a 7x7 stride-2 conv + BN + ReLU, then a 3x3 stride-2 max-pool), for 224x224 inputs.
- ``lenet5``: LeNet-5 (5x5 convs, padding 2 on the first, 2x2 max-pools, 120-84-classes MLP).
- ``digits_cnn``: a small CNN for 8x8 grey digits (three 3x3 convs, two pools, one linear layer).

``width`` multiplies every hidden channel count (at least 1 channel). ``image_size`` (height =
width of the input) sizes the classifier.

**Any ``nn.Module``**: wherever a model is named (:func:`build_model`, ``--model`` on the command
line, a checkpoint's ``model.name``), a *model spec* may stand for a registry name:

- ``path/to/file.py:Class`` (or ``:factory``): the file is executed as a module (its folder on
  ``sys.path`` meanwhile, so it may import its neighbours) and the attribute is called;
- ``package.module:factory`` (or ``:Class``): the module is imported (the current folder is
  searched too) and the attribute is called.

The attribute may be a dotted path (``file.py:Zoo.small``). It is called with the keyword
arguments among ``num_classes``, ``in_channels``, ``width`` and ``image_size`` that its signature
names (every other parameter needs a default); it must return an ``nn.Module``. **Loading a spec
executes the code it names** — name only files and modules you trust. A missing file or module,
a missing attribute, a required argument the front-end cannot give, and a result that is no
``nn.Module`` raise :class:`~pruning.errors.ModelError` in one line naming the spec.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

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


class ImageNetResNet(ResNet):
    """:class:`ResNet` with the ImageNet stem: a 7x7 stride-2 conv (padding 3) + BN + ReLU and a
    3x3 stride-2 max-pool (padding 1) before the stages (He et al., CVPR 2016, Table 1)."""

    def __init__(self, stages: list[tuple[int, int, int]], stem: int, num_classes: int,
                 in_channels: int, width: float) -> None:
        super().__init__(stages, stem, num_classes, in_channels, width)
        self.conv1 = nn.Conv2d(in_channels, _ch(stem, width), 7, stride=2, padding=3, bias=False)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
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
    "resnet18_imagenet": lambda k, c, w, s: ImageNetResNet(
        [(64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2)], 64, k, c, w),
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
    """Build a registered model, or the model a spec names (``path/file.py:Class``,
    ``package.module:factory``; see the module docstring), with freshly initialized weights
    (seed torch beforehand)."""
    if not isinstance(name, str) or not name:
        raise ModelError(f"model {name!r}: give a registry name or a spec "
                         "(path/to/file.py:Class or package.module:factory)")
    if not width > 0:
        raise ModelError(f"model '{name}': width={width} must be > 0")
    if num_classes < 1 or in_channels < 1 or image_size < 1:
        raise ModelError(f"model '{name}': num_classes, in_channels and image_size must be >= 1")
    if is_model_spec(name):
        return build_from_spec(name, num_classes, in_channels, float(width), int(image_size))
    if name not in _REGISTRY:
        raise ModelError(f"model '{name}': unknown (known: {', '.join(model_names())}; or a spec "
                         "path/to/file.py:Class or package.module:factory)")
    return _REGISTRY[name](num_classes, in_channels, float(width), int(image_size))


# ---------------------------------------------------------------------------------------------
# Model specs: any nn.Module from a file or an importable module
# ---------------------------------------------------------------------------------------------

SPEC_ARGUMENTS = ("num_classes", "in_channels", "width", "image_size")
_FILE_MODULES: dict[str, ModuleType] = {}


def is_model_spec(name: str) -> bool:
    """Whether ``name`` is a spec (``target:attribute``) rather than a registry name."""
    return ":" in name


def split_spec(spec: str) -> tuple[str, str, bool]:
    """``(target, attribute, is_file)`` of a spec; :class:`ModelError` when malformed."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr or not all(part.isidentifier() for part in attr.split(".")):
        raise ModelError(f"model '{spec}': a spec is path/to/file.py:Class or "
                         "package.module:factory (one ':' before a Python name)")
    return target, attr, target.endswith(".py") or "/" in target or os.sep in target


def canonical_spec(spec: str) -> str:
    """A spec whose file path is absolute (a checkpoint then rebuilds the model from any folder);
    registry names and module specs are returned unchanged."""
    if not is_model_spec(spec):
        return spec
    target, attr, is_file = split_spec(spec)
    return f"{Path(target).expanduser().absolute()}:{attr}" if is_file else spec


def _user_frame(exc: BaseException, filename: str | None) -> str:
    """' (line N)' of the innermost frame in ``filename``, or '' (for one-line errors)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if filename is not None:
        frames = [f for f in frames if os.path.abspath(f.filename) == filename]
    line = frames[-1].lineno if frames else getattr(exc, "lineno", None)
    return f" (line {line})" if line else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _load_file(spec: str, target: str) -> ModuleType:
    path = Path(target).expanduser().absolute()
    key = str(path)
    if key in _FILE_MODULES:
        return _FILE_MODULES[key]
    if not path.is_file():
        raise ModelError(f"model '{spec}': no such file {path}")
    name = "rram_prune_model_" + hashlib.sha1(key.encode()).hexdigest()[:12]
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ModelError(f"model '{spec}': {path} cannot be loaded as a Python file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module          # dataclasses, pickling and fx look classes up here
    sys.path.insert(0, str(path.parent))
    try:
        loader_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise ModelError(f"model '{spec}': running {path}{_user_frame(exc, key)} raised "
                         f"{_first_line(exc)}") from None
    finally:
        try:
            sys.path.remove(str(path.parent))
        except ValueError:
            pass
    _FILE_MODULES[key] = module
    return module


def _import_module(spec: str, target: str) -> ModuleType:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (target == exc.name or target.startswith(exc.name + ".")):
            raise ModelError(f"model '{spec}': importing {target} raised "
                             f"{_first_line(exc)}") from None
        if os.getcwd() in sys.path:
            raise ModelError(f"model '{spec}': no module named '{exc.name}' (for a file, "
                             "write path/to/file.py:Class)") from None
    except Exception as exc:
        raise ModelError(f"model '{spec}': importing {target} raised {_first_line(exc)}") from None
    sys.path.append(os.getcwd())        # `rram-prune` runs from its own folder: search the cwd
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        raise ModelError(f"model '{spec}': no module named '{exc.name}' (searched sys.path and "
                         f"{os.getcwd()}; for a file, write path/to/file.py:Class)") from None
    except Exception as exc:
        raise ModelError(f"model '{spec}': importing {target} raised {_first_line(exc)}") from None
    finally:
        sys.path.remove(os.getcwd())


def resolve_spec(spec: str) -> Callable[..., Any]:
    """The class or factory a spec names (the file or module is executed: user code)."""
    target, attr, is_file = split_spec(spec)
    module = _load_file(spec, target) if is_file else _import_module(spec, target)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            where = f"file {module.__file__}" if is_file else f"module {target}"
            found = sorted(n for n, v in vars(module).items() if not n.startswith("_") and (
                isinstance(v, type) and issubclass(v, nn.Module) or inspect.isfunction(v)))
            raise ModelError(f"model '{spec}': {where} has no attribute '{attr}' (classes and "
                             f"functions it defines: {', '.join(found) or 'none'})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(f"model '{spec}': '{attr}' is a {type(obj).__name__}, not a class or "
                         "factory function")
    return obj


def build_from_spec(spec: str, num_classes: int = 10, in_channels: int = 3, width: float = 1.0,
                    image_size: int = 32) -> nn.Module:
    """Call the class or factory ``spec`` names with the arguments its signature takes (see the
    module docstring) and check that it returns an ``nn.Module``."""
    factory = resolve_spec(spec)
    given = {"num_classes": num_classes, "in_channels": in_channels, "width": width,
             "image_size": image_size}
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):     # a builtin without a signature: call it bare
        params = {}
    named = {n: p for n, p in params.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    kwargs = {k: v for k, v in given.items() if k in named}
    missing = [n for n, p in named.items() if p.default is p.empty and n not in kwargs]
    if missing:
        raise ModelError(f"model '{spec}': required argument '{missing[0]}' cannot be given (the "
                         f"front-end passes only {', '.join(SPEC_ARGUMENTS)}; give it a default)")
    if width != 1.0 and "width" not in kwargs:
        raise ModelError(f"model '{spec}': width={width} needs a 'width' argument, which it "
                         "does not take (leave the width at 1)")
    try:
        model = factory(**kwargs)
    except Exception as exc:
        code = getattr(factory, "__code__", None) or getattr(
            getattr(factory, "__init__", None), "__code__", None)
        where = _user_frame(exc, os.path.abspath(code.co_filename) if code else None)
        raise ModelError(f"model '{spec}': building it{where} raised "
                         f"{_first_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ModelError(f"model '{spec}': returned {type(model).__name__}, not a "
                         "torch.nn.Module")
    return model
