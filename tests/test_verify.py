"""rram-sim verify: exit codes, JSON, and the shipped example bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rram_sim.bundle import ARRAYS, MANIFEST, save_bundle
from rram_sim.cli import main
from rram_sim.examples import build_example_bundle, example_path


@pytest.mark.parametrize("scheme", ["dense", "compact", "ou"])
def test_shipped_examples_equal_a_fresh_build(tmp_path, scheme):
    shipped = example_path(scheme)
    assert sum(f.stat().st_size for f in shipped.iterdir()) < 1_000_000
    save_bundle(build_example_bundle(scheme), tmp_path / scheme)
    a = json.loads((shipped / MANIFEST).read_text())
    b = json.loads((tmp_path / scheme / MANIFEST).read_text())
    assert a == b
    with np.load(shipped / ARRAYS, allow_pickle=False) as x, \
            np.load(tmp_path / scheme / ARRAYS, allow_pickle=False) as y:
        assert sorted(x.files) == sorted(y.files)
        for k in x.files:
            assert np.array_equal(x[k], y[k]), k


def test_exit_codes(capsys):
    assert main(["verify", "--example", "ou"]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["verify", "--example", "compact", "--no-index"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "conv1" in out and "fc" in out
    assert main(["verify", "--example", "dense", "--no-index"]) == 0
    assert main(["verify", str(example_path("dense")), "--example", "ou"]) == 2
    assert "exactly one" in capsys.readouterr().err
    assert main(["verify", "/no/such/bundle"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rram-sim verify: error:") and err.count("\n") == 1


def test_json_output(capsys, tmp_path):
    path = Path(tmp_path) / "b"
    save_bundle(build_example_bundle("compact"), path)
    assert main(["verify", str(path), "--json", "--no-index"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["passed"] is False and d["index_unit"] is False
    assert [c["name"] for c in d["layers"]] == ["conv1", "conv2", "fc"]
