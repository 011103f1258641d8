"""Tests of ``rram-sim chips`` and ``rram-sim chip``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from rram_sim import config, costs
from rram_sim.cli import main


def test_chips_lists_presets(run_cli):
    rc, out, err = run_cli("chips")
    assert rc == 0 and err == ""
    lines = out.strip().splitlines()
    assert len(lines) == len(config.preset_names())
    for name, line in zip(config.preset_names(), lines):
        assert line.startswith(name)
        assert config.preset(name).description in line


def test_chip_table(run_cli):
    rc, out, err = run_cli("chip", "isaac")
    assert rc == 0 and err == ""
    for word in ("per PE", "per tile", "per chip", "adc", "edram", "router", "offchip_link"):
        assert word in out
    r = costs.rollup(config.preset("isaac"))
    assert f"{r.tile_power_mw:.2f} mW" in out
    assert f"{r.chip_area_mm2:.2f} mm^2" in out
    assert f"{r.chip_power_w:.3f} W" in out


def test_chip_json(run_cli):
    rc, out, _ = run_cli("chip", "isaac", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["chip"]["area_mm2"] == pytest.approx(85.4, rel=0.01)
    assert d["chip"]["power_w"] == pytest.approx(65.8, rel=0.01)
    assert d["tile"]["area_mm2"] == pytest.approx(0.372, rel=0.01)
    assert d["tile"]["power_mw"] == pytest.approx(330, rel=0.01)
    comps = {(c["level"], c["component"]): c for c in d["components"]}
    assert comps[("pe", "adc")]["power_mw"] == pytest.approx(16.0)
    assert d["config_hash"] == config.preset("isaac").config_hash()
    assert d["indexed"] is False


def test_chip_json_indexed(run_cli):
    _, out, _ = run_cli("chip", "edge", "--json", "--indexed")
    d = json.loads(out)
    names = {c["component"] for c in d["components"]}
    assert "index_unit" in names and d["indexed"] is True
    _, plain, _ = run_cli("chip", "edge", "--json")
    assert json.loads(plain)["chip"]["area_mm2"] < d["chip"]["area_mm2"]


def test_chip_yaml_round_trips(run_cli):
    rc, out, _ = run_cli("chip", "pipelayer", "--yaml")
    assert rc == 0
    assert config.load_yaml_text(out) == config.preset("pipelayer")


def test_chip_from_partial_yaml_file(run_cli, tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text("base: isaac\nchip: {tiles: 8}\nadc: {bits: 6}\n")
    rc, out, _ = run_cli("chip", str(p), "--json")
    assert rc == 0
    d = json.loads(out)
    want = costs.rollup(config.load(p))
    assert d["chip"]["area_mm2"] == pytest.approx(want.chip_area_mm2)
    assert d["chip"]["area_mm2"] < 30.0  # 8 small tiles + the 22.88 mm^2 of links
    _, y, _ = run_cli("chip", str(p), "--yaml")
    assert yaml.safe_load(y)["adc"]["bits"] == 6


@pytest.mark.parametrize("content, needle", [
    (None, "neither a preset"),
    ("adc: {bits: 99}\n", "adc.bits=99"),
    ("chip: {tiles: [\n", "not valid YAML"),
    ("base: isaac\nou: {rows: 48}\n", "ou.rows=48"),
])
def test_chip_bad_input_one_line_exit_2(run_cli, tmp_path, content, needle):
    p = tmp_path / "bad.yaml"
    if content is not None:
        p.write_text(content)
    rc, out, err = run_cli("chip", str(p))
    assert rc == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert needle in err and err.startswith("rram-sim chip: error:")


def test_chip_json_and_yaml_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["chip", "isaac", "--json", "--yaml"])
    assert exc.value.code == 2


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "rram_sim", "chip", "edge", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["name"] == "edge"
    bad = subprocess.run([sys.executable, "-m", "rram_sim", "chip", "no-such-chip"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "no-such-chip" in bad.stderr


def test_old_yaml_with_removed_keys_one_warning_line(tmp_path):
    p = tmp_path / "old.yaml"
    p.write_text("base: edge\ncell: {g_on_us: 100.0, g_off_us: 1.0, read_voltage_v: 0.2}\n"
                 "training: {replication: 1}\n")
    proc = subprocess.run([sys.executable, "-m", "rram_sim", "chip", str(p), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["config_hash"] == config.preset("edge").config_hash()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{p}:0: RemovedKeyWarning:")
    assert all(k in lines[0] for k in config.REMOVED_KEYS)


def test_chip_states_its_base(run_cli, tmp_path):
    """A YAML without ``base:`` is named as starting from the built-in defaults (with their tile
    count, precision and training switch read from the dataclasses); with ``base:`` the preset is
    named; a preset names itself. The JSON carries the same under ``base``."""
    bare = tmp_path / "bare.yaml"
    bare.write_text("adc: {bits: 6}\n")
    based = tmp_path / "based.yaml"
    based.write_text("base: edge\nadc: {bits: 6}\n")
    rc, out, err = run_cli("chip", str(bare))
    assert rc == 0 and err == ""
    line = out.splitlines()[1]
    d = config.from_dict({})
    assert line.startswith("base: (none) built-in defaults: isaac-class dataclass defaults")
    assert f"{d.chip.tiles} tiles" in line and "training disabled" in line
    assert "not identical to any preset" in line and "'base: NAME'" in line
    rc, out, _ = run_cli("chip", str(based))
    assert rc == 0 and out.splitlines()[1] == "base: preset 'edge' (the file's keys override it)"
    rc, out, _ = run_cli("chip", "pipelayer")
    assert rc == 0 and out.splitlines()[1] == "base: preset 'pipelayer' (the chip itself)"
    assert json.loads(run_cli("chip", str(bare), "--json")[1])["base"] == "defaults"
    assert json.loads(run_cli("chip", str(based), "--json")[1])["base"] == "edge"


def test_base_of_refuses_non_text_base(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("base: [edge]\n")
    with pytest.raises(config.ConfigError, match="must be a preset name"):
        config.base_of(f)
    assert config.base_of("edge") == "edge"
