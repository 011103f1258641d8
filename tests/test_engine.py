"""The discrete-event model against closed-form pipeline estimates, contention, energy accounting,
training writes, and small VGG-like / ResNet-like networks."""

import math

import numpy as np
import pytest

from rram_sim import config, costs, kernels
from rram_sim.bundle import GraphNode, map_network
from rram_sim.counts import Counts
from rram_sim.engine import run_plan
from rram_sim.engine import timing as T
from rram_sim.engine.messages import message_cycles
from rram_sim.engine.plan import build_plan
from rram_sim.errors import ConfigError, MappingError
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer
from rram_sim.noc import TOPOLOGIES, Topology
from rram_sim.simulate import simulate

FAST = {"crossbar.read_latency_ns": 1.0, "adc.sample_rate_gsps": 16.0, "noc.topology": "mesh",
        "noc.concentration": 1}


def _chain(cfg, widths, h=6, w=4, tiles=None):
    """1x1 convs, one crossbar each, layer i on tile i (adjacent on the mesh)."""
    rng = np.random.default_rng(1)
    layouts, prev = {}, "input"
    graph = [GraphNode("input", "input", (), {"shape": (widths[0], h, w)})]
    for i in range(1, len(widths)):
        spec = LayerSpec(f"c{i}", "conv", (widths[i], widths[i - 1], 1, 1), (widths[i - 1], h, w))
        layouts[spec.name] = map_layer(spec, rng.standard_normal(spec.weight_shape), cfg)
        graph.append(GraphNode(spec.name, "conv", (prev,)))
        prev = spec.name
    tiles = tiles or {f"c{i}": (i - 1,) for i in range(1, len(widths))}
    return build_plan(graph, layouts, cfg, tiles, max_groups=64)


def _flow_shop(cfg, stages, h, hops_of=None):
    """Closed form: all stage times once (fill) + (rows - 1) x the bottleneck stage.
    ``hops_of[i]``: links from crossbar layer i to layer i + 1 (default 1: neighbours)."""
    bits = cfg.precision.input_bits
    times = [T.offchip_cycles(stages[0].group_values(0) * bits, cfg)]
    for i, (prev, st) in enumerate(zip(stages, stages[1:])):
        if prev.op != "input":
            hops = (hops_of[i - 1] if hops_of else 1) if prev.home != st.home else 0
            times.append(message_cycles(prev.group_values(0) * bits, hops, cfg)
                         if prev.home != st.home else 0)
        times.append(st.group_positions(0) * T.forward_step(st.geom, cfg).total)
    return sum(times) + (h - 1) * max(times), times


@pytest.mark.parametrize("flit_bits", [8, 64])
@pytest.mark.parametrize("widths", [(8, 8, 8, 8), (4, 16, 8, 32)])
def test_chain_matches_closed_form_pipeline(widths, flit_bits):
    cfg = config.preset("edge").replace(**FAST, **{"noc.flit_bits": flit_bits})
    stages = _chain(cfg, widths)
    res = run_plan(stages, cfg, "inference", 1)
    expect, times = _flow_shop(cfg, stages, 6)
    assert res.makespan_cycles == expect
    assert res.image_done_cycles == [expect]


def test_narrow_link_is_the_bottleneck_by_the_predicted_amount():
    wide = config.preset("edge").replace(**FAST, **{"noc.flit_bits": 64})
    narrow = wide.replace(**{"noc.flit_bits": 8})
    st_w, st_n = _chain(wide, (8, 256, 4)), _chain(narrow, (8, 256, 4))
    r_w = run_plan(st_w, wide, "inference", 1)
    r_n = run_plan(st_n, narrow, "inference", 1)
    e_w, t_w = _flow_shop(wide, st_w, 6)
    e_n, t_n = _flow_shop(narrow, st_n, 6)
    bits = 256 * 4 * narrow.precision.input_bits          # one output row of c1
    m_n = message_cycles(bits, 1, narrow)
    assert m_n in t_n and m_n > max(t_w)               # the narrow link now bounds the pipeline
    assert (r_w.makespan_cycles, r_n.makespan_cycles) == (e_w, e_n)
    assert r_n.makespan_cycles - r_w.makespan_cycles == e_n - e_w > 0


