"""Every configuration key changes a result, or docs/config.md documents it as a label.

For every numeric, boolean or enum key of every preset, the key is moved to another valid value
(each of a few candidates the configuration accepts on its own, until one changes something) and
a small fixed workload runs on the changed chip:

- the chip roll-up ``rram_sim.costs.rollup`` (plain and with index units);
- ``rram_sim.kernels.forward_counts`` of every layer of the ``dense`` and ``ou`` example bundles,
  and ``rram_sim.kernels.run_layer`` (values and counts) on each layer's golden input;
- ``rram_sim.simulate.simulate`` of those bundles, inference and, where the chip trains, training.

The example bundles are the shipped ones on ``edge`` (the chip they were mapped for) and the same
network mapped for the preset otherwise. A run that raises counts as an output (its error type), so
a mapping key that makes the simulator refuse the bundle changes a result. A key is dead when no
perturbation in any preset (and in the variants below, which switch on a feature some keys only
matter for) changes any output; the test names every dead key.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from rram_sim import config, costs, docgen, kernels
from rram_sim.errors import RramSimError
from rram_sim.examples import build_example_bundle
from rram_sim.simulate import simulate

SCHEMES = ("dense", "ou")
N_VECTORS = 10
# (preset, dotted overrides): the presets, plus chips that switch on a feature some keys need
# (adc.calibration_fraction only acts with the 'calibrated' range policy; the NoC only carries
# the small example network between tiles when each tile holds one crossbar; a chip write power
# budget only acts when it is below the example network's PEs' write power, 3 x 12.8 mW on edge).
CONTEXTS: tuple[tuple[str, dict[str, Any]], ...] = (
    *((name, {}) for name in config.preset_names()),
    ("edge", {"adc.range_policy": "calibrated"}),
    ("edge", {"tile.pes": 1, "pe.crossbars": 1}),
    ("edge", {"training.write_power_budget_w": 0.02}),
)


def _keys() -> list[tuple[str, dataclasses.Field]]:
    out = []
    for group, cls in config.GROUPS.items():
        for f in dataclasses.fields(cls):
            typ = f.type if isinstance(f.type, str) else f.type.__name__
            if typ in ("int", "float", "bool") or f.metadata.get("choices"):
                out.append((f"{group}.{f.name}", f))
    return out


def _candidates(value: Any, f: dataclasses.Field) -> Iterator[Any]:
    """Other values for the field, nearest kinds of change first."""
    meta = f.metadata
    if isinstance(value, bool):
        yield not value
    elif meta.get("choices"):
        yield from (c for c in meta["choices"] if c != value)
    elif isinstance(value, int):
        yield from (value * 2, value + 1, value // 2, value - 1, value * 4, 1, 2)
    else:
        yield from (value * 2, value * 0.5, value + 1.0, 1.0, 0.5)


def perturbations(cfg: config.Config, key: str, f: dataclasses.Field) -> Iterator[config.Config]:
    """``cfg`` with ``key`` at each other candidate value it accepts alone (lazily)."""
    value = getattr(getattr(cfg, key.split(".")[0]), key.split(".")[1])
    tried = {value}
    for v in _candidates(value, f):
        if v in tried:
            continue
        tried.add(v)
        try:
            yield cfg.replace(**{key: v})
        except RramSimError:
            continue


def _outcome(fn: Callable[[], Any]) -> Any:
    """The value of ``fn()`` in a comparable form, or the error type it raises."""
    try:
        value = fn()
    except RramSimError as exc:
        return ("raises", type(exc).__name__)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], np.ndarray):
        y, counts = value            # kernels.run_layer: values and counts
        value = (y.shape, y.tobytes(), dataclasses.asdict(counts))
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in ("config", "config_hash")}
    return value


def workload(cfg: config.Config, bundles: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(output name, outcome) of the fixed workload on ``cfg``, cheapest first (lazily)."""
    yield "rollup", _outcome(lambda: costs.rollup(cfg))
    yield "rollup indexed", _outcome(lambda: costs.rollup(cfg, indexed=True))
    for s in SCHEMES:
        for lay in bundles[s].layers:
            yield (f"forward_counts {s} {lay.spec.name}",
                   _outcome(lambda lay=lay: kernels.forward_counts(lay, cfg, N_VECTORS)))
    for s in SCHEMES:
        for lay in bundles[s].layers:
            x = bundles[s].golden[lay.spec.name].input
            yield (f"run_layer {s} {lay.spec.name}",
                   _outcome(lambda lay=lay, x=x: kernels.run_layer(lay, x, cfg)))
    for s in SCHEMES:
        yield f"simulate {s} inference", _outcome(lambda s=s: simulate(bundles[s], cfg).to_dict())
        if cfg.training.enabled:
            yield (f"simulate {s} training",
                   _outcome(lambda s=s: simulate(bundles[s], cfg, "training").to_dict()))


