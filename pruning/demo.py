"""The one-command demo: train, prune two ways, map, verify, simulate and compare — resumably.

``rram-prune demo`` (and ``bash run.sh demo``) walks the whole project once on the small CNN
(``digits_cnn``) and scikit-learn's digits, on the default chip (``edge``):

1. **ReaLPrune** (:mod:`pruning.realprune`): round 0 trains the dense model, later rounds prune
   crossbar row/column segments with rewinding; the ticket is the sparsest round within the
   accuracy tolerance. -> ``OUT/realprune/``
2. **AUTO-PRUNE** (:mod:`pruning.autoprune`): a DDPG agent picks per-layer ratios for the
   trained dense model; the result is exported as an ``ou`` bundle. -> ``OUT/autoprune/``
   Both methods are looked up in :mod:`pruning.methods.registry`.
3. **Bundles** (:func:`pruning.export.export_bundle`): the dense model mapped ``dense`` and the
   ReaLPrune ticket mapped ``compact``, each with golden vectors and an eval set (the first
   ``eval_samples`` test images and labels; AUTO-PRUNE's bundle gets the same set).
   -> ``OUT/bundles/<point>/``
4. **Verify** (:func:`rram_sim.datapath.verify_bundle`) every bundle with the index unit and
   without it. A compacted bundle read without its index tables is *dislocated* — inputs reach the
   wrong rows and outputs land on the wrong columns — and fails; with the index unit it passes.
   Each also measures the network's accuracy on the crossbars against the exact quantized
   network on the eval set (:mod:`rram_sim.accuracy`). -> ``OUT/verify/<point>.json``
5. **Simulate** (:func:`rram_sim.simulate.simulate`, the one orchestration) an inference and a
   training step of every bundle. -> ``OUT/reports/<point>/``
6. **Summary** (``OUT/summary.md``, ``OUT/summary.csv``) and **plots** (``OUT/plots/``, drawn by
   :func:`rram_sim.cli.plot.draw_all` from the report files).

Every step skips work whose outputs exist, so a killed demo resumes; each prints where its outputs
went (ReaLPrune's ticket: its checkpoint and the ``rram-prune export`` command that maps it for
another chip). ReaLPrune's rounds and AUTO-PRUNE's episodes print a progress line each on stderr
(``run(..., progress=False)``: none). The summary gives the energy of an inference and of a
training step as a total and split into dynamic and static (leakage x time) energy, and the test
accuracy three ways: the float model's, the exact quantized network's and the network's on the
chip's crossbars (the last two on the eval set).
:meth:`DemoSettings.quick` shrinks epochs, rounds and episodes for tests (well under a minute);
the defaults took 35 s on 2 otherwise idle cores (ReaLPrune to its tolerance, a 40-episode
AUTO-PRUNE search) and take longer on a busy machine.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from rram_sim.fileio import atomic_write_json, atomic_write_text, csv_text

POINTS = ("dense", "realprune", "autoprune")
SUMMARY_FIELDS = ("point", "scheme", "weights_pruned", "crossbars", "dense_crossbars",
                  "hardware_reduction", "compression_rate", "test_accuracy",
                  "quantized_accuracy", "crossbar_accuracy", "accuracy_kept", "verify_with_index",
                  "verify_without_index", "inference_latency_ns", "inference_energy_uj",
                  "inference_dynamic_energy_uj", "inference_static_energy_uj",
                  "training_step_ns", "training_energy_uj", "training_dynamic_energy_uj",
                  "training_static_energy_uj", "inference_speedup",
                  "inference_energy_saving", "training_speedup", "training_energy_saving")


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs (defaults: the full demo; :meth:`quick`: the test-sized one)."""

    model: str = "digits_cnn"
    data: str = "digits"
    chip: str = "edge"
    seed: int = 0
    epochs: int = 8                  # epochs per ReaLPrune round (round 0: the dense model)
    # ReaLPrune rounds: enough that the accuracy tolerance, not the round count or the target,
    # decides where pruning stops.
    rounds: int = 10                 # most ReaLPrune pruning rounds
    rate: float = 0.3                # fraction of the remaining groups pruned per round
    target_sparsity: float = 0.95
    tolerance: float = 0.02          # accuracy drop allowed (ReaLPrune and AUTO-PRUNE)
    episodes: int = 40               # AUTO-PRUNE search episodes (10 random warm-up, 30 learning)
    episode_finetune_epochs: int = 2  # AUTO-PRUNE fine-tune inside each episode
    finetune_epochs: int = 3         # AUTO-PRUNE fine-tune of the best policy
    golden_batch: int = 2            # images in each bundle's golden vectors
    eval_samples: int = 256          # test images in each bundle's eval set (accuracy on chip)
    autoprune: bool = True           # run AUTO-PRUNE (when the method is registered)

    @classmethod
    def quick(cls) -> DemoSettings:
        """Tiny epochs, rounds and episodes: the whole pipeline in well under a minute."""
        return cls(epochs=1, rounds=1, rate=0.5, tolerance=1.0, episodes=1,
                   episode_finetune_epochs=0, finetune_epochs=0, golden_batch=1, eval_samples=64)

    def is_quick(self) -> bool:
        """These are the :meth:`quick` settings (whatever the model, data, chip and seed)."""
        return self == replace(DemoSettings.quick(), model=self.model, data=self.data,
                               chip=self.chip, seed=self.seed, autoprune=self.autoprune)