def test_slow_shared_adc_slows_by_the_predicted_amount():
    base = config.preset("edge")
    slow = base.replace(**{"adc.sample_rate_gsps": 0.08})  # 16 columns per ADC: 200 ns per read
    assert T.adc_cycles(slow) == 2 * T.read_cycles(slow)
    r0 = run_plan(_chain(base, (8, 8)), base, "inference", 1)
    r1 = run_plan(_chain(slow, (8, 8)), slow, "inference", 1)
    lay = _chain(base, (8, 8))[1]
    n_reads = base.input_cycles * lay.geom.reads_per_chunk
    tr, ta0, ta1 = T.read_cycles(base), T.adc_cycles(base), T.adc_cycles(slow)
    assert ta0 < tr < ta1
    # read-bound before (n x read + adc tail), conversion-bound after (n x adc + read tail)
    per_position = (n_reads * ta1 + tr) - (n_reads * tr + ta0)
    assert r1.makespan_cycles - r0.makespan_cycles == 6 * 4 * per_position


def test_shared_tile_serializes_on_edram_and_bus():
    cfg = config.preset("edge").replace(**FAST)
    apart = run_plan(_chain(cfg, (8, 8, 8)), cfg, "inference", 2)
    shared = run_plan(_chain(cfg, (8, 8, 8), tiles={"c1": (0,), "c2": (0,)}), cfg, "inference", 2)
    assert shared.makespan_cycles != apart.makespan_cycles
    assert shared.link_busy_cycles == 0 < apart.link_busy_cycles


# -- the NoC topology (noc.topology) routes every message ---------------------------------------

FAR = {"c1": (0,), "c2": (15,), "c3": (1,)}     # edge: 16 tiles, on a 4 x 4 mesh or a ring


def _link_busy(cfg, stages, hops_of):
    """Link-cycles of one image: every group's message holds its ``hops`` links throughout."""
    bits = cfg.precision.input_bits
    return sum(message_cycles(p.group_values(g) * bits, hops, cfg) * hops
               for p, hops in zip(stages[1:], hops_of) for g in range(p.groups))


def test_ring_routes_the_engine_by_hand():
    cfg = config.preset("edge").replace(**{**FAST, "noc.topology": "ring"})
    stages = _chain(cfg, (8, 8, 8, 8), tiles=FAR)
    res = run_plan(stages, cfg, "inference", 1)
    hops = [1, 2]              # 0 -> 15 across the wrap, 15 -> 0 -> 1
    assert res.makespan_cycles == _flow_shop(cfg, stages, 6, hops)[0]
    assert (res.n_links, res.link_busy_cycles) == (32, _link_busy(cfg, stages, hops))
    mesh = config.preset("edge").replace(**FAST)
    res_m = run_plan(_chain(mesh, (8, 8, 8, 8), tiles=FAR), mesh, "inference", 1)
    assert res_m.makespan_cycles == _flow_shop(mesh, stages, 6, [6, 5])[0] > res.makespan_cycles
    assert res_m.n_links == 48


class _Star(Topology):
    """Every router linked to every other: one hop between any two routers."""

    name = "test_star"
    neighbour_ports = 15

    def route(self, src_tile, dst_tile):
        a, b = self.router_of(src_tile), self.router_of(dst_tile)
        return () if a == b else ((a, b),)

    @property
    def n_links(self):
        return self.routers * (self.routers - 1)


