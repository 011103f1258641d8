"""Bad inputs are refused before any work, with one line naming the file, and leave nothing behind.

Per family of issue 19 (simulator side): limits checked before work (JSON depth, ``.npy`` headers,
layer shapes, YAML aliases, long integers, config upper bounds); the bundle's graph checked at load
(op parameters, shapes propagated through every node); NaN or infinite golden vectors refused;
validate everything, then write (plot, sweep); messages naming the file; scheme names from the
registry.
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from rram_sim import config
from rram_sim.bundle import load_bundle, map_network, save_bundle
from rram_sim.cli import main
from rram_sim.errors import ConfigError, LayoutError, MappingError
from rram_sim.examples import example_path
from rram_sim.graph import GraphNode
from rram_sim.layout import LayerSpec
from rram_sim.limits import MAX_DIM, json_depth, short_repr

ROOT = Path(__file__).resolve().parents[1]


def _run(argv, capsys):
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def bundle_copy(dst: Path, scheme: str = "dense", manifest=None, arrays=None) -> Path:
    """The shipped example bundle copied to ``dst`` with ``manifest(m)`` / ``arrays(a)`` edits."""
    src = example_path(scheme)
    m = json.loads((src / "manifest.json").read_text())
    with np.load(src / "arrays.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    if manifest:
        manifest(m)
    if arrays:
        arrays(a)
    dst.mkdir(parents=True)
    (dst / "manifest.json").write_text(json.dumps(m))
    np.savez(dst / "arrays.npz", **a)
    return dst


def rewrite_member(bundle: Path, key: str, data: bytes) -> None:
    """Replace member ``key`` of the bundle's arrays.npz by raw ``.npy`` bytes."""
    p = bundle / "arrays.npz"
    with zipfile.ZipFile(p) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[key + ".npy"] = data
    with zipfile.ZipFile(p, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)


def npy_header(shape, descr="|u1") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": tuple(shape)})
    return buf.getvalue()