def label_keys() -> set[str]:
    """Keys whose docs/config.md row says they are a label."""
    text = docgen.DOC_PATH.read_text(encoding="utf-8")
    return {row.split("`")[1] for row in text.splitlines()
            if row.startswith("| `") and docgen.LABEL in row}


@pytest.fixture(scope="module")
def contexts(example_bundles) -> list[tuple[str, config.Config, dict, dict]]:
    """The baselines, computed once per module."""
    return build_contexts(example_bundles)


def build_contexts(example_bundles: dict[str, Any]) -> list[tuple[str, config.Config, dict, dict]]:
    """(name, chip, example bundles for it, baseline outputs) per context."""
    out = []
    for name, overrides in CONTEXTS:
        cfg = config.preset(name).replace(**overrides)
        if name == config.DEFAULT_PRESET and not overrides:
            bundles = {s: example_bundles[s] for s in SCHEMES}
        else:
            bundles = {s: build_example_bundle(s, cfg) for s in SCHEMES}
        label = name + "".join(f" {k}={v}" for k, v in overrides.items())
        out.append((label, cfg, bundles, dict(workload(cfg, bundles))))
    return out


def changes_a_result(key: str, f: dataclasses.Field, contexts) -> tuple[bool, list[str]]:
    """Whether some perturbation of ``key`` changes an output; the contexts it was tried in."""
    tried = []
    for label, cfg, bundles, base in contexts:
        for moved in perturbations(cfg, key, f):
            if label not in tried:
                tried.append(label)
            seen = set()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for name, out in workload(moved, bundles):
                    seen.add(name)
                    if name not in base or out != base[name]:
                        return True, tried
            if seen != set(base):          # e.g. training switched off: an output disappeared
                return True, tried
    return False, tried


def test_every_key_changes_a_result_or_is_a_documented_label(contexts):
    labels = label_keys()
    dead, untried = [], []
    for key, f in _keys():
        if key in labels:
            continue
        changed, tried = changes_a_result(key, f, contexts)
        if not tried:
            untried.append(key)
        elif not changed:
            dead.append(f"{key} (tried on {', '.join(tried)})")
    assert not untried, f"no valid perturbation in any preset: {', '.join(untried)}"
    assert not dead, ("keys that change no result (remove them, or document them as a label in "
                      "config.py with label=True):\n  " + "\n  ".join(dead))


def test_labels_are_marked_in_the_config_and_the_perturbation_finds_dead_keys(contexts):
    labels = label_keys()
    marked = {k for k, f in _keys() if f.metadata.get("label")}
    assert labels == marked == {"chip.technology_nm"}
    # the check can fail: a label key changes nothing when perturbed
    f = dict(_keys())["chip.technology_nm"]
    assert changes_a_result("chip.technology_nm", f, contexts) == (
        False, [label for label, *_ in contexts])
    assert changes_a_result("adc.bits", dict(_keys())["adc.bits"], contexts)[0]