def test_a_topology_registered_in_a_test_routes_the_engine(monkeypatch):
    monkeypatch.setitem(TOPOLOGIES, _Star.name, _Star)
    cfg = config.preset("edge").replace(**{**FAST, "noc.topology": "test_star"})
    stages = _chain(cfg, (8, 8, 8, 8), tiles=FAR)
    one = run_plan(stages, cfg, "inference", 1)
    assert one.makespan_cycles == _flow_shop(cfg, stages, 6, [1, 1])[0]
    assert (one.n_links, one.link_busy_cycles) == (240, _link_busy(cfg, stages, [1, 1]))
    for rec in one.records:        # every message crosses one link: a flit-hop per flit
        assert rec.counts.noc_flit_hops == rec.counts.noc_flits


def _net(kind, cfg, scheme, seed=0, density=0.5):
    rng = np.random.default_rng(seed)
    if kind == "vgg":
        specs = [LayerSpec("c1", "conv", (8, 3, 3, 3), (3, 8, 8), padding=(1, 1)),
                 LayerSpec("c2", "conv", (16, 8, 3, 3), (8, 4, 4), padding=(1, 1)),
                 LayerSpec("fc", "linear", (10, 64), (64,))]
        g = [GraphNode("input", "input", [], {"shape": [3, 8, 8]}),
             GraphNode("c1", "conv", ["input"]),
             GraphNode("r1", "relu", ["c1"]), GraphNode("p1", "maxpool", ["r1"], {"kernel": 2}),
             GraphNode("c2", "conv", ["p1"]), GraphNode("r2", "relu", ["c2"]),
             GraphNode("p2", "maxpool", ["r2"], {"kernel": 2}), GraphNode("f", "flatten", ["p2"]),
             GraphNode("fc", "linear", ["f"]), GraphNode("sm", "softmax", ["fc"])]
    else:
        specs = [LayerSpec("c1", "conv", (8, 3, 3, 3), (3, 8, 8), padding=(1, 1)),
                 LayerSpec("c2", "conv", (8, 8, 3, 3), (8, 8, 8), padding=(1, 1)),
                 LayerSpec("c3", "conv", (8, 8, 3, 3), (8, 8, 8), padding=(1, 1)),
                 LayerSpec("fc", "linear", (10, 8), (8,))]
        g = [GraphNode("input", "input", [], {"shape": [3, 8, 8]}),
             GraphNode("c1", "conv", ["input"]),
             GraphNode("r1", "relu", ["c1"]), GraphNode("c2", "conv", ["r1"]),
             GraphNode("r2", "relu", ["c2"]), GraphNode("c3", "conv", ["r2"]),
             GraphNode("add", "add", ["c3", "r1"]), GraphNode("r3", "relu", ["add"]),
             GraphNode("gap", "avgpool", ["r3"], {"kernel": 8}), GraphNode("f", "flatten", ["gap"]),
             GraphNode("fc", "linear", ["f"])]
    ws = [rng.standard_normal(s.weight_shape) for s in specs]
    masks = None if scheme == "dense" else [rng.random(s.weight_shape) < density for s in specs]
    return map_network(specs, ws, cfg, scheme=scheme, masks=masks, graph=g)


@pytest.mark.parametrize("kind", ["vgg", "resnet"])
@pytest.mark.parametrize("scheme", ["dense", "compact", "ou"])
def test_small_networks_inference_and_training(kind, scheme):
    cfg = config.preset("edge")
    b = _net(kind, cfg, scheme)
    inf = simulate(b, cfg, "inference", batch=2)
    tr = simulate(b, cfg, "training", batch=3)
    s = inf.runs["inference"]
    assert s["latency_ns"] > 0 and s["makespan_ns"] >= s["latency_ns"]
    assert s["energy_pj"] > 0 and 0 < s["crossbar_utilization"] <= 1
    t = tr.runs["training"]
    assert t["makespan_ns"] > t["drain_ns"] > 0
    assert {"forward", "backward", "update"} <= set(t["phases"])
    written = sum(w["written_cells"] for w in tr.wear)
    assert t["cell_write_pulses"] == written * cfg.cell.pulses_per_level


