"""Any nn.Module as a model: ``path/to/file.py:Class`` and ``package.module:factory`` specs in
build_model, in checkpoints (export / evaluate / autoprune rebuild the model from any folder) and
on the command line; one-line errors for every way a spec can be wrong."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from torch import nn

from pruning.checkpoint import load_checkpoint, model_from_checkpoint
from pruning.cli import main
from pruning.errors import CheckpointError, ModelError
from pruning.models import build_model, canonical_spec

NET = textwrap.dedent('''
    import torch.nn.functional as F
    from torch import nn


    class TutorialNet(nn.Module):
        """Tutorial style: functional pooling and ReLU, x.view(x.size(0), -1)."""

        def __init__(self, num_classes=10, in_channels=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
            self.fc = nn.Linear(16 * 2 * 2, num_classes)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc(x.view(x.size(0), -1))


    def sized(num_classes, image_size, width=1.0, depth=2):
        c = max(1, int(8 * width))
        return nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.Flatten(),
                             nn.Linear(c * image_size * image_size, num_classes))


    def not_a_model():
        return 42


    def needs_more(num_classes, hidden):
        return nn.Linear(hidden, num_classes)


    class Zoo:
        @staticmethod
        def small(num_classes=10):
            return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))

    NOT_CALLABLE = 3
''')


@pytest.fixture
def net_file(tmp_path):
    f = tmp_path / "mine" / "mynet.py"
    f.parent.mkdir()
    f.write_text(NET)
    return f


def test_file_spec_builds_with_the_arguments_it_takes(net_file):
    m = build_model(f"{net_file}:TutorialNet", num_classes=7, in_channels=1, image_size=8)
    assert isinstance(m, nn.Module) and m.fc.out_features == 7
    assert m(torch.zeros(2, 1, 8, 8)).shape == (2, 7)
    s = build_model(f"{net_file}:sized", 5, 1, 0.5, 8)       # width and image_size passed
    assert s[0].out_channels == 4 and s[3].in_features == 4 * 64
    z = build_model(f"{net_file}:Zoo.small", 3)               # a dotted attribute
    assert z[1].out_features == 3
    # the file is executed once per process: the class is the same object each time
    again = build_model(f"{net_file}:TutorialNet", 7, 1, 1.0, 8)
    assert type(again) is type(m)


def test_relative_file_spec_is_made_absolute(net_file, monkeypatch):
    monkeypatch.chdir(net_file.parent.parent)
    assert canonical_spec("mine/mynet.py:TutorialNet") == f"{net_file}:TutorialNet"
    assert canonical_spec("digits_cnn") == "digits_cnn"
    assert canonical_spec("torch.nn:Identity") == "torch.nn:Identity"
    assert build_model("mine/mynet.py:TutorialNet", 10, 1, 1.0, 8).fc.in_features == 64


def test_module_spec_is_imported_from_the_working_folder(tmp_path, monkeypatch):
    pkg = tmp_path / "zoo_pkg_for_specs"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    m = build_model("zoo_pkg_for_specs.nets:TutorialNet", 4, 1, 1.0, 8)
    assert m.fc.out_features == 4


@pytest.mark.parametrize("spec,match", [
    ("{dir}/nothere.py:Net", r"no such file .*nothere\.py"),
    ("{file}:Missing", r"has no attribute 'Missing' \(classes and functions it defines: .*"
                       r"TutorialNet"),
    ("{file}:not_a_model", r"returned int, not a torch.nn.Module"),
    ("{file}:NOT_CALLABLE", r"'NOT_CALLABLE' is a int, not a class or factory"),
    ("{file}:needs_more", r"required argument 'hidden' cannot be given"),
    ("{file}:", r"a spec is path/to/file.py:Class or package.module:factory"),
    ("no_such_package_xyz.nets:Net", r"no module named 'no_such_package_xyz'"),
    ("alexnet", r"unknown \(known: .*digits_cnn; or a spec"),
])
def test_spec_errors_are_one_line(net_file, spec, match):
    spec = spec.format(dir=net_file.parent, file=net_file)
    with pytest.raises(ModelError, match=match) as info:
        build_model(spec, 10, 1, 1.0, 8)
    assert "\n" not in str(info.value) and spec in str(info.value)


def test_width_needs_a_width_argument(net_file):
    with pytest.raises(ModelError, match=r"width=0.5 needs a 'width' argument"):
        build_model(f"{net_file}:TutorialNet", 10, 1, 0.5, 8)


def test_errors_inside_user_code_name_the_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from torch import nn\n\nx = 1\nraise RuntimeError('boom')\n")
    with pytest.raises(ModelError, match=r"running .*bad\.py \(line 4\) raised RuntimeError: "
                                         "boom"):
        build_model(f"{bad}:Net")
    broken = tmp_path / "broken.py"
    broken.write_text("from torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                      "        super().__init__()\n        self.fc = nn.Linear(-1, 2)\n")
    with pytest.raises(ModelError, match=r"building it \(line 7\) raised RuntimeError"):
        build_model(f"{broken}:Net")


def test_cli_train_export_evaluate_autoprune_own_model(net_file, tmp_path, monkeypatch, capsys):
    """A model file goes through train, export and evaluate from another folder, and autoprune
    and realprune take it too."""
    monkeypatch.chdir(net_file.parent.parent)
    run = tmp_path / "run"
    assert main(["train", "--model", "mine/mynet.py:TutorialNet", "--epochs", "1",
                 "-o", str(run), "-q", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ck = load_checkpoint(out["checkpoint"])
    assert ck["model"]["name"] == f"{net_file}:TutorialNet"   # absolute: usable from anywhere
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["export", str(run), "--scheme", "compact", "--golden", "2", "-q", "--json",
                 "-o", str(tmp_path / "bundle")]) == 0
    assert json.loads(capsys.readouterr().out)["layers"] == 3
    assert main(["evaluate", str(run), "--limit", "32", "-q", "--json"]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out)["float_acc"] <= 1.0
    assert main(["autoprune", "--checkpoint", str(run), "--episodes", "1", "--warmup", "1",
                 "--episode-finetune", "0", "--finetune", "0", "-q", "--json",
                 "-o", str(tmp_path / "ap")]) == 0
    res = json.loads(capsys.readouterr().out)
    assert load_checkpoint(res["checkpoint"])["model"]["name"] == f"{net_file}:TutorialNet"
    assert res["export_command"].startswith("rram-prune export ")
    assert main(["realprune", "--model", f"{net_file}:TutorialNet", "--rounds", "0",
                 "--epochs", "1", "-q", "-o", str(tmp_path / "rp")]) == 0
    text = capsys.readouterr().out
    assert "ticket checkpoint: " in text and "export it: rram-prune export " in text


def test_checkpoint_of_a_moved_model_file_is_one_line(net_file, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--model", f"{net_file}:TutorialNet", "--epochs", "0", "-q",
                 "-o", str(run)]) == 0
    ck = load_checkpoint(run)
    ck["model"]["name"] = f"{tmp_path}/moved.py:TutorialNet"
    with pytest.raises(CheckpointError, match=r"checkpoint: model '.*moved.py:TutorialNet': "
                                              r"no such file"):
        model_from_checkpoint(ck)
    assert main(["export", str(run), "-o", str(tmp_path / "b"), "-q"]) == 0   # unchanged file


def test_help_says_a_spec_runs_code(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "path/to/file.py:Class or package.module:factory" in text
    assert "The file or module is executed: name only code you trust" in text