def laughs(levels: int = 9, width: int = 9) -> str:
    """A YAML flow list whose aliases expand to width**levels strings ("billion laughs")."""
    items = ["&l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        items.append(f"&l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "[" + ", ".join(items) + "]"


# ---------------------------------------------------------------------------------------------
# Family: limits checked before work
# ---------------------------------------------------------------------------------------------

def test_short_repr_is_bounded_and_fast():
    big = [[["x"] * 10] * 10] * 10
    for _ in range(6):
        big = [big] * 10            # 10**9 leaves: repr() would never finish
    s = short_repr(big)             # finishing at all is the check: repr() would not
    assert len(s) <= 80
    assert "bits" in short_repr(1 << 20000)           # repr() refuses ints this long
    assert short_repr("ok") == "'ok'"
    assert json_depth({"a": [1, {"b": []}]}) == 4 and json_depth(5) == 0


@pytest.mark.parametrize("nesting", [100_000, 100])
def test_deeply_nested_manifest_names_the_bundle(tmp_path, capsys, nesting):
    deep = json.loads("[" * 100 + "]" * 100) if nesting == 100 else None

    def edit(m):
        m["meta"]["deep"] = deep
    b = bundle_copy(tmp_path / "b", manifest=edit)
    if nesting == 100_000:
        (b / "manifest.json").write_text("[" * nesting + "]" * nesting)
    rc, _, err = _run(["layout", b], capsys)
    assert rc == 2
    line = _one_line(err)
    assert str(b) in line and "nested too deeply" in line


@pytest.mark.parametrize("key, shape", [("L0.cells", (10 ** 6, 10 ** 6)),
                                        ("G0.input", (10 ** 5, 1, 8, 8)),
                                        ("L1.row_index", (2 ** 62,))])
def test_npy_header_claiming_more_than_the_file_is_refused_before_loading(tmp_path, key, shape):
    b = bundle_copy(tmp_path / "b")
    descr = "<i4" if "index" in key else ("<f8" if key.startswith("G") else "|u1")
    rewrite_member(b, key, npy_header(shape, descr) + b"\0" * 64)
    with pytest.raises(LayoutError) as e:
        load_bundle(b)
    msg = str(e.value)
    assert f"array '{key}' unreadable" in msg and "claims" in msg and str(b) in msg


def test_npy_member_with_a_garbage_header_is_refused(tmp_path):
    b = bundle_copy(tmp_path / "b")
    rewrite_member(b, "L0.cells", b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}   \n")
    with pytest.raises(LayoutError, match="L0.cells' unreadable"):
        load_bundle(b)


def test_layer_shape_beyond_the_limit_is_refused(tmp_path):
    def edit(m):
        m["golden"] = []
        spec = m["layers"][2]["spec"]
        spec["weight_shape"], spec["input_shape"] = [10, 10 ** 12], [10 ** 12]
    b = bundle_copy(tmp_path / "b", manifest=edit)
    with pytest.raises(LayoutError, match=f"entries must not exceed {MAX_DIM}"):
        load_bundle(b)


def test_yaml_alias_expansion_in_a_chip_file_does_not_hang(tmp_path):
    """A "billion laughs" value is refused at once; its message shows a bounded part of it."""
    f = tmp_path / "chip.yaml"
    f.write_text(f"base: edge\ncell:\n  bits: {laughs()}\n")
    r = subprocess.run([sys.executable, "-m", "rram_sim", "chip", str(f)], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2
    line = _one_line(r.stderr)
    assert "cell.bits=" in line and "must be an integer" in line
    assert len(line) < 200 + len(str(f))


def test_yaml_alias_expansion_in_a_sweep_grid_does_not_hang():
    data = yaml.safe_load(f"grid: {{adc.bits: [{laughs()}]}}\nbundles: [example:dense]\n")
    # an unbounded repr of the value would not finish: returning at all is the check
    with pytest.raises(ConfigError, match=r"grid.adc.bits: value .* must be a number") as e:
        from rram_sim.sweep import parse_spec
        parse_spec(data)
    assert len(str(e.value)) < 300


@pytest.mark.parametrize("key, value", [("chip.tiles", 10 ** 300), ("pe.crossbars", 10 ** 9),
                                        ("chip.clock_ghz", 10 ** 400),
                                        ("crossbar.read_latency_ns", 1e300),
                                        ("training.batch_size", 10 ** 7)])
def test_config_values_beyond_their_upper_bound_name_the_key(key, value):
    group, name = key.split(".")
    with pytest.raises(ConfigError, match=rf"^{group}\.{name}=.*: must be <= ") as e:
        config.from_dict({"base": "edge", group: {name: value}})
    assert len(str(e.value)) < 200


def test_every_numeric_config_field_has_an_upper_bound():
    for group, cls in config.GROUPS.items():
        for f in dataclasses.fields(cls):
            typ = f.type if isinstance(f.type, str) else f.type.__name__
            if typ in ("int", "float"):
                assert f.metadata.get("max") is not None, f"{group}.{f.name} has no upper bound"


def test_chip_file_with_an_integer_too_long_to_read_names_the_file(tmp_path, capsys):
    f = tmp_path / "chip.yaml"
    f.write_text("base: edge\nchip: {tiles: 1" + "0" * 5000 + "}\n")
    rc, _, err = _run(["chip", f], capsys)
    assert rc == 2 and str(f) in _one_line(err)
    f.write_text("base: edge\nchip: {clock_ghz: 0x" + "f" * 5000 + "}\n")
    rc, _, err = _run(["chip", f], capsys)
    assert rc == 2 and "chip.clock_ghz=<integer of 20000 bits>: must be <= 100" in _one_line(err)


def test_a_bad_chip_file_is_named_beside_the_key(tmp_path, capsys):
    """simulate reads a bundle and a chip file: the message says which file is wrong."""
    f = tmp_path / "chip.yaml"
    f.write_text("base: edge\nadc: {bits: 99}\n")
    rc, _, err = _run(["simulate", example_path("dense"), "--chip", f, "-o", tmp_path / "r"],
                      capsys)
    line = _one_line(err)
    assert rc == 2 and f"{f}: adc.bits=99: must be <= 16" in line
    assert not (tmp_path / "r").exists()


def test_bundle_config_with_a_huge_value_is_refused_at_load(tmp_path, capsys):
    b = bundle_copy(tmp_path / "b", manifest=lambda m: m["config"]["chip"].update(tiles=10 ** 300))
    rc, _, err = _run(["simulate", b, "-o", tmp_path / "rep"], capsys)
    assert rc == 2 and "chip.tiles=" in _one_line(err) and str(b) in _one_line(err)
    assert not (tmp_path / "rep").exists()


# ---------------------------------------------------------------------------------------------
# Family: the bundle's graph validated at load
# ---------------------------------------------------------------------------------------------

def _graph(m):
    return {g["name"]: g for g in m["graph"]}


GRAPH_FAULTS = [
    ("input shape disagrees with the first layer",
     lambda m: _graph(m)["input"]["params"].update(shape=[3, 8, 8]),
     r"graph node 1 \('conv1'\): receives shape \(3, 8, 8\) from 'input' but layer 'conv1' "
     r"takes input_shape \(1, 8, 8\)"),
    ("node wired to the wrong layer's output",
     lambda m: _graph(m)["conv2"].update(inputs=["input"]),
     r"'conv2'.*receives shape \(1, 8, 8\)"),
    ("shapes do not chain", lambda m: _graph(m)["pool"]["params"].update(kernel=3, stride=3),
     r"'fc'.*receives shape \(16,\) from 'flatten' but layer 'fc' takes input_shape \(64,\)"),
    ("pool larger than its input", lambda m: _graph(m)["pool"]["params"].update(kernel=9),
     r"'pool'.*a 9x9 pool .* does not fit"),
    ("linear fed without a flatten",
     lambda m: (_graph(m)["fc"].update(inputs=["pool"]),
                m["graph"].remove(_graph(m)["flatten"])),
     r"'fc'.*receives shape \(16, 2, 2\)"),
    ("add of different shapes",
     lambda m: m["graph"].insert(3, {"name": "sum", "op": "add", "inputs": ["input", "relu1"],
                                     "params": {}}),
     r"'sum'.*adds inputs of different shapes"),
    ("non-square pool", lambda m: _graph(m)["pool"]["params"].update(kernel=[2, 1]),
     r"'pool'.*non-square pooling \(kernel 2x1"),
    ("pool with stride 0", lambda m: _graph(m)["pool"]["params"].update(stride=0),
     r"params.stride=0: must be an integer >= 1"),
    ("kernel given as text", lambda m: _graph(m)["pool"]["params"].update(kernel="2"),
     r"params.kernel='2'"),
    ("second input without a shape",
     lambda m: m["graph"].insert(1, {"name": "in2", "op": "input", "inputs": [], "params": {}}),
     r"'in2'.*needs params.shape"),
]


@pytest.mark.parametrize("name, edit, message", GRAPH_FAULTS, ids=[f[0] for f in GRAPH_FAULTS])
def test_graph_faults_are_refused_at_load(tmp_path, capsys, name, edit, message):
    b = bundle_copy(tmp_path / "b", manifest=edit)
    with pytest.raises(LayoutError, match=message):
        load_bundle(b)
    before = _files(tmp_path)
    for cmd in (["layout", b], ["simulate", b, "-o", tmp_path / "rep"], ["verify", b]):
        rc, _, err = _run(cmd, capsys)
        assert rc == 2 and str(b) in _one_line(err), cmd
    assert _files(tmp_path) == before


def test_map_network_refuses_a_graph_whose_shapes_do_not_chain():
    specs = [LayerSpec("c", "conv", (4, 1, 3, 3), (1, 6, 6)),
             LayerSpec("fc", "linear", (2, 99), (99,))]
    graph = [GraphNode("input", "input"), GraphNode("c", "conv", ["input"]),
             GraphNode("f", "flatten", ["c"]), GraphNode("fc", "linear", ["f"])]
    ws = [np.ones(s.weight_shape) for s in specs]
    with pytest.raises(MappingError, match=r"'fc'.*receives shape \(64,\)"):
        map_network(specs, ws, config.default(), graph=graph)


# ---------------------------------------------------------------------------------------------
# Family: NaN or infinite golden vectors
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["G0.output_quantized", "G0.output", "G1.input"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_golden_vectors_are_refused(tmp_path, capsys, key, bad):
    def edit(a):
        x = a[key].copy()
        x.flat[3] = bad
        a[key] = x
    b = bundle_copy(tmp_path / "b", arrays=edit)
    rc, out, err = _run(["verify", b], capsys)
    assert rc == 2 and "PASS" not in out
    assert f"array '{key}' contains NaN or infinity" in _one_line(err)


def test_a_nan_reference_never_verifies_as_a_pass(example_bundles):
    from rram_sim.bundle import Golden
    from rram_sim.datapath import check_layer

    b = example_bundles["dense"]
    lay = b.layers[0]
    g = b.golden[lay.spec.name]
    ref = g.output_quantized.copy()
    ref.flat[0] = np.nan
    check = check_layer(lay, Golden(g.input, g.output, ref), b.config)
    assert not check.passed and check.wrong_fraction > 0


# ---------------------------------------------------------------------------------------------
# Family: validate everything, then write
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    from rram_sim.simulate import simulate

    d = tmp_path_factory.mktemp("rep") / "good"
    simulate(load_bundle(example_path("dense"))).save(d)
    return d


def test_plot_with_a_bad_layer_leaves_no_figures(tmp_path, capsys, report_dir):
    before = _files(tmp_path)
    rc, _, err = _run(["plot", report_dir, "-o", tmp_path / "plots", "--bundle",
                       example_path("dense"), "--layer", "nope"], capsys)
    assert _files(tmp_path) == before
    assert rc == 2 and "--layer 'nope'" in _one_line(err)


def test_plot_names_the_bad_report_of_two_and_writes_nothing(tmp_path, capsys, report_dir):
    bad = tmp_path / "bad"
    bad.mkdir()
    data = json.loads((report_dir / "report.json").read_text())
    data["records"][2]["energy_pj"] = "lots"
    (bad / "report.json").write_text(json.dumps(data))
    before = _files(tmp_path)
    rc, _, err = _run(["plot", report_dir, bad, "-o", tmp_path / "plots"], capsys)
    line = _one_line(err)
    assert rc == 2 and str(bad / "report.json") in line and str(report_dir) not in line
    assert "records[2].energy_pj='lots'" in line
    assert _files(tmp_path) == before


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["runs"].update({"../x": {}}), "unknown run '../x'"),
    (lambda d: d["intervals"][0].update(tile=-1), r"intervals\[0\].tile=-1"),
    (lambda d: d["records"][0].update(category="warp"), r"records\[0\].category='warp'"),
    (lambda d: d["records"][1].update(layer="$\\frac$"), r"records\[1\].layer="),
])
def test_plot_checks_every_report_field_it_draws(tmp_path, capsys, report_dir, edit, message):
    d = tmp_path / "r"
    d.mkdir()
    data = json.loads((report_dir / "report.json").read_text())
    edit(data)
    (d / "report.json").write_text(json.dumps(data))
    rc, _, err = _run(["plot", d, "-o", tmp_path / "plots"], capsys)
    assert rc == 2 and str(d / "report.json") in _one_line(err)
    assert __import__("re").search(message, _one_line(err))
    assert not (tmp_path / "plots").exists()