def test_pruned_compact_writes_fewer_pulses_than_dense():
    cfg = config.preset("edge")
    dense = simulate(_net("vgg", cfg, "dense"), cfg, "training", batch=2)
    comp = simulate(_net("vgg", cfg, "compact", density=0.2), cfg, "training", batch=2)
    assert comp.runs["training"]["cell_write_pulses"] < dense.runs["training"]["cell_write_pulses"]
    # Only the stored (unpruned) positions are written: the mapping's own figure.
    b = _net("vgg", cfg, "compact", density=0.2)
    assert comp.runs["training"]["cell_write_pulses"] == sum(
        lay.figures["weights_stored"] for lay in b.layers) * cfg.slices_per_weight


def test_measured_pulses_and_write_verify():
    cfg = config.preset("edge").replace(**{"training.write_scheme": "write_verify"})
    b = _net("vgg", cfg, "dense")
    rep = simulate(b, cfg, "training", batch=1, measured_pulses={"c1": 3 * 216 * 4})
    w = {x["layer"]: x for x in rep.wear}
    assert w["c1"]["write_pulses_per_step"] == 2592 and w["c1"]["writes_per_cell_per_step"] == 3
    assert w["c1"]["steps_to_endurance"] == pytest.approx(cfg.cell.endurance_writes / 3)
    verify = [r for r in rep.records if r["component"] and r["pass"] == "update"
              and r["category"] == "writes"]
    assert verify and all(r["count"] > 0 for r in verify)


def test_energy_is_counts_times_costs_plus_leakage():
    cfg = config.preset("edge")
    b = _net("vgg", cfg, "dense")
    rep = simulate(b, cfg, "inference", batch=1)
    total = Counts()
    for lay in b.layers:
        total += kernels.forward_counts(lay, cfg, lay.spec.output_positions)
    des = [layer for layer in rep.layers if layer["run"] == "inference"]
    for f in ("noc_flits", "noc_flit_hops", "offchip_bytes", "activation_ops", "pool_ops",
              "buffer_read_bytes", "buffer_write_bytes"):
        setattr(total, f, sum(x["counts"][f] for x in des))
    dyn = sum(costs.dynamic_energy_pj(total, cfg).values())
    s = rep.runs["inference"]
    assert s["dynamic_energy_pj"] == pytest.approx(dyn, rel=1e-12)
    leak = sum(costs.leakage_energy_pj(cfg, s["makespan_ns"], s["tiles_used"]).values())
    assert s["leakage_energy_pj"] == pytest.approx(leak, rel=1e-12)
    assert s["energy_pj"] == pytest.approx(dyn + leak, rel=1e-12)
    assert sum(rep.energy_by_category_pj["inference"].values()) == pytest.approx(dyn + leak)


def test_deterministic_and_rejects_bad_requests():
    cfg = config.preset("edge")
    b = _net("resnet", cfg, "dense")
    a1 = simulate(b, cfg, "training", batch=2).to_dict()
    a2 = simulate(b, cfg, "training", batch=2).to_dict()
    assert a1 == a2
    with pytest.raises(ConfigError, match="batch"):
        simulate(b, cfg, "inference", batch=0)
    with pytest.raises(ConfigError, match="training.enabled"):
        simulate(b, cfg.replace(**{"training.enabled": False}), "training")
    with pytest.raises(ConfigError, match="differs from the bundle.s chip"):
        simulate(b, config.preset("isaac"))


def test_replication_divides_step_work():
    cfg = config.preset("edge").replace(**FAST)
    st1 = _chain(cfg, (8, 8))
    st2 = _chain(cfg, (8, 8))
    st2[1].copies = 2
    r1 = run_plan(st1, cfg, "inference", 1)
    r2 = run_plan(st2, cfg, "inference", 1)
    g1 = st1[1].group_positions(0) * T.forward_step(st1[1].geom, cfg).total
    g2 = math.ceil(st1[1].group_positions(0) / 2) * T.forward_step(st1[1].geom, cfg).total
    assert r1.makespan_cycles - r2.makespan_cycles == 6 * (g1 - g2)


