"""The array-backed calendars reserved in Numba (rram_sim.engine.calendar_bank.CalendarBank) book
every hold on the same cycle as the Python calendars (rram_sim.engine.calendar.Calendar, through
PyCalendarBank): random holds, random vector programs, and whole runs (inference, training,
several chips, reload segments), compared field by field."""

import dataclasses

import numpy as np
import pytest

from rram_sim import config
from rram_sim.bundle import GraphNode, map_network
from rram_sim.engine import plan_for
from rram_sim.engine.calendar import LIVE, Calendar
from rram_sim.engine.calendar_bank import MSG_LINKS, MSG_POOL, CalendarBank, PyCalendarBank
from rram_sim.engine.model import ChipModel
from rram_sim.layout import LayerSpec


@pytest.mark.parametrize("live_cap", [LIVE + 4, 2 * LIVE])
def test_random_holds_land_where_the_python_calendar_puts_them(live_cap):
    """Thousands of holds, most after everything booked, some filling gaps far back: the same
    starts, busy cycles, floors (retired holds) and merged history (long enough to be coarsened);
    a small live capacity makes the bank grow its rows on the way."""
    rng = np.random.default_rng(7)
    bank = CalendarBank(live_cap=live_cap)
    ids = [bank.add() for _ in range(3)]
    refs = [Calendar() for _ in ids]
    frontier = 0
    for _ in range(6000):
        k = int(rng.integers(3))
        cyc = int(rng.integers(1, 9))
        back = int(rng.integers(0, 40)) if rng.random() < 0.3 else 0
        lo = max(0, frontier - back)
        frontier += int(rng.integers(0, 12))
        assert bank.take(ids[k], lo, cyc) == refs[k].take(lo, cyc)
    for c, ref in zip(ids, refs):
        assert bank.busy(c) == ref.busy
        assert bank.cal[c, 1] == ref.floor > 0        # holds were retired
        assert bank.intervals(c) == ref.intervals()
    assert max(ref.merge_gap for ref in refs) > 0     # a history long enough to be coarsened


@pytest.mark.parametrize("live_cap", [LIVE + 4, 2 * LIVE])
def test_gap_filling_holds_grow_the_live_rows(live_cap):
    """Holds filling the gaps between live reservations never retire any: the bank's live rows
    grow past their capacity and keep every hold where the Python calendar puts it."""
    bank, ref = CalendarBank(live_cap=live_cap), Calendar()
    c = bank.add()
    for i in range(70):
        assert bank.take(c, 10 * i, 2) == ref.take(10 * i, 2)
    for s in reversed(ref.starts[:-1]):      # back to front: every one an insertion
        for d in (3, 5, 7):
            assert bank.take(c, s + d, 1) == ref.take(s + d, 1) == s + d
    assert len(ref.starts) > live_cap
    assert bank.cal.shape[1] > CalendarBank(live_cap=live_cap).cal.shape[1]
    assert bank.take(c, 0, 2) == ref.take(0, 2)
    assert (bank.busy(c), bank.intervals(c)) == (ref.busy, ref.intervals())


def test_random_vector_programs_agree_with_the_python_reference():
    """Vectors with phases on shared units (streaming and not), messages over one or several
    links, through one router, and over the off-chip pool, at random ready cycles."""
    rng = np.random.default_rng(3)
    fast, ref = CalendarBank(live_cap=LIVE + 8), PyCalendarBank()
    n = 12
    for _ in range(n):
        fast.add(), ref.add()
    pool = (0, 1, 2)

    def route():
        kind = rng.integers(4)
        cyc = int(rng.integers(1, 20))
        if kind == 0:
            return (MSG_POOL, cyc, pool)
        links = tuple(int(x) for x in rng.choice(np.arange(3, n), size=int(kind) - 1,
                                                 replace=False))
        return (MSG_LINKS, cyc, links)

    progs = []
    for _ in range(20):
        ops = [(int(rng.integers(3, n)), int(rng.integers(1, 30)),
                int(rng.integers(0, 5)) if rng.random() < 0.3 else -1, int(rng.integers(0, 3)))
               for _ in range(int(rng.integers(0, 6)))]
        ins = [route() for _ in range(int(rng.integers(0, 2)))]
        outs = [route() for _ in range(int(rng.integers(0, 3)))]
        progs.append((fast.program(ins, ops, outs), ref.program(ins, ops, outs),
                      fast.program((), (), outs), ref.program((), (), outs)))
    t = 0
    for _ in range(3000):
        pf, pr, sf, sr = progs[int(rng.integers(len(progs)))]
        t += int(rng.integers(0, 25))
        ready = max(0, t - int(rng.integers(0, 60)))
        assert fast.step(pf, ready) == ref.step(pr, ready)
        assert fast.send(sf, ready) == ref.send(sr, ready)
    for c in range(n):
        assert (fast.busy(c), fast.intervals(c)) == (ref.busy(c), ref.intervals(c))