_LOG: dict[str, Any] = {"stream": None, "progress": True}   # set by run()


def _say(msg: str) -> None:
    print(msg, file=_LOG["stream"] or sys.stdout, flush=True)


def _done(path: Path, what: str) -> bool:
    if path.exists():
        _say(f"  {what}: exists, skipped ({path})")
        return True
    return False


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------

def step_realprune(s: DemoSettings, out: Path, data: Any) -> Any:
    """Dense training (round 0) and ReaLPrune rounds (the registry's ``realprune`` method, run by
    the round runner); resumes finished rounds."""
    from pruning.checkpoint import CHECKPOINT_NAME
    from pruning.cli.common import export_command
    from pruning.realprune import PruneSettings
    from pruning.realprune import run as run_rounds
    from pruning.rounds import RunFolder

    settings = PruneSettings(model=s.model, data=s.data, chip=s.chip, seed=s.seed,
                             method="realprune", epochs=s.epochs, rounds=s.rounds, rate=s.rate,
                             target_sparsity=s.target_sparsity, tolerance=s.tolerance,
                             progress=_LOG["progress"])
    res = run_rounds(settings, out / "realprune", data=data)
    t = res.ticket
    computed = f"computed {res.computed}" if res.computed else "all resumed"
    _say(f"  realprune: {len(res.rounds)} rounds ({computed}); ticket round {t['round']}: "
         f"{t['sparsity']:.1%} pruned, {t['crossbars_compact']}/"
         f"{t['crossbars_dense']} crossbars, val acc {t['val_acc']:.3f} -> {out / 'realprune'}")
    ck = RunFolder(out / "realprune", {}).checkpoint_dir(t["round"]) / CHECKPOINT_NAME
    _say(f"  ticket checkpoint: {ck}\n  map it for a chip: "
         f"{export_command(ck, s.chip, 'compact', out / 'ticket_bundle')}")
    return res