# -- reload: a network larger than the chip runs in segments reprogrammed in turn --------------

# 2 tiles x 2 PEs x 8 crossbars; a dense 1x1 conv 128 -> 128 takes 2 x 8 crossbars = 2 PEs.
SMALL = {"chip.tiles": 2, "tile.pes": 2, "pe.crossbars": 8}


def _big(cfg, pruned=False, n=4, h=4):
    """``n`` dense 1x1 convs of 2 PEs each (twice a 4-PE chip), or the same with every other input
    channel pruned (compact: 1 PE each, the network fits)."""
    rng = np.random.default_rng(0)
    specs = [LayerSpec(f"c{i}", "conv", (128, 128, 1, 1), (128, h, h)) for i in range(n)]
    ws = [rng.standard_normal(s.weight_shape) for s in specs]
    keep = (np.arange(128) % 2 == 0)[None, :, None, None]
    masks = [np.broadcast_to(keep, s.weight_shape).copy() for s in specs] if pruned else None
    return map_network(specs, ws, cfg, scheme="compact" if pruned else "dense", masks=masks,
                       allow_multi_chip=True)


def _segment_cycles(cfg):
    """Closed form of one segment's programming: a PE's 8 crossbars one after another, 64 rows
    each, (2**cell.bits - 1) x pulses_per_level pulses of write_latency per row."""
    pulse = math.ceil(cfg.cell.write_latency_ns * cfg.chip.clock_ghz)
    return 8 * 64 * (2 ** cfg.cell.bits - 1) * cfg.cell.pulses_per_level * pulse


@pytest.mark.parametrize("mode", ["inference", "training"])
def test_reload_of_a_network_that_fits_changes_nothing(mode):
    cfg = config.preset("edge")
    b = _net("resnet", cfg, "dense")
    a = simulate(b, cfg, mode, batch=2, overflow="error").to_dict()
    r = simulate(b, cfg, mode, batch=2, overflow="reload").to_dict()
    assert r == a
    assert r["runs"][mode]["segments"] == 1 and r["runs"][mode]["reloads"] == 0


def test_reload_twice_the_chip_pays_the_predicted_write_time():
    cfg = config.preset("edge").replace(**SMALL)
    big, pruned = _big(cfg), _big(cfg, pruned=True)
    assert [lay.n_crossbars for lay in big.layers] == [16] * 4
    rep = simulate(big, cfg, "inference", batch=2, overflow="reload")
    s = rep.runs["inference"]
    assert (s["segments"], s["reloads"]) == (2, 2)   # every batch programs both segments
    assert s["reload_ns"] == 2 * _segment_cycles(cfg) / cfg.chip.clock_ghz
    cells = 128 * 128 * cfg.slices_per_weight
    assert s["reload_write_pulses"] == 4 * cells * (2 ** cfg.cell.bits - 1)
    rel = [r for r in rep.records if r["pass"] == "reload"]
    assert {r["layer"] for r in rel} == {"c0", "c1", "c2", "c3"}
    assert sum(r["count"] for r in rel if r["component"] == "cell_write") == \
        s["reload_write_pulses"]
    # each programming writes the cells and fetches the 128x128 8-bit weights from off-chip
    fetched = 4 * 128 * 128
    link_pj = costs.component_library(cfg)["offchip_link"].energy_pj
    assert s["phases"]["reload"]["dynamic_energy_pj"] == pytest.approx(
        s["reload_write_pulses"] * cfg.cell.write_energy_pj + fetched * link_pj)
    # Programming sits on the critical path: slower writes add exactly their extra time.
    slow = cfg.replace(**{"cell.write_latency_ns": 150.0})
    s2 = simulate(big, slow, "inference", batch=2, overflow="reload").runs["inference"]
    assert s2["makespan_ns"] - s["makespan_ns"] == pytest.approx(
        2 * (_segment_cycles(slow) - _segment_cycles(cfg)) / cfg.chip.clock_ghz)
    # The same network pruned to fit runs without reprogramming, and faster.
    p = simulate(pruned, cfg, "inference", batch=2, overflow="reload").runs["inference"]
    assert (p["segments"], p["reloads"], p["reload_ns"]) == (1, 0, 0.0)
    assert p["makespan_ns"] < s["makespan_ns"]
    t = simulate(big, cfg, "training", batch=2, overflow="reload").runs["training"]
    tp = simulate(pruned, cfg, "training", batch=2, overflow="reload").runs["training"]
    # A step starts with segment 0 on the chip: segment 1 for the forward pass, 0 again after.
    assert t["reloads"] == 2 and t["reload_ns"] == 2 * _segment_cycles(cfg) / cfg.chip.clock_ghz
    assert t["makespan_ns"] > tp["makespan_ns"] and tp["reloads"] == 0
    assert {"forward", "backward", "update", "reload"} <= set(t["phases"])


