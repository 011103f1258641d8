"""One command-line convention for ``rram-sim`` and ``rram-prune`` (rram_sim/cli/common.py):
``-o/--output`` where files are written, ``-q/--quiet`` and ``-v/--verbose`` where progress is
shown, ``--json`` wherever a result is printed, ``--example`` wherever one bundle is read, progress
on stderr and results on stdout."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from rram_sim.cli import build_parser, main
from rram_sim.examples import EXAMPLES_DIR

# Subcommands that write files, show progress, or read one bundle (the rest print a result only).
WRITES = {"rram-sim": {"simulate", "plot", "sweep"},
          "rram-prune": {"train", "export", "realprune", "autoprune", "demo"}}
PROGRESS = {"rram-sim": {"simulate", "plot", "sweep"},
            "rram-prune": {"train", "export", "evaluate", "realprune", "autoprune", "demo"}}
READS_BUNDLE = {"rram-sim": {"layout", "verify", "simulate"}, "rram-prune": set()}


def _subcommands(parser):
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: {o for a in p._actions for o in a.option_strings}
            for name, p in sub.choices.items()}


def _parsers():
    out = {"rram-sim": _subcommands(build_parser())}
    try:
        from pruning.cli import build_parser as prune_parser
    except ImportError:   # the front-end is an optional install
        return out
    out["rram-prune"] = _subcommands(prune_parser())
    return out


@pytest.mark.parametrize("prog", ["rram-sim", "rram-prune"])
def test_every_subcommand_follows_the_convention(prog):
    parsers = _parsers()
    if prog not in parsers:
        pytest.skip("the pruning front-end is not installed")
    cmds = parsers[prog]
    assert WRITES[prog] | PROGRESS[prog] | READS_BUNDLE[prog] <= set(cmds)
    for name, flags in cmds.items():
        assert "--json" in flags, f"{prog} {name}: prints a result but has no --json"
        if name in WRITES[prog]:
            assert {"-o", "--output"} <= flags, f"{prog} {name}: no -o/--output"
        if name in PROGRESS[prog]:
            assert {"-q", "--quiet", "-v", "--verbose"} <= flags, f"{prog} {name}: no -q/-v"
        if name in READS_BUNDLE[prog]:
            assert "--example" in flags, f"{prog} {name}: reads a bundle but has no --example"


def test_chips_json_lists_every_preset(capsys):
    assert main(["chips", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    from rram_sim import config

    assert [r["name"] for r in rows] == list(config.preset_names())
    assert sum(r["default"] for r in rows) == 1
    assert all(r["config_hash"] == config.preset(r["name"]).config_hash() for r in rows)


def _sweep_file(tmp_path):
    shutil.copytree(EXAMPLES_DIR / "dense", tmp_path / "b")
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"chip": "edge", "grid": {"adc.bits": [5, 6]},
                                 "bundles": [{"name": "mine", "path": "b"}]}))
    return f


def test_sweep_progress_on_stderr_quiet_and_json(tmp_path, capsys):
    f = _sweep_file(tmp_path)
    assert main(["sweep", str(f), "-o", str(tmp_path / "o")]) == 0
    out, err = capsys.readouterr()
    assert "[1/2]" in err and "[2/2]" in err and "[1/2]" not in out
    assert "2 points: 2 ok" in out
    assert main(["sweep", str(f), "-o", str(tmp_path / "o2"), "-q", "--json"]) == 0
    out, err = capsys.readouterr()
    got = json.loads(out)
    assert (got["points"], got["ok"], got["computed_now"]) == (2, 2, 2) and err == ""
    assert got["files"] and all(Path(p).is_file() for p in got["files"].values())


def test_simulate_and_plot_quiet_verbose_json(tmp_path, capsys):
    rep = tmp_path / "r"
    assert main(["simulate", "--example", "dense", "-v", "-o", str(rep)]) == 0
    out, err = capsys.readouterr()
    assert "settings: " in err and "layer " in err and "latency (us)" in out
    assert main(["plot", str(rep), "-o", str(tmp_path / "p"), "--json", "-q"]) == 0
    out, err = capsys.readouterr()
    got = json.loads(out)
    assert got["figures"] and all((tmp_path / "p" / p.split("/")[-1]).is_file()
                                  for p in got["figures"])
    assert err == ""
    assert main(["plot", str(rep), "-o", str(tmp_path / "p2")]) == 0
    out, err = capsys.readouterr()
    assert "figures written" in out and str(tmp_path / "p2") in err
