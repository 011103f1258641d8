"""docs/python-api.md runs as written: its example goes from a torch model to a report in one call,
equal to export + simulate done by hand; the report it saves is read by `rram-sim plot`."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import pruning
from pruning.errors import ExportError
from pruning.export import export_bundle
from pruning.masks import Masks
from rram_sim import config
from rram_sim.simulate import simulate

PAGE = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def _blocks(lang):
    return re.findall(rf"^```{lang}\n(.*?)^```", PAGE.read_text(), flags=re.S | re.M)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The page's first python block, run in a fresh namespace in an empty folder."""
    folder = tmp_path_factory.mktemp("api")
    ns: dict = {"__name__": "__docs_example__"}
    out = io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out):
        exec(compile(_blocks("python")[0], str(PAGE), "exec"), ns)
    return ns, out.getvalue(), folder


def test_example_prints_the_figures(example):
    ns, text, folder = example
    report = ns["report"]
    assert set(report.runs) == {"inference", "training"}
    inf = report.runs["inference"]
    assert inf["dynamic_energy_per_item_uj"] > 0 and inf["static_energy_per_item_uj"] > 0
    assert f"{inf['energy_per_item_uj']:.4f} uJ per image" in text
    assert text.startswith(f"chip edge, {report.figures['n_crossbars']} crossbars")
    assert (folder / "out" / "tiny_report" / "report.json").is_file()


def test_one_call_equals_export_then_simulate(example):
    ns, _, _ = example
    cfg = config.load("edge")
    bundle = export_bundle(ns["model"], None, cfg, "dense", ns["example_input"])
    by_hand = simulate(bundle, cfg, "both")
    assert ns["report"].to_dict() == by_hand.to_dict()


def test_the_other_blocks_run(example):
    _, _, folder = example
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(_blocks("python")[1], str(PAGE), "exec"), ns)
    assert ns["report"].runs["inference"]["energy_per_item_uj"] > 0
    from rram_sim.cli import main

    for cmd in _blocks("bash")[0].strip().splitlines():
        argv = shlex.split(cmd)
        assert argv[0] == "rram-sim"
        with contextlib.chdir(folder), contextlib.redirect_stdout(io.StringIO()):
            assert main(argv[1:]) == 0, cmd
    assert any((folder / "out" / "tiny_plots").glob("*.png"))


def test_masks_single_image_and_saving(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 10)).eval()
    rng = np.random.default_rng(0)
    masks = {n: rng.random(tuple(p.shape)) > 0.6 for n, p in model.named_parameters()
             if n.endswith("weight")}
    image = torch.randn(1, 8, 8)                      # one image without a batch dimension
    b = pruning.to_bundle(model, image, "edge", "compact", masks=masks, path=tmp_path / "b")
    ref = export_bundle(model, Masks(masks), config.load("edge"), "compact", image[None])
    assert b.figures == ref.figures and (tmp_path / "b" / "manifest.json").is_file()
    rep = pruning.to_report(model, image, chip=config.load("edge"), scheme="compact",
                            masks=Masks(masks), report_path=tmp_path / "r")
    assert set(rep.runs) == {"inference"} and (tmp_path / "r" / "report.json").is_file()
    with pytest.raises(ExportError, match="use nn.ReLU"):
        pruning.to_report(nn.Sequential(nn.Conv2d(1, 2, 3), nn.GELU()), image)


def test_to_report_with_an_eval_set_holds_the_accuracy(tmp_path):
    """eval_set=(images, labels): the bundle keeps them and the report gets the accuracy on the
    crossbars beside the exact quantized one, equal to the simulator's own evaluation."""
    from rram_sim.accuracy import evaluate
    from rram_sim.bundle import load_bundle

    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 3)).eval()
    images = torch.randn(24, 1, 8, 8)
    with torch.no_grad():
        labels = model(images).argmax(1)                # the float model is right on all 24
    rep = pruning.to_report(model, images[:2], "edge", eval_set=(images, labels),
                            bundle_path=tmp_path / "b")
    acc = rep.figures["accuracy"]
    b = load_bundle(tmp_path / "b")
    assert acc == evaluate(b).to_dict() and acc["samples"] == 24
    assert acc["float_accuracy"] == 1.0 and acc["exact"] > 0.8
    assert b.eval_set.source == "to_bundle(eval_set=...)"