def test_reload_writes_count_as_wear():
    cfg = config.preset("edge").replace(**SMALL)
    big = _big(cfg)
    rel = simulate(big, cfg, "training", batch=1, overflow="reload")
    multi = simulate(big, cfg, "training", batch=1, overflow="multi_chip")
    cells = 128 * 128 * cfg.slices_per_weight
    program = (2 ** cfg.cell.bits - 1) * cfg.cell.pulses_per_level
    for w_r, w_m in zip(rel.wear, multi.wear):
        assert w_r["layer"] == w_m["layer"] and w_r["reloads_per_step"] == 1
        assert w_r["reload_pulses_per_step"] == cells * program
        assert w_r["write_pulses_per_step"] == w_m["write_pulses_per_step"] + cells * program
        assert w_r["max_writes_per_cell_per_step"] == w_m["max_writes_per_cell_per_step"] + program
        assert w_r["steps_to_endurance"] < w_m["steps_to_endurance"]
    t = rel.runs["training"]
    assert t["cell_write_pulses"] == t["update_write_pulses"] + t["reload_write_pulses"]
    assert multi.runs["training"]["tiles_used"] > cfg.chip.tiles   # spilled onto a second chip
    inf = simulate(big, cfg, "inference", batch=3, overflow="reload")
    assert [w["reload_pulses_per_step"] for w in inf.wear] == [cells * program] * 4
    assert {w["run"] for w in inf.wear} == {"inference"}


def test_reload_residual_network_in_segments():
    cfg = config.preset("edge").replace(**{"chip.tiles": 1, "tile.pes": 2})
    b = _net("resnet", cfg.replace(**{"chip.tiles": 16, "tile.pes": 4}), "dense")
    for mode in ("inference", "training"):
        s = simulate(b, cfg, mode, batch=2, overflow="reload").runs[mode]
        assert s["segments"] == 2 and s["reloads"] == 2 and s["makespan_ns"] > s["reload_ns"] > 0


def test_overflow_errors():
    cfg = config.preset("edge").replace(**SMALL)
    big = _big(cfg)
    with pytest.raises(MappingError, match="needs 4 tiles .* has chip.tiles=2"):
        simulate(big, cfg, overflow="error")
    with pytest.raises(ConfigError, match="overflow='spill': must be one of error, multi_chip"):
        simulate(big, cfg, overflow="spill")
    tiny = cfg.replace(**{"chip.tiles": 1, "tile.pes": 1})
    with pytest.raises(MappingError, match=r"layer 'c0': 16 crossbars .* chip '.*' has 8 crossbar "
                                           r"slots \(1 tiles x 1 PEs x 8 crossbars\)"):
        simulate(big, tiny, overflow="reload")