def step_autoprune(s: DemoSettings, out: Path, data: Any, cfg: Any) -> Path | None:
    """AUTO-PRUNE (the registry's ``autoprune`` method) on the trained dense model; returns its
    bundle folder (None if no such method is registered)."""
    from pruning.errors import PruningError
    from pruning.methods.base import ModelMethod
    from pruning.methods.registry import get_method
    from pruning.realprune import load_round_model

    try:
        method_class = get_method("autoprune", ModelMethod)
    except PruningError:
        _say("  autoprune: no such method registered; skipped")
        return None

    folder = out / "autoprune"
    if (folder / "best_policy.json").is_file() and (folder / "bundle" / "manifest.json").is_file():
        _say(f"  autoprune: exists, skipped ({folder})")
        return folder / "bundle"
    model, _, report = load_round_model(out / "realprune", 0)
    spec = {"name": s.model, "num_classes": data.num_classes, "in_channels": data.in_channels,
            "width": 1.0, "image_size": data.image_size}
    method = method_class(accuracy_loss=min(s.tolerance, 0.99), episodes=s.episodes,
                          episode_finetune_epochs=s.episode_finetune_epochs,
                          finetune_epochs=s.finetune_epochs, seed=s.seed)
    res = method.prune(model, data, cfg, folder, model_spec=spec, progress=_LOG["progress"])
    best = res.search.best
    found = (f"best of {len(res.search.history)} episodes: #{best.episode}, {best.crossbars} "
             f"crossbars" if best else f"no episode of {len(res.search.history)} within the "
             "constraint")
    _say(f"  autoprune: {found}; {res.masks.sparsity() if len(res.masks) else 0.0:.1%} pruned, "
         f"{res.crossbars}/{res.dense_crossbars} crossbars (compression "
         f"{res.compression_rate:.2f}x), val acc {res.base_accuracy:.3f} -> {res.accuracy:.3f}, "
         f"ratios {' '.join(f'{r:.2f}' for r in res.ratios.values())} -> {folder}")
    return folder / "bundle"


def _eval_set(s: DemoSettings, data: Any) -> tuple[Any, Any] | None:
    """The first ``s.eval_samples`` test images and labels (None: no eval set)."""
    from pruning.cli.common import labelled_batch

    return labelled_batch(data, s.eval_samples) if s.eval_samples > 0 else None


def _eval_source(s: DemoSettings) -> str:
    return f"{s.data} test split, first {s.eval_samples} images"


def step_bundles(s: DemoSettings, out: Path, data: Any, cfg: Any) -> dict[str, Path]:
    """Dense model mapped ``dense``, ReaLPrune ticket mapped ``compact`` (with golden vectors and
    the eval set)."""
    from pruning.export import export_bundle
    from pruning.realprune import load_round_model

    x, _ = next(iter(data.val))
    ev = _eval_set(s, data)
    paths = {}
    for point, index, scheme in (("dense", 0, "dense"), ("realprune", None, "compact")):
        path = out / "bundles" / point
        paths[point] = path
        if _done(path / "manifest.json", f"bundle {point}"):
            continue
        model, masks, _ = load_round_model(out / "realprune", index)
        b = export_bundle(model, None if index == 0 else masks, cfg, scheme,
                          x[:s.golden_batch], path, eval_set=ev, eval_source=_eval_source(s))
        _say(f"  bundle {point}: {scheme} mapping, {b.figures['n_crossbars']} crossbars -> {path}")
    return paths


def _attach_eval_set(s: DemoSettings, path: Path, data: Any) -> None:
    """Give the bundle AUTO-PRUNE exported the demo's eval set (without a float accuracy: the
    float model's is the summary's ``test_accuracy``), unless it has one."""
    from rram_sim.bundle import EvalSet, load_bundle, save_bundle

    ev = _eval_set(s, data)
    b = load_bundle(path)
    if ev is None or b.eval_set is not None:
        return
    b.eval_set = EvalSet(x=ev[0].numpy(), labels=ev[1].numpy(), classes=data.num_classes,
                         source=_eval_source(s))
    save_bundle(b, path)


