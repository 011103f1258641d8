"""Tests of the chip configuration: presets, YAML round-trips, overrides, validation, derived."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rram_sim import config, docgen
from rram_sim.config import Config, from_dict, load, load_yaml_text, preset, preset_names, save
from rram_sim.errors import ConfigError, RramSimError


def test_presets_exist_and_default():
    assert {"edge", "isaac", "pipelayer"} <= set(preset_names())
    assert config.default() == preset(config.DEFAULT_PRESET)
    for name in preset_names():
        cfg = preset(name)
        assert cfg.name == name
        assert cfg.description


@pytest.mark.parametrize("name", ["edge", "isaac", "pipelayer"])
def test_preset_yaml_round_trip(name, tmp_path):
    cfg = preset(name)
    assert load_yaml_text(cfg.to_yaml()) == cfg
    path = tmp_path / f"{name}.yaml"
    save(cfg, path)
    assert load(path) == cfg
    assert load(str(path)).config_hash() == cfg.config_hash()
    assert load(name) == cfg


def test_save_leaves_no_temporary_files(tmp_path):
    save(preset("edge"), tmp_path / "a.yaml")
    assert [p.name for p in tmp_path.iterdir()] == ["a.yaml"]


def test_partial_yaml_with_base_overrides_only_given_keys():
    base = preset("isaac")
    cfg = load_yaml_text("base: isaac\nadc: {bits: 6}\nchip: {tiles: 10}\n")
    assert cfg.adc.bits == 6
    assert cfg.chip.tiles == 10
    assert cfg.adc.sample_rate_gsps == base.adc.sample_rate_gsps
    assert cfg.chip.clock_ghz == base.chip.clock_ghz
    for group in ("cell", "crossbar", "dac", "ou", "pe", "tile", "noc", "precision", "training"):
        assert getattr(cfg, group) == getattr(base, group)
    assert cfg.name == "custom" and "isaac" in cfg.description
    named = load_yaml_text("base: edge\nname: mine\n")
    assert named.name == "mine" and named.cell == preset("edge").cell


def test_yaml_without_base_uses_dataclass_defaults():
    cfg = load_yaml_text("crossbar: {rows: 64}\nou: {rows: 64}\n")
    assert cfg.crossbar.rows == 64
    assert cfg.adc == config.AdcConfig()
    assert load_yaml_text("") == Config()


def test_file_with_base(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("base: edge\nadc: {bits: 5}\n")
    cfg = load(p)
    assert cfg.adc.bits == 5 and cfg.tile == preset("edge").tile


def _err(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_yaml_text(text)
    assert isinstance(exc.value, RramSimError)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("text, must_contain", [
    ("adc: {bitz: 4}", ["adc.bitz", "unknown key"]),
    ("foo: 1", ["foo", "unknown key"]),
    ("adc: 5", ["adc=5", "mapping"]),
    ("adc: {bits: eight}", ["adc.bits='eight'", "integer"]),
    ("adc: {bits: true}", ["adc.bits=True", "integer"]),
    ("adc: {bits: 4.5}", ["adc.bits=4.5", "integer"]),
    ("chip: {clock_ghz: fast}", ["chip.clock_ghz='fast'", "number"]),
    ("chip: {clock_ghz: .nan}", ["chip.clock_ghz=nan", "finite"]),
    ("training: {enabled: 1}", ["training.enabled=1", "true or false"]),
    ("noc: {topology: torus}", ["noc.topology='torus'", "mesh, cmesh"]),
    ("name: 3", ["name=3", "string"]),
    ("adc: {bits: 0}", ["adc.bits=0", ">= 1"]),
    ("adc: {bits: 17}", ["adc.bits=17", "<= 16"]),
    ("chip: {clock_ghz: 0}", ["chip.clock_ghz=0", "> 0"]),
    ("chip: {tiles: 0}", ["chip.tiles=0", ">= 1"]),
    ("cell: {write_energy_pj: -1.0}", ["cell.write_energy_pj=-1.0", ">= 0"]),
    ("adc: {calibration_fraction: 1.5}", ["adc.calibration_fraction=1.5", "<= 1"]),
    ("base: nosuch", ["nosuch", "unknown"]),
    ("base: 3", ["base=3", "preset name"]),
    ("- 1\n- 2", ["config", "mapping"]),
])
def test_invalid_values_name_key_and_value(text, must_contain):
    msg = _err(text)
    for s in must_contain:
        assert s in msg, msg


@pytest.mark.parametrize("text, must_contain", [
    ("base: isaac\nadc: {columns_per_adc: 256}", ["adc.columns_per_adc=256", "128"]),
    ("base: isaac\nou: {rows: 48}", ["ou.rows=48", "divide crossbar.rows=128"]),
    ("base: isaac\nou: {rows: 256}", ["ou.rows=256", "divide"]),
    ("base: isaac\nou: {cols: 3}", ["ou.cols=3", "divide crossbar.cols=128"]),
    ("base: isaac\ncrossbar: {cols: 4}", ["crossbar.cols=4", "8 physical columns"]),
    ("base: isaac\ncrossbar: {cols: 12}\nou: {cols: 12}\nadc: {columns_per_adc: 12}",
     ["crossbar.cols=12", "multiple"]),
    ("base: pipelayer\ncrossbar: {cols: 6}\nou: {cols: 6}\nadc: {columns_per_adc: 6}",
     ["crossbar.cols=6", "differential"]),
    ("base: isaac\nnoc: {topology: mesh, concentration: 4}",
     ["noc.concentration=4", "mesh"]),
    ("base: edge\nnoc: {topology: cmesh, concentration: 32}",
     ["noc.concentration=32", "chip.tiles=16"]),
    ("base: edge\ndac: {bits: 8}\nprecision: {input_bits: 4}", ["dac.bits=8", "input_bits=4"]),
    ("base: isaac\ncrossbar: {rows: 4096}\nou: {rows: 4096}\ndac: {bits: 8}\ncell: {bits: 8}",
     ["ou.rows=4096", "2**24"]),
])
def test_inconsistent_values(text, must_contain):
    msg = _err(text)
    for s in must_contain:
        assert s in msg, msg


def test_invalid_yaml_text():
    msg = _err("adc: {bits: [1, 2")
    assert "not valid YAML" in msg


def test_load_missing_file_names_presets():
    with pytest.raises(ConfigError, match="nosuch.yaml.*edge"):
        load("nosuch.yaml")
    with pytest.raises(ConfigError, match="unknown"):
        preset("nosuch")


def test_invalid_yaml_file_names_path(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("chip: {tiles: [")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load(p)


def test_derived_properties():
    isaac = preset("isaac")
    assert isaac.slices_per_weight == 8            # 16-bit weights over 2-bit cells
    assert isaac.columns_per_weight == 8
    assert isaac.logical_cols_per_crossbar == 16
    assert isaac.input_cycles == 16
    assert isaac.adcs_per_crossbar == 1
    pl = preset("pipelayer")
    assert pl.slices_per_weight == 4               # 16 bits over 4-bit cells
    assert pl.columns_per_weight == 8              # differential pair
    assert pl.logical_cols_per_crossbar == 16
    edge = preset("edge")
    assert edge.slices_per_weight == 4 and edge.logical_cols_per_crossbar == 16  # 64 cols / 4
    assert edge.adcs_per_crossbar == 4              # 64 cols / 16 per ADC
    odd = edge.replace(**{"precision.weight_bits": 7, "dac.bits": 3, "precision.input_bits": 8})
    assert odd.slices_per_weight == 4              # ceil(7 / 2)
    assert odd.input_cycles == 3                   # ceil(8 / 3)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 32), st.integers(1, 8), st.integers(1, 32), st.integers(1, 8))
def test_derived_properties_formulas(wbits, cbits, ibits, dbits):
    slices = -(-wbits // cbits)
    cols = 8 * slices
    changes = {"precision.weight_bits": wbits, "cell.bits": cbits, "precision.input_bits": ibits,
               "dac.bits": min(dbits, ibits), "crossbar.cols": cols, "ou.cols": cols,
               "ou.rows": 16, "crossbar.rows": 16, "adc.columns_per_adc": cols}
    cfg = config.default().replace(**changes)
    assert cfg.slices_per_weight == slices
    assert cfg.columns_per_weight == slices
    assert cfg.logical_cols_per_crossbar == 8
    assert cfg.input_cycles == -(-ibits // min(dbits, ibits))


def test_config_hash_stable_and_sensitive():
    a, b = preset("isaac"), preset("isaac")
    assert a.config_hash() == b.config_hash()
    assert len(a.config_hash()) == 16
    assert a.replace(**{"adc.bits": 7}).config_hash() != a.config_hash()
    assert a.replace(**{"chip.clock_ghz": 1.3}).config_hash() != a.config_hash()
    # name and description do not change what the chip is
    assert a.replace(name="x", description="y").config_hash() == a.config_hash()
    assert preset("edge").config_hash() != a.config_hash()


def test_replace():
    a = preset("isaac")
    b = a.replace(**{"adc.bits": 6, "chip.tiles": 8})
    assert (b.adc.bits, b.chip.tiles) == (6, 8)
    assert a.adc.bits == 8                         # original untouched (frozen)
    assert b.crossbar == a.crossbar
    with pytest.raises(ConfigError, match="adc.nope"):
        a.replace(**{"adc.nope": 1})
    with pytest.raises(ConfigError, match="nogroup"):
        a.replace(**{"nogroup.bits": 1})
    with pytest.raises(ConfigError, match="adc.bits=0"):
        a.replace(**{"adc.bits": 0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.adc.bits = 3  # type: ignore[misc]


def test_direct_construction_is_validated():
    with pytest.raises(ConfigError, match="crossbar"):
        Config(crossbar={"rows": 3})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="pe.crossbars=0"):
        Config(pe=config.PeConfig(crossbars=0))


def test_from_dict_and_to_dict():
    d = preset("edge").to_dict()
    assert from_dict(d) == preset("edge")
    assert set(d) == {"name", "description", *config.GROUPS}
    yaml_d = yaml.safe_load(preset("edge").to_yaml())
    assert yaml_d == d


def test_every_field_documented():
    for cls in config.GROUPS.values():
        for f in dataclasses.fields(cls):
            assert f.metadata.get("doc"), f"{cls.__name__}.{f.name}"


def test_docs_config_md_is_current():
    from rram_sim import docgen

    text = docgen.config_reference_markdown()
    assert docgen.DOC_PATH.read_text(encoding="utf-8") == text, (
        "docs/config.md is out of date: run python -m rram_sim.docgen")


def test_config_reference_covers_every_field_and_preset():
    from rram_sim import docgen

    text = docgen.config_reference_markdown()
    for group, cls in config.GROUPS.items():
        assert f"## `{group}`" in text
        for f in dataclasses.fields(cls):
            assert f"| `{group}.{f.name}` |" in text
            assert f.metadata["doc"].replace("|", "\\|") in text
    for name in preset_names():
        assert f"### `{name}`" in text and preset(name).description in text
    assert "- `tile.pes`: 4" in text  # a value the edge preset sets
    assert "| `adc.bits` | int | bit | 8 | >= 1, <= 16 |" in text


@pytest.mark.parametrize("rule, breaking", docgen.CROSS_FIELD_RULES,
                         ids=[f"rule{i}" for i in range(1, len(docgen.CROSS_FIELD_RULES) + 1)])
def test_documented_cross_field_rules_are_enforced(rule, breaking):
    with pytest.raises(ConfigError):
        preset("isaac").replace(**breaking)


@pytest.mark.parametrize("text", [
    "base: isaac\ncell: {g_on_us: 100.0, g_off_us: 1.0, read_voltage_v: 0.2}\n"
    "training: {replication: 1}\nadc: {bits: 6}\n",
    "cell: {g_on_us: 1.0}\n",
])
def test_removed_keys_load_with_one_warning_naming_them(text):
    with pytest.warns(config.RemovedKeyWarning) as rec:
        cfg = load_yaml_text(text)
    assert len(rec) == 1
    msg = str(rec[0].message)
    assert "\n" not in msg
    dropped = [k for k in config.REMOVED_KEYS if k.split(".")[1] in text]
    assert dropped and all(k in msg for k in dropped)
    assert not [k for k in config.REMOVED_KEYS if k not in dropped and k in msg]
    assert cfg == load_yaml_text("\n".join(line for line in text.splitlines()
                                           if "g_on" not in line and "replication" not in line))


def test_removed_keys_are_gone_and_current_files_load_without_warning():
    import warnings

    d = preset("edge").to_dict()
    for key in config.REMOVED_KEYS:
        group, name = key.split(".")
        assert name not in d[group], key
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert from_dict(d) == preset("edge")


def test_docgen_check_and_write(tmp_path, capsys):
    from rram_sim import docgen

    p = tmp_path / "config.md"
    assert docgen.main(["--check", "--path", str(p)]) == 1
    assert docgen.main(["--path", str(p)]) == 0
    assert docgen.main(["--check", "--path", str(p)]) == 0
    assert p.read_text() == docgen.config_reference_markdown()
    capsys.readouterr()
