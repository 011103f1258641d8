"""Plots: every figure returns the numbers it drew, and those equal the report's (or bundle's)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rram_sim import plot
from rram_sim.bundle import load_bundle
from rram_sim.cli import main
from rram_sim.costs import CATEGORIES
from rram_sim.errors import LayoutError
from rram_sim.examples import EXAMPLES_DIR
from rram_sim.report import Report


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    base = tmp_path_factory.mktemp("reports")
    out = {}
    for scheme in ("dense", "compact"):
        assert main(["simulate", str(EXAMPLES_DIR / scheme), "--pass", "both", "-o",
                     str(base / scheme)]) == 0
        out[scheme] = Report.load(base / scheme)
    return out


def _total(d):
    return sum(sum(v.values()) for v in d.values())


def test_colors_fixed_for_every_category():
    assert tuple(plot.CATEGORY_COLORS) == CATEGORIES
    assert tuple(plot.CATEGORY_LABELS) == CATEGORIES
    assert len(set(plot.CATEGORY_COLORS.values())) == len(CATEGORIES)


@pytest.mark.parametrize("run", ["inference", "training"])
def test_energy_breakdown_totals_equal_report(reports, tmp_path, run):
    vals = plot.energy_breakdown(reports, tmp_path / "e.png", run)
    assert (tmp_path / "e.png").stat().st_size > 1000
    for label, rep in reports.items():
        assert list(vals[label]) == list(CATEGORIES)
        assert math.isclose(sum(vals[label].values()), rep.runs[run]["energy_pj"], rel_tol=1e-9)
    norm = plot.energy_breakdown(reports, tmp_path / "n.png", run, normalise=True)
    assert math.isclose(sum(norm["dense"].values()), 1.0, rel_tol=1e-12)
    ratio = reports["compact"].runs[run]["energy_pj"] / reports["dense"].runs[run]["energy_pj"]
    assert math.isclose(sum(norm["compact"].values()), ratio, rel_tol=1e-9)


@pytest.mark.parametrize("fn", [plot.energy_by_layer, plot.energy_by_pass])
def test_layer_and_pass_energy_sum_to_run_total(reports, tmp_path, fn):
    rep = reports["compact"]
    for run in ("inference", "training"):
        vals = fn(rep, tmp_path / f"{run}.png", run)
        assert math.isclose(_total(vals), rep.runs[run]["energy_pj"], rel_tol=1e-9)
    passes = plot.energy_by_pass(rep, tmp_path / "p.png", "training")
    assert {"forward", "backward", "update", "leakage"} <= set(passes)
    layers = plot.energy_by_layer(rep, tmp_path / "l.png", "inference")
    assert {"conv1", "conv2", "fc"} <= set(layers)


def test_timeline_draws_every_interval(reports, tmp_path):
    rep = reports["dense"]
    for run in ("inference", "training"):
        comps = plot.timeline(rep, tmp_path / "t.png", run)
        assert comps == rep.runs[run]["components"]
        assert {"xbar", "adc", "edram"} <= {c["kind"] for c in comps}
        assert all(c["intervals_ns"] for c in comps)
    with pytest.raises(LayoutError, match="no 'nope' run"):
        plot.timeline(rep, tmp_path / "t.png", "nope")


def test_occupancy_and_crossbar_map_match_bundle(tmp_path):
    bundles = {s: load_bundle(EXAMPLES_DIR / s) for s in ("dense", "compact", "ou")}
    occ = plot.crossbar_occupancy(bundles, tmp_path / "occ.png")
    for label, b in bundles.items():
        assert sum(v["mapped"] for v in occ[label].values()) == b.figures["n_crossbars"]
        assert sum(v["dense"] for v in occ[label].values()) == b.figures["dense_crossbars"]
    for label, b in bundles.items():
        for lay in b.layers:
            m = plot.crossbar_map(b, tmp_path / f"{label}.png", lay.spec.name)
            assert len(m["crossbars"]) == lay.n_crossbars
            assert sum(c["weights_stored"] for c in m["crossbars"]) == \
                lay.figures["weights_stored"]
            assert sum(c["weights_nonzero"] for c in m["crossbars"]) == \
                lay.figures["weights_nonzero"]
    # Compacting frees rows: the compact layout of conv2 uses fewer rows than the dense one.
    d = plot.crossbar_map(bundles["dense"], tmp_path / "d.png", "conv2")["crossbars"]
    c = plot.crossbar_map(bundles["compact"], tmp_path / "c.png", "conv2")["crossbars"]
    assert sum(x["rows_used"] for x in c) < sum(x["rows_used"] for x in d)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30))
def test_pareto_front_is_the_non_dominated_set(pts):
    x = np.array([p[0] for p in pts], float)
    y = np.array([p[1] for p in pts], float)
    front = set(plot.pareto_front(x, y).tolist())
    assert front

    def dominates(j, i):
        return x[j] <= x[i] and y[j] <= y[i] and (x[j] < x[i] or y[j] < y[i])

    for i in range(len(pts)):
        dominated = any(dominates(j, i) for j in range(len(pts)))
        assert (i in front) == (not dominated)


def test_pareto_plot_returns_points_and_front(tmp_path):
    rows = [{"key": "a", "status": "ok", "inference_latency_ns": 1.0, "inference_energy_pj": 5.0,
             "chip_area_mm2": 1.0},
            {"key": "b", "status": "ok", "inference_latency_ns": 2.0, "inference_energy_pj": 1.0,
             "chip_area_mm2": 2.0},
            {"key": "c", "status": "ok", "inference_latency_ns": 3.0, "inference_energy_pj": 6.0,
             "chip_area_mm2": 0.5},
            {"key": "d", "status": "skipped"}]
    out = plot.pareto(rows, tmp_path / "p.png")
    assert [p["key"] for p in out["points"]] == ["a", "b", "c"]
    assert sorted(out["front"]) == ["a", "b"]


def test_cli_plot_writes_figures_and_numbers(reports, tmp_path, capsys):
    base = tmp_path / "r"
    for label, rep in reports.items():
        rep.save(base / label)
    out = tmp_path / "plots"
    assert main(["plot", f"ref={base / 'dense'}", str(base / "compact"), "-o", str(out),
                 "--bundle", str(EXAMPLES_DIR / "compact")]) == 0
    numbers = json.loads((out / "plots.json").read_text())
    for name in ("energy_inference.png", "energy_training_normalised.png",
                 "timeline_compact_training.png", "occupancy.png"):
        assert (out / name).stat().st_size > 1000
        assert name in numbers
    # a cell map of every layer of the bundle, each counting that layer's crossbars
    compact = load_bundle(EXAMPLES_DIR / "compact")
    maps = {n: v for n, v in numbers.items() if n.startswith("crossbar_map_")}
    assert sorted(maps) == sorted(f"crossbar_map_compact_{lay.spec.name}.png"
                                  for lay in compact.layers)
    for lay in compact.layers:
        m = maps[f"crossbar_map_compact_{lay.spec.name}.png"]
        assert m["layer"] == lay.spec.name and len(m["crossbars"]) == lay.n_crossbars
    assert math.isclose(sum(numbers["energy_training.png"]["ref"].values()),
                        reports["dense"].runs["training"]["energy_pj"], rel_tol=1e-9)
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "missing"), "-o", str(out)]) == 2
    assert "no report.json" in capsys.readouterr().err
    assert main(["plot", f"bad label={base / 'dense'}", "-o", str(out)]) == 2


def _capture_figures(monkeypatch):
    """Record (file name, title texts, y scales, x tick labels, legend texts) of every figure
    just before ``plot._save`` writes it."""
    seen = []
    real_save = plot._save

    def spy(fig, path, style):
        titles = [fig._suptitle.get_text()] if fig._suptitle is not None else []
        axes = fig.get_axes()
        titles += [ax.get_title() for ax in axes if ax.get_title()]
        legends = [t.get_text() for ax in axes if ax.get_legend() is not None
                   for t in ax.get_legend().get_texts()]
        ticks = [t.get_text() for ax in axes for t in ax.get_xticklabels()]
        seen.append({"name": str(path).rsplit("/", 1)[-1], "titles": titles,
                     "yscales": [ax.get_yscale() for ax in axes], "ticks": ticks,
                     "legends": legends})
        real_save(fig, path, style)

    monkeypatch.setattr(plot, "_save", spy)
    return seen


def test_cli_plot_format_dpi_log_and_titles(reports, tmp_path, monkeypatch):
    """--format pdf/svg writes those file types under the png names' stems; --dpi scales a PNG;
    --log puts the energy figures on a log axis and nothing else; every title names the design
    point and the chip; static energy has one name in every figure."""
    base = tmp_path / "r"
    for label, rep in reports.items():
        rep.save(base / label)
    args = [f"ref={base / 'dense'}", str(base / "compact"), "--bundle",
            str(EXAMPLES_DIR / "compact")]
    seen = _capture_figures(monkeypatch)
    assert main(["plot", *args, "-o", str(tmp_path / "pdf"), "--format", "pdf", "--log"]) == 0
    numbers = json.loads((tmp_path / "pdf" / "plots.json").read_text())
    assert "energy_inference.pdf" in numbers and "crossbar_map_compact_conv2.pdf" in numbers
    assert not any(n.endswith(".png") for n in numbers)
    for name in numbers:
        assert (tmp_path / "pdf" / name).read_bytes().startswith(b"%PDF")
    chip = reports["dense"].config["name"]
    assert len(seen) == len(numbers)
    for fig in seen:
        title = " ".join(fig["titles"])
        assert f"on chip {chip}" in title, fig
        label = fig["name"].split("_")[1] if fig["name"].startswith(
            ("layers_", "passes_", "timeline_", "crossbar_map_")) else None
        if fig["name"].startswith("crossbar_map_"):
            label = "compact"
        if label is not None:
            assert label in title, fig
        energy = fig["name"].startswith(("energy_", "layers_", "passes_"))
        assert (fig["yscales"] == ["log"]) == energy, fig
        assert "leakage" not in fig["ticks"] and "(chip)" not in fig["ticks"]
        for text in fig["ticks"] + fig["legends"]:
            assert "leakage" not in text or text == plot.STATIC_NAME, (fig["name"], text)
    passes = next(f for f in seen if f["name"] == "passes_ref_training.pdf")
    assert plot.STATIC_NAME in passes["ticks"] and plot.STATIC_NAME in passes["legends"]
    layers = next(f for f in seen if f["name"] == "layers_compact_training.pdf")
    assert plot.STATIC_NAME in layers["ticks"]

    assert main(["plot", *args[:1], "-o", str(tmp_path / "svg"), "--format", "svg"]) == 0
    assert b"<svg" in (tmp_path / "svg" / "energy_inference.svg").read_bytes()[:2000]
    widths = {}
    for dpi in (50, 200):
        out = tmp_path / f"png{dpi}"
        assert main(["plot", *args[:1], "-o", str(out), "--dpi", str(dpi)]) == 0
        head = (out / "energy_inference.png").read_bytes()[:24]
        widths[dpi] = int.from_bytes(head[16:20], "big")
    assert widths[200] == pytest.approx(4 * widths[50], abs=4)


def test_plot_style_limits_agree_with_cli(tmp_path, capsys):
    from rram_sim.cli import plot as cli_plot

    assert cli_plot.FORMATS == plot.FORMATS
    assert (cli_plot.DPI, cli_plot.MIN_DPI, cli_plot.MAX_DPI) == (plot.DPI, plot.MIN_DPI,
                                                                  plot.MAX_DPI)
    for bad in ({"fmt": "jpg"}, {"dpi": 5}, {"dpi": 2000}, {"dpi": True}):
        with pytest.raises(LayoutError):
            plot.Style(**bad)
    assert main(["plot", str(EXAMPLES_DIR), "-o", str(tmp_path / "o"), "--dpi", "5"]) == 2
    assert "--dpi 5: must be from 10 to 1200" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_plot_sweep_folder_draws_each_metric_against_each_parameter(tmp_path, capsys):
    """``rram-sim plot SWEEP_DIR``: one figure per swept column (the grid's, and ``scheme`` since
    it varies; not ``bundle``, which does not), every metric with a number in a finished row
    drawn against it, lines per value of the other swept columns; the numbers equal the sweep's
    rows. Skipped points are not drawn. A sweep folder with a report or --bundle is refused."""
    from rram_sim.sweep import parse_spec, run_sweep

    spec = {"chip": "edge", "grid": {"adc.bits": [0, 5, 6]}, "bundles": ["example:compact"],
            "schemes": ["dense", "ou"], "passes": ["inference"]}
    sweep = tmp_path / "sw"
    res = run_sweep(parse_spec(spec), sweep)
    ok = [r for r in res.rows if r["status"] == "ok"]
    assert len(ok) == 4 and len(res.rows) == 6
    out = tmp_path / "figs"
    assert main(["plot", str(sweep), "-o", str(out), "--format", "svg", "--log"]) == 0
    numbers = json.loads((out / "plots.json").read_text())
    assert set(numbers) == {"sweep_adc.bits.svg", "sweep_scheme.svg", "pareto.svg"}
    for name in numbers:
        assert b"<svg" in (out / name).read_bytes()[:2000]
    bits = numbers["sweep_adc.bits.svg"]
    assert bits["param"] == "adc.bits"
    assert "training_energy_pj" not in bits["metrics"]      # no training pass in this sweep
    for scheme in ("dense", "ou"):
        want = sorted([float(r["adc.bits"]), r["inference_energy_pj"]] for r in ok
                      if r["scheme"] == scheme)
        got = sorted(bits["metrics"]["inference_energy_pj"][f"scheme={scheme}"])
        assert len(got) == 2
        for (gx, gy), (wx, wy) in zip(got, want):
            assert gx == wx and math.isclose(gy, wy, rel_tol=1e-12)
    by_scheme = numbers["sweep_scheme.svg"]["metrics"]["crossbars"]
    assert set(by_scheme) == {"adc.bits=5", "adc.bits=6"}
    assert sorted(x for x, _ in by_scheme["adc.bits=5"]) == ["dense", "ou"]
    front = plot.pareto_front([r["inference_latency_ns"] for r in ok],
                              [r["inference_energy_pj"] for r in ok])
    assert sorted(numbers["pareto.svg"]["front"]) == sorted(ok[i]["key"] for i in front)
    assert {p["key"] for p in numbers["pareto.svg"]["points"]} == {r["key"] for r in ok}

    capsys.readouterr()
    assert main(["plot", str(sweep), "-o", str(tmp_path / "x"), "--bundle",
                 str(EXAMPLES_DIR / "compact")]) == 2
    assert "a sweep folder is plotted on its own" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.csv").write_text("a,b\n1,2\n")
    assert main(["plot", str(bad), "-o", str(tmp_path / "y")]) == 2
    assert "not a sweep results table" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_pareto_title_names_points_and_chips_and_log_axis(tmp_path, monkeypatch):
    seen = _capture_figures(monkeypatch)
    rows = [{"key": k, "status": "ok", "inference_latency_ns": float(i + 1),
             "inference_energy_pj": 10.0 ** (i + 1), "chip_area_mm2": 1.0}
            for i, k in enumerate("abc")]
    plot.pareto(rows, tmp_path / "p.png", chip="edge", style=plot.Style(log=True))
    assert seen[0]["titles"] == ["design-space sweep: 3 points (edge)"]
    assert seen[0]["yscales"] == ["log"]
    plot.pareto(rows, tmp_path / "q.png")
    assert seen[1]["yscales"] == ["linear"]
    assert "config_hash" in seen[1]["titles"][0]


def test_crossbar_map_of_a_large_layer_says_how_many_it_shows(tmp_path, monkeypatch):
    """A layer of more crossbars than the figure has panels: every crossbar is counted in the
    numbers, the title says which are drawn, and every panel has its row and column axes."""
    from rram_sim import config
    from rram_sim.bundle import map_network
    from rram_sim.layout import LayerSpec

    cfg = config.preset("edge")
    spec = LayerSpec("fc", "linear", (40, 2000), (2000,))
    b = map_network([spec], [np.random.default_rng(0).standard_normal(spec.weight_shape)], cfg)
    n = b.layers[0].n_crossbars
    assert n > plot.MAP_CROSSBARS_SHOWN
    seen = _capture_figures(monkeypatch)
    m = plot.crossbar_map(b, tmp_path / "m.png", label="big")
    assert len(m["crossbars"]) == n
    assert f"crossbars 0-{plot.MAP_CROSSBARS_SHOWN - 1} of {n} shown" in seen[0]["titles"][0]
    assert sum(t.startswith("crossbar ") for t in seen[0]["titles"]) == plot.MAP_CROSSBARS_SHOWN


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1,
                max_size=25))
def test_pareto_front_of_three_objectives_is_the_non_dominated_set(pts):
    cols = [np.array([p[k] for p in pts], float) for k in range(3)]
    front = set(plot.pareto_front(*cols).tolist())

    def dominates(j, i):
        return (all(c[j] <= c[i] for c in cols) and any(c[j] < c[i] for c in cols))

    for i in range(len(pts)):
        assert (i in front) == (not any(dominates(j, i) for j in range(len(pts))))


def test_pareto_takes_accuracy_only_when_every_point_has_one(tmp_path):
    rows = [{"key": k, "status": "ok", "inference_latency_ns": lat, "inference_energy_pj": e,
             "chip_area_mm2": 1.0, "adc.bits": b, "accuracy": a}
            for k, lat, e, b, a in (("a", 1.0, 1.0, 4, 0.5), ("b", 1.0, 2.0, 8, 0.9),
                                    ("c", 2.0, 2.0, 6, 0.9))]
    out = plot.pareto(rows, tmp_path / "p.png")
    # a is cheapest, b buys accuracy with energy, c is dominated by b
    assert sorted(out["front"]) == ["a", "b"] and out["objectives"][-1] == "accuracy (max)"
    assert [p["label"] for p in out["points"]] == ["adc.bits=4", "adc.bits=8", "adc.bits=6"]
    assert [p["accuracy"] for p in out["points"]] == [0.5, 0.9, 0.9]
    rows[2]["accuracy"] = None          # a point without an eval set: the two-cost figure
    out = plot.pareto(rows, tmp_path / "q.png")
    assert sorted(out["front"]) == ["a"] and len(out["objectives"]) == 2
    assert "accuracy" not in out["points"][0]
