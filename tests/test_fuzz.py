"""Fuzz the command line with mutated inputs: chip YAML files, bundle manifests, bundle arrays and
report files (hypothesis, derandomized, a bounded number of examples per family).

Every run must end in one of two ways: exit 0 (the mutation happened to leave a valid input), or
exit 2 with exactly one line on stderr, no traceback, and nothing new on disk. Mutations that can
never be valid (a value of the wrong type or out of range, a truncated archive, an array of the
wrong dtype, a header claiming more than the file holds) must end in exit 2.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rram_sim import config
from rram_sim.cli import main
from rram_sim.examples import example_path

FUZZ = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
DEEP = "@@deep@@"   # stands for a deeply nested list spliced into the JSON text


def run_cli(capsys, argv: list[Any]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_refused(rc: int, err: str) -> str:
    assert rc == 2, (rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def assert_clean_outcome(rc: int, err: str) -> None:
    """Exit 0, or a one-line refusal."""
    if rc != 0:
        assert_refused(rc, err)
    else:
        assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
    st.sampled_from([10 ** 300, -10 ** 300, 2 ** 63, -1, 0]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-5, 5), max_size=2),
    st.just(DEEP))


def _never_valid(f: dataclasses.Field) -> st.SearchStrategy:
    """Values config field ``f`` can never take."""
    typ = f.type if isinstance(f.type, str) else f.type.__name__
    meta = f.metadata
    wrong_type = st.one_of(st.none(), st.text(max_size=8), st.lists(st.integers(), max_size=3),
                           st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    if typ == "bool":
        return st.one_of(wrong_type, st.integers(0, 3))
    if meta.get("choices"):
        return st.one_of(st.none(), st.integers(), st.text(max_size=8).filter(
            lambda s: s not in meta["choices"]))
    lo, hi = meta["min"], meta["max"]
    out_of_range = st.one_of(st.sampled_from([hi * 10 + 1, 10 ** 300, lo - 1, -10 ** 300]),
                             st.integers(min_value=int(hi) + 1))
    if typ == "int":
        return st.one_of(wrong_type, st.booleans(), st.floats(), out_of_range)
    return st.one_of(wrong_type, st.booleans(), out_of_range,
                     st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300 * 10]))


CHIP_FIELDS = [(g, f) for g, cls in config.GROUPS.items() for f in dataclasses.fields(cls)]


# ---------------------------------------------------------------------------------------------
# JSON mutations
# ---------------------------------------------------------------------------------------------

def json_paths(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path (a tuple of keys and indices) to a value inside ``obj``."""
    items = (obj.items() if isinstance(obj, dict)
             else enumerate(obj) if isinstance(obj, list) else ())
    for k, v in items:
        yield (*prefix, k)
        yield from json_paths(v, (*prefix, k))


def mutate(obj: Any, path: tuple, op: str, value: Any) -> None:
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    if op == "delete":
        del parent[key]
    elif op == "replace":
        parent[key] = value
    elif op == "wrap":
        parent[key] = [parent[key]]
    elif op == "stringify":
        parent[key] = json.dumps(parent[key])


def json_text(obj: Any, depth: int) -> str:
    """``obj`` as JSON, each DEEP placeholder a list nested ``depth`` levels."""
    return json.dumps(obj).replace(json.dumps(DEEP), "[" * depth + "]" * depth)


MUTATIONS = st.tuples(st.sampled_from(["delete", "replace", "replace", "wrap", "stringify"]),
                      JUNK, st.sampled_from([3, 80, 5000]))


# ---------------------------------------------------------------------------------------------
# Chip files
# ---------------------------------------------------------------------------------------------

@settings(FUZZ, max_examples=60)
@given(field=st.sampled_from([c for c in CHIP_FIELDS
                              if c[1].metadata.get("min") is not None
                              or c[1].metadata.get("choices")
                              or c[1].type in ("bool", bool)]),
       data=st.data())
def test_chip_file_with_an_impossible_value_is_refused_naming_the_key(field, data, capsys):
    group, f = field
    value = data.draw(_never_valid(f))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "chip.yaml"
        path.write_text(yaml.safe_dump({"base": "edge", group: {f.name: value}}))
        before = files(Path(d))
        rc, _, err = run_cli(capsys, ["chip", path])
        line = assert_refused(rc, err)
        assert f"{group}.{f.name}" in line and str(path) in line and len(line) < 400
        assert files(Path(d)) == before


@settings(FUZZ, max_examples=40)
@given(cut=st.floats(0.0, 1.0), junk=st.binary(max_size=8), where=st.floats(0.0, 1.0),
       unknown=st.booleans())
def test_damaged_chip_text_is_refused_or_valid(cut, junk, where, unknown, capsys):
    text = config.preset("isaac").to_yaml()
    text = text[:int(len(text) * cut)]
    at = int(len(text) * where)
    raw = text.encode()[:at] + junk + text.encode()[at:]
    if unknown:
        raw += b"\nbogus_group: {x: 1}\n"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "chip.yaml"
        path.write_bytes(raw)
        rc, _, err = run_cli(capsys, ["chip", path])
        if unknown:   # an unknown group can never be valid
            assert_refused(rc, err)
        assert_clean_outcome(rc, err)


# ---------------------------------------------------------------------------------------------
# Bundle manifests
# ---------------------------------------------------------------------------------------------