def step_verify(bundles: dict[str, Path], out: Path) -> dict[str, dict[str, Any]]:
    """Verify each bundle with and without the index unit (the dislocation check): the hardware
    against its ADC model, and the accuracy on the crossbars against the exact quantized network
    (:func:`rram_sim.datapath.verify_bundle`, on the bundle's eval set)."""
    from rram_sim.bundle import load_bundle
    from rram_sim.datapath import verify_bundle

    results = {}
    for point, path in bundles.items():
        f = out / "verify" / f"{point}.json"
        if not _done(f, f"verify {point}"):
            b = load_bundle(path)
            with_idx = verify_bundle(b, index_unit=True)
            without = verify_bundle(b, index_unit=False)
            atomic_write_json(f, {"scheme": b.scheme, "with_index": with_idx.to_dict(),
                                  "without_index": without.to_dict()})
            _say(f"  verify {point} ({b.scheme}), with the index unit:\n"
                 + _indent(with_idx.table() + "\n" + with_idx.verdict())
                 + "\n  without it:\n" + _indent(without.table() + "\n" + without.verdict())
                 + f"\n  -> {f}")
        results[point] = json.loads(f.read_text())
    return results


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def step_simulate(bundles: dict[str, Path], out: Path) -> dict[str, Path]:
    """One report per bundle holding an inference run and a training step
    (:func:`rram_sim.simulate.simulate`; a chip without training gets the inference run only)."""
    from rram_sim.bundle import load_bundle
    from rram_sim.errors import ConfigError
    from rram_sim.simulate import simulate

    paths = {}
    for point, path in bundles.items():
        d = out / "reports" / point
        paths[point] = d
        if _done(d / "report.json", f"simulate {point}"):
            continue
        b = load_bundle(path)
        try:
            rep = simulate(b, b.config, "both")
        except ConfigError as exc:  # e.g. a chip without training: inference only
            _say(f"  simulate {point}: no training step ({exc})")
            rep = simulate(b, b.config, "inference")
        rep.save(d)
        inf = rep.runs["inference"]
        _say(f"  simulate {point}: inference {inf['latency_ns'] * 1e-3:.1f} us, "
             f"{inf['energy_per_item_uj']:.2f} uJ -> {d}")
    return paths


def _point_figures(out: Path, point: str) -> tuple[float | None, float | None]:
    """(fraction of weights pruned, test accuracy) of a design point."""
    if point == "autoprune":
        p = out / "autoprune" / "best_policy.json"
        if not p.is_file():
            return None, None
        d = json.loads(p.read_text())
        return d.get("sparsity"), d["test_accuracy"]
    from pruning.realprune import load_round_model

    _, _, report = load_round_model(out / "realprune", 0 if point == "dense" else None)
    return float(report["sparsity"]), float(report["test_acc"])