def test_plot_still_draws_good_reports(tmp_path, capsys, report_dir):
    rc, out, _ = _run(["plot", report_dir, "-o", tmp_path / "plots"], capsys)
    assert rc == 0 and (tmp_path / "plots" / "plots.json").is_file()
    assert len(list((tmp_path / "plots").glob("*.png"))) >= 3


@pytest.mark.parametrize("schemes", [None, ["dense"]])
def test_sweep_checks_every_bundle_before_writing(tmp_path, capsys, schemes):
    spec = {"chip": "edge", "grid": {"adc.bits": [5, 6]},
            "bundles": ["example:dense", "missing_bundle"]}
    if schemes:
        spec["schemes"] = schemes
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(spec))
    before = _files(tmp_path)
    rc, _, err = _run(["sweep", f, "-o", tmp_path / "out"], capsys)
    assert rc == 2 and "missing_bundle" in _one_line(err)
    assert _files(tmp_path) == before            # no output folder, no sweep.json


def test_sweep_with_a_damaged_state_file_names_it(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"chip": "edge", "bundles": ["example:dense"]}))
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.json").write_text("{torn")
    before = _files(tmp_path)
    rc, _, err = _run(["sweep", f, "-o", out], capsys)
    assert rc == 2 and str(out / "sweep.json") in _one_line(err)
    assert _files(tmp_path) == before


def test_sweep_reruns_damaged_result_rows(tmp_path):
    from rram_sim.sweep import parse_spec, read_results, run_sweep

    spec = parse_spec({"chip": "edge", "bundles": ["example:dense"]})
    res = run_sweep(spec, tmp_path)
    row = dict(res.rows[0])
    row["inference_energy_pj"] = "lots"
    (tmp_path / "results.jsonl").write_text(json.dumps(row) + "\n" + json.dumps([1]) + "\n")
    assert read_results(tmp_path) == {}
    again = run_sweep(spec, tmp_path)
    assert again.computed == [row["key"]]


# ---------------------------------------------------------------------------------------------
# Family: scheme names from the registry
# ---------------------------------------------------------------------------------------------

def test_a_bundle_of_a_scheme_registered_at_run_time_loads(tmp_path):
    from rram_sim.schemes import SCHEME_REGISTRY, CompactScheme, register_scheme

    class Compact2(CompactScheme):
        name = "compact_run_time_test"

    scheme = register_scheme(Compact2())
    try:
        specs = [LayerSpec("fc", "linear", (4, 6), (6,))]
        w = np.arange(24, dtype=float).reshape(4, 6) - 11.5
        b = map_network(specs, [w], config.default(), scheme.name)
        save_bundle(b, tmp_path / "b")
        loaded = load_bundle(tmp_path / "b")
        assert loaded.scheme == scheme.name and loaded.layers[0].scheme == scheme.name
    finally:
        SCHEME_REGISTRY.pop(scheme.name)
    with pytest.raises(LayoutError, match="scheme='compact_run_time_test': must be one of"):
        load_bundle(tmp_path / "b")