DENSE = example_path("dense")
MANIFEST = json.loads((DENSE / "manifest.json").read_text())
MANIFEST_PATHS = sorted(json_paths(MANIFEST), key=repr)


@settings(FUZZ, max_examples=60)
@given(path=st.sampled_from(MANIFEST_PATHS), mutation=MUTATIONS)
def test_mutated_manifest_is_refused_in_one_line_or_simulates(path, mutation, capsys):
    op, value, depth = mutation
    m = json.loads(json.dumps(MANIFEST))
    mutate(m, path, op, value)
    with tempfile.TemporaryDirectory() as d:
        b = Path(d) / "bundle"
        b.mkdir()
        (b / "manifest.json").write_text(json_text(m, depth))
        (b / "arrays.npz").write_bytes((DENSE / "arrays.npz").read_bytes())
        before = files(Path(d))
        rc, _, err = run_cli(capsys, ["simulate", b, "-o", Path(d) / "rep"])
        assert_clean_outcome(rc, err)
        if rc == 2:
            assert str(b) in err
            assert files(Path(d)) == before


# ---------------------------------------------------------------------------------------------
# Bundle arrays
# ---------------------------------------------------------------------------------------------

with np.load(DENSE / "arrays.npz", allow_pickle=False) as _z:
    ARRAYS = {k: _z[k] for k in _z.files}
KEYS = sorted(ARRAYS)


def npz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    return buf.getvalue()


def npy_bytes(a: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=allow_pickle)
    return buf.getvalue()


ALWAYS_BAD = ("truncate", "dtype", "object", "huge_header", "drop")


@settings(FUZZ, max_examples=50)
@given(key=st.sampled_from(KEYS), op=st.sampled_from(ALWAYS_BAD + ("flip", "shrink")),
       frac=st.floats(0.0, 0.999), dtype=st.sampled_from(["float32", "int64", "uint16", "bool",
                                                          "complex64", "int8"]),
       shape=st.lists(st.integers(1, 10 ** 7), min_size=1, max_size=4))
def test_damaged_arrays_are_refused_in_one_line(key, op, frac, dtype, shape, capsys):
    members = {k: npy_bytes(v) for k, v in ARRAYS.items()}
    a = ARRAYS[key]
    if op == "dtype" and a.dtype == np.dtype(dtype):
        dtype = "float16"
    if op == "dtype":
        members[key] = npy_bytes(a.astype(dtype))
    elif op == "object":
        members[key] = npy_bytes(np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    elif op == "huge_header":
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": a.dtype.str, "fortran_order": False,
                                                   "shape": (10 ** 6, *shape)})
        members[key] = buf.getvalue() + b"\0" * 32
    elif op == "drop":
        del members[key]
    elif op == "flip":
        raw = bytearray(members[key])
        if len(raw):
            raw[int(len(raw) * frac)] ^= 0xFF
        members[key] = bytes(raw)
    elif op == "shrink" and a.ndim and a.shape[0] > 0:
        members[key] = npy_bytes(a[: int(a.shape[0] * frac)])
    data = npz_bytes(members)
    if op == "truncate":
        data = data[:int(len(data) * frac)]
    with tempfile.TemporaryDirectory() as d:
        b = Path(d) / "bundle"
        b.mkdir()
        (b / "manifest.json").write_text(json.dumps(MANIFEST))
        (b / "arrays.npz").write_bytes(data)
        before = files(Path(d))
        rc, _, err = run_cli(capsys, ["layout", b])
        if op in ALWAYS_BAD:
            assert str(b) in assert_refused(rc, err)
        else:
            assert_clean_outcome(rc, err)
        assert files(Path(d)) == before


# ---------------------------------------------------------------------------------------------
# Report files
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report_json(tmp_path_factory) -> dict[str, Any]:
    from rram_sim.bundle import load_bundle
    from rram_sim.simulate import simulate

    d = tmp_path_factory.mktemp("report")
    simulate(load_bundle(DENSE)).save(d)
    rep = json.loads((d / "report.json").read_text())
    # a few records and intervals are enough to mutate, and keep each figure quick to draw
    return dict(rep, records=rep["records"][:6], intervals=rep["intervals"][:6])


def report_paths(rep: dict[str, Any]) -> list[tuple]:
    """Paths into what plot reads (runs, energy tables, records, intervals, component busy
    intervals) and every top-level key; the rest (config, layers, wear ...) only as a whole."""
    read = ("runs", "energy_by_category_pj", "static_energy_by_category_pj", "records",
            "intervals", "version")
    paths = [(k,) for k in rep]
    for k in read:
        if k in rep:
            paths += [(k, *p) for p in json_paths(rep[k])]
    return sorted(paths, key=repr)


@settings(FUZZ, max_examples=30)
@given(data=st.data(), mutation=MUTATIONS)
def test_mutated_report_is_refused_in_one_line_or_plotted(report_json, data, mutation, capsys):
    op, value, depth = mutation
    rep = json.loads(json.dumps(report_json))
    path = data.draw(st.sampled_from(report_paths(rep)))
    mutate(rep, path, op, value)
    with tempfile.TemporaryDirectory() as d:
        bad = Path(d) / "bad"
        bad.mkdir()
        (bad / "report.json").write_text(json_text(rep, depth))
        before = files(Path(d))
        rc, _, err = run_cli(capsys, ["plot", bad, "-o", Path(d) / "plots"])
        assert_clean_outcome(rc, err)
        if rc == 2:
            assert str(bad / "report.json") in err
            assert files(Path(d)) == before