def summary_rows(out: Path, verify: dict[str, Any], reports: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """One row per design point; speed-ups and energy savings are dense / point."""
    rows = []
    base = reports["dense"].runs
    for point, rep in reports.items():
        f, inf = rep.figures, rep.runs["inference"]
        tr = rep.runs.get("training")
        v = verify[point]
        pruned, acc = _point_figures(out, point)
        hw = {k: v[k].get("hardware_matches_adc_model", v[k]["passed"])
              for k in ("with_index", "without_index")}
        xacc = v["with_index"].get("accuracy") or {}
        kept = v["with_index"].get("accuracy_kept")
        row = {"point": point, "scheme": rep.scheme, "weights_pruned": pruned,
               "crossbars": f["n_crossbars"],
               "dense_crossbars": f["dense_crossbars"],
               "hardware_reduction": f["hardware_reduction"],
               "compression_rate": f["compression_rate"],
               "test_accuracy": acc,
               "quantized_accuracy": xacc.get("exact"),
               "crossbar_accuracy": xacc.get("crossbar"),
               "accuracy_kept": None if kept is None else ("yes" if kept else "NO"),
               "verify_with_index": "pass" if hw["with_index"] else "FAIL",
               "verify_without_index": "pass" if hw["without_index"] else "FAIL",
               "inference_latency_ns": inf["latency_ns"],
               "inference_energy_uj": inf["energy_per_item_uj"],
               "inference_dynamic_energy_uj": inf["dynamic_energy_per_item_uj"],
               "inference_static_energy_uj": inf["static_energy_per_item_uj"],
               "training_step_ns": tr["makespan_ns"] if tr else None,
               "training_energy_uj": tr["energy_per_item_uj"] if tr else None,
               "training_dynamic_energy_uj": tr["dynamic_energy_per_item_uj"] if tr else None,
               "training_static_energy_uj": tr["static_energy_per_item_uj"] if tr else None,
               "inference_speedup": base["inference"]["latency_ns"] / inf["latency_ns"],
               "inference_energy_saving": (base["inference"]["energy_per_item_uj"]
                                           / inf["energy_per_item_uj"]),
               "training_speedup": (base["training"]["makespan_ns"] / tr["makespan_ns"]
                                    if tr and "training" in base else None),
               "training_energy_saving": (base["training"]["energy_per_item_uj"]
                                          / tr["energy_per_item_uj"]
                                          if tr and "training" in base else None)}
        rows.append(row)
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


SMOKE_BANNER = ("> **Smoke run** (`--quick`): one epoch, one pruning round and one AUTO-PRUNE "
                "episode. These numbers show that the pipeline runs end to end, not what the "
                "methods achieve; run the demo without `--quick` for those.")


def summary_markdown(rows: list[dict[str, Any]], settings: DemoSettings | None = None,
                     chip: Any = None) -> str:
    """The summary table; ``settings`` names the model and adds the smoke-run banner when they
    are the ``--quick`` ones, ``chip`` (a Config) names the chip and its config hash."""
    settings = settings or DemoSettings()
    where = (f"chip `{chip.name}` (config hash `{chip.config_hash()}`)" if chip is not None
             else "the demo chip")
    head = ("| point | scheme | weights pruned | crossbars (dense) | hw reduction | compression | "
            "test acc float / quantized / crossbars | "
            "verify with / without index | inference us | inference uJ | "
            "inference dynamic / static uJ | training step us | training uJ | "
            "training dynamic / static uJ | speed-up inf / train | energy saving inf / train |")
    lines = ["# Demo summary", "",
             *([SMOKE_BANNER, ""] if settings.is_quick() else []),
             f"Design points of {settings.model} on {where}. Latency in microseconds (us), "
             "energy in microjoules (uJ). Speed-ups and energy savings are "
             "dense / point; energy is per inference and per training step, total and split "
             "into dynamic and static (leakage x time) energy. Test accuracy: of the float model "
             "on the whole test split, then of the exact quantized network and of the network on "
             "the chip's crossbars (its ADC model) on the bundle's eval set; a '!' marks a "
             "crossbar accuracy more than 0.01 below the quantized one. 'verify' checks that "
             "the hardware matches its ADC model; 'without index' shows the dislocation a "
             "compacted mapping causes when its index tables are not applied.", "",
             head,
             "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['point']} | {r['scheme']} | "
            f"{'-' if r['weights_pruned'] is None else format(r['weights_pruned'], '.1%')} | "
            f"{r['crossbars']} ({r['dense_crossbars']}) | "
            f"{r['hardware_reduction']:.1%} | {_fmt(r['compression_rate'])}x | "
            f"{_fmt(r['test_accuracy'])} / {_fmt(r['quantized_accuracy'])} / "
            f"{_fmt(r['crossbar_accuracy'])}{'!' if r['accuracy_kept'] == 'NO' else ''} | "
            f"{r['verify_with_index']} / "
            f"{r['verify_without_index']} | {r['inference_latency_ns'] * 1e-3:.1f} | "
            f"{r['inference_energy_uj']:.4g} | "
            f"{_fmt(r['inference_dynamic_energy_uj'])} / {_fmt(r['inference_static_energy_uj'])} | "
            f"{_fmt(r['training_step_ns'] and r['training_step_ns'] * 1e-3)} | "
            f"{_fmt(r['training_energy_uj'])} | "
            f"{_fmt(r['training_dynamic_energy_uj'])} / {_fmt(r['training_static_energy_uj'])} | "
            f"{_fmt(r['inference_speedup'])} / "
            f"{_fmt(r['training_speedup'])} | {_fmt(r['inference_energy_saving'])} / "
            f"{_fmt(r['training_energy_saving'])} |")
    return "\n".join(lines) + "\n"


def summary_csv(rows: list[dict[str, Any]]) -> str:
    return csv_text(rows, SUMMARY_FIELDS)


# ---------------------------------------------------------------------------------------------
# The whole demo
# ---------------------------------------------------------------------------------------------

@dataclass
class DemoResult:
    rows: list[dict[str, Any]]
    files: dict[str, str]


def run(settings: DemoSettings, out: str | os.PathLike, *, log: TextIO | None = None,
        progress: bool = True) -> DemoResult:
    """Run (or resume) the demo into folder ``out`` (see the module docstring). Step messages
    and the summary go to ``log`` (default: stdout); ``progress`` adds a line per ReaLPrune round
    and AUTO-PRUNE episode on stderr."""
    _LOG["stream"], _LOG["progress"] = log, progress
    try:
        return _run(settings, out)
    finally:
        _LOG["stream"], _LOG["progress"] = None, True


def _run(settings: DemoSettings, out: str | os.PathLike) -> DemoResult:
    from pruning.data import get_data
    from pruning.errors import PruningError
    from rram_sim import config as rconfig
    from rram_sim.bundle import load_bundle
    from rram_sim.cli.plot import draw_all
    from rram_sim.report import Report

    # Validate everything, then write: a bad chip or dataset leaves no settings file behind.
    cfg = rconfig.load(settings.chip)
    data = get_data(settings.data, batch_size=64, seed=settings.seed)
    out = Path(out)
    ident = {"format": 1, **asdict(settings)}
    sp = out / "demo_settings.json"
    if sp.is_file():
        try:
            stored = json.loads(sp.read_text())
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise PruningError(f"{sp}: damaged demo settings file; remove it or use another "
                               "output folder (-o)") from None
        if stored != ident:
            raise PruningError(f"{out}: holds a demo run with other settings ({sp}); use "
                               "another output folder (-o)")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(sp, ident)
    _say(f"[1/6] train + ReaLPrune ({settings.model} on {settings.data}, chip {cfg.name})")
    step_realprune(settings, out, data)
    _say("[2/6] AUTO-PRUNE")
    ap_bundle = step_autoprune(settings, out, data, cfg) if settings.autoprune else None
    if not settings.autoprune:
        _say("  autoprune: disabled")
    _say("[3/6] export layout bundles")
    bundles = step_bundles(settings, out, data, cfg)
    if ap_bundle is not None:
        bundles["autoprune"] = ap_bundle
        _attach_eval_set(settings, ap_bundle, data)
        _say(f"  bundle autoprune: ou mapping (exported by AUTO-PRUNE) -> {ap_bundle}")
    _say("[4/6] verify against golden vectors, with and without the index unit")
    verify = step_verify(bundles, out)
    _say("[5/6] simulate inference and a training step")
    report_dirs = step_simulate(bundles, out)
    reports = {p: Report.load(d) for p, d in report_dirs.items()}
    _say("[6/6] summary and plots")
    rows = summary_rows(out, verify, reports)
    atomic_write_text(out / "summary.csv", summary_csv(rows))
    md = summary_markdown(rows, settings, cfg)
    atomic_write_text(out / "summary.md", md)
    plots = out / "plots"
    if not _done(plots / "plots.json", "plots"):
        done = draw_all(reports, {p: load_bundle(b) for p, b in bundles.items()}, plots)
        atomic_write_json(plots / "plots.json", done)
        _say(f"  plots: {len(done)} figures -> {plots}")
    _say(md)
    files = {"summary_md": str(out / "summary.md"), "summary_csv": str(out / "summary.csv"),
             "plots": str(plots), **{f"bundle_{p}": str(b) for p, b in bundles.items()},
             **{f"report_{p}": str(d) for p, d in report_dirs.items()}}
    _say(f"summary: {out / 'summary.md'} and {out / 'summary.csv'}; plots: {plots}")
    return DemoResult(rows=rows, files=files)


__all__ = ["DemoResult", "DemoSettings", "POINTS", "SUMMARY_FIELDS", "run", "summary_csv",
           "summary_markdown", "summary_rows"]
