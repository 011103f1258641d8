"""The rram-prune command-line conventions: help without torch, the names --help lists equal the
registries, the command line's defaults equal the Python API's, and the common flags exist on every
subcommand."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys

import pytest

from pruning.cli import build_parser, common

COMMANDS = ("train", "export", "evaluate", "realprune", "autoprune", "demo")


def _sub(name):
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[name]


def _defaults(name, *required):
    return vars(_sub(name).parse_args(list(required)))


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["realprune", "--help"],
                                  ["autoprune", "--help"], ["export", "--help"]])
def test_help_imports_no_torch(argv):
    code = ("import sys\nfrom pruning.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "usage: rram-prune" in r.stdout


def test_listed_names_equal_the_registries():
    from pruning.autoprune import settings as ap
    from pruning.cli import autoprune
    from pruning.data import DATASETS
    from pruning.methods.registry import method_names
    from pruning.methods.round_method import RoundMethod
    from pruning.models import model_names
    from pruning.train import OPTIMIZERS, SCHEDULES

    assert common.DATASETS == DATASETS
    assert list(common.MODELS) == model_names()
    assert list(common.ROUND_METHODS) == method_names(RoundMethod)
    assert (common.OPTIMIZERS, common.SCHEDULES) == (OPTIMIZERS, SCHEDULES)
    assert autoprune.EPISODES == ap.EPISODES
    assert autoprune.WARMUP_EPISODES == ap.AGENT.warmup_episodes
    assert autoprune.REWARD_METRICS == ap.REWARD_METRICS


def test_train_defaults_equal_train_function():
    from pruning.data import get_data
    from pruning.train import current_recipe, train

    cli = _defaults("train", "-o", "x")
    params = inspect.signature(train).parameters
    for key in ("optimizer", "lr", "momentum", "weight_decay", "seed"):
        assert cli[key] == params[key].default, key
    # train(schedule=None) takes the recipe's schedule
    assert cli["schedule"] == (params["schedule"].default or current_recipe().schedule)
    assert cli["batch_size"] == inspect.signature(get_data).parameters["batch_size"].default


def test_realprune_defaults_equal_prune_settings():
    from pruning.realprune import PruneSettings

    cli = _defaults("realprune", "-o", "x")
    api = PruneSettings()
    for f in dataclasses.fields(PruneSettings):
        if f.name in cli and f.name not in ("granularity", "exclude"):
            assert cli[f.name] == getattr(api, f.name), f.name
    assert cli["granularity"] is None and cli["exclude"] is None   # the method's own


def test_autoprune_defaults_equal_autoprune_settings():
    from pruning.autoprune.settings import AutoPruneSettings
    from pruning.cli.autoprune import settings_from_args

    args = _sub("autoprune").parse_args(["-o", "x"])
    assert settings_from_args(args) == AutoPruneSettings()


def test_demo_defaults_equal_demo_settings():
    from pruning.demo import DemoSettings

    cli = _defaults("demo")
    assert cli["chip"] is None and cli["seed"] is None    # None: DemoSettings' own
    assert DemoSettings().chip == _defaults("export", "ck", "-o", "b")["chip"] == "edge"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_the_common_flags(name):
    sub = _sub(name)
    flags = {s for a in sub._actions for s in a.option_strings}
    assert {"-q", "--quiet", "-v", "--verbose", "--json"} <= flags, name
    if name != "evaluate":     # evaluate writes no file
        assert {"-o", "--output"} <= flags, name
    if name in ("train", "export"):
        assert "--out" in flags      # the old spelling still works
    if name in ("train", "realprune", "autoprune"):
        assert "--model" in flags


def test_old_flag_spellings_still_parse():
    a = _sub("train").parse_args(["--out", "d", "--no-progress"])
    assert a.output == "d" and a.quiet
    assert _sub("export").parse_args(["ck", "--out", "b"]).output == "b"
    with pytest.raises(SystemExit):
        _sub("train").parse_args(["-o", "d", "-q", "-v"])     # one verbosity at a time


def test_quiet_verbose_and_json_on_a_tiny_run(tmp_path, capsys):
    import json

    from pruning.cli import main

    run = tmp_path / "run"
    assert main(["train", "--epochs", "0", "--width", "0.25", "-v", "-o", str(run)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("trained 0 epochs: val acc ") and "checkpoint " in out
    assert "settings: {" in err and "parameters, input 1x8x8" in err
    assert main(["export", str(run), "--golden", "1", "-v", "-o", str(tmp_path / "b")]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"bundle {tmp_path / 'b'}: 4 layers, ")
    assert "  features.0: conv 9x4, " in err and "crossbars" in err
    assert main(["export", str(run), "--golden", "1", "-q", "--json",
                 "-o", str(tmp_path / "c")]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["layers"] == 4 and err == ""