def _resnet(cfg):
    rng = np.random.default_rng(0)
    specs = [LayerSpec("c1", "conv", (8, 3, 3, 3), (3, 8, 8), padding=(1, 1)),
             LayerSpec("c2", "conv", (8, 8, 3, 3), (8, 8, 8), padding=(1, 1)),
             LayerSpec("c3", "conv", (8, 8, 3, 3), (8, 8, 8), padding=(1, 1)),
             LayerSpec("fc", "linear", (10, 8), (8,))]
    g = [GraphNode("input", "input", [], {"shape": [3, 8, 8]}),
         GraphNode("c1", "conv", ["input"]), GraphNode("r1", "relu", ["c1"]),
         GraphNode("c2", "conv", ["r1"]), GraphNode("r2", "relu", ["c2"]),
         GraphNode("c3", "conv", ["r2"]), GraphNode("add", "add", ["c3", "r1"]),
         GraphNode("r3", "relu", ["add"]), GraphNode("gap", "avgpool", ["r3"], {"kernel": 8}),
         GraphNode("f", "flatten", ["gap"]), GraphNode("fc", "linear", ["f"])]
    ws = [rng.standard_normal(s.weight_shape) for s in specs]
    masks = [rng.random(s.weight_shape) < 0.5 for s in specs]
    return map_network(specs, ws, cfg, scheme="compact", masks=masks, graph=g)


def _big(cfg):
    rng = np.random.default_rng(1)
    specs = [LayerSpec(f"c{i}", "conv", (128, 128, 1, 1), (128, 4, 4)) for i in range(4)]
    ws = [rng.standard_normal(s.weight_shape) for s in specs]
    return map_network(specs, ws, cfg, scheme="dense", allow_multi_chip=True)


SMALL = {"chip.tiles": 2, "tile.pes": 2, "pe.crossbars": 8}


@pytest.mark.parametrize("case", ["resnet-inference", "resnet-training", "multi-chip-training",
                                  "reload-training", "reload-inference", "replicated-training"])
def test_whole_runs_are_identical_on_both_calendars(case):
    edge = config.preset("edge")
    replication = None
    if case.startswith("resnet"):
        cfg, bundle, overflow = edge, _resnet(edge), None
    elif case.startswith("replicated"):   # two copies of c2, a PE's crossbars share an ADC bank
        cfg = edge.replace(**{"adc.sharing": "pe"})
        bundle, overflow, replication = _resnet(cfg), None, {"c2": 2}
    else:
        cfg = edge.replace(**SMALL)
        bundle = _big(cfg)
        overflow = "multi_chip" if case.startswith("multi") else "reload"
    training = case.endswith("training")
    cfg = cfg.replace(**{"training.enabled": True}) if training else cfg
    stages = plan_for(bundle, cfg, overflow=overflow, replication=replication)
    runs = [ChipModel(cfg, stages, 3, training, calendars=c).run() for c in ("python", "bank")]
    a, b = (dataclasses.asdict(r) for r in runs)
    assert a == b
    assert runs[0].events > 0 and runs[0].components
    if case.startswith("reload"):
        assert runs[0].segments == 2
    if case.startswith("multi"):
        assert any(c.kind == "offchip" for c in runs[0].components)
    if replication:
        assert {c.key for c in runs[0].components if c.kind == "xbar"} >= {"c2 copy 0",
                                                                              "c2 copy 1"}


def test_rejects_an_unknown_calendar_kind():
    cfg = config.preset("edge")
    with pytest.raises(ValueError, match="calendars='numpy'"):
        ChipModel(cfg, plan_for(_resnet(cfg), cfg), calendars="numpy")
