"""The cycle-level discrete-event model against cycle counts computed by hand and the closed-form
pipeline formula, contention, energy accounting, training writes, and small VGG-like /
ResNet-like networks."""

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
    return build_plan(graph, layouts, cfg, tiles)


def _closed_form(cfg, stages, hops_of=None):
    """The pipeline formula for a chain where nothing contends: the first input row's arrival,
    then every stage's latency and every message once (the fill) + (vectors - 1) x the slowest
    unit's hold per vector (each layer's initiation interval, each message's link hold).
    ``hops_of[i]``: links from crossbar layer i to layer i + 1 (default 1: neighbours)."""
    bits = cfg.precision.input_bits
    t_row = T.offchip_cycles(stages[0].group_values(0) * bits, cfg)
    fill, holds = t_row, []
    layers = stages[1:]
    for i, st in enumerate(layers):
        ph = T.forward_phases(st.geom, cfg)
        fill += T.phases_latency(ph)
        holds.append(T.phases_interval(ph))
        if i + 1 < len(layers):
            m = message_cycles(st.group_values(0) * bits, hops_of[i] if hops_of else 1, cfg)
            fill += m
            holds.append(m)
    n = layers[0].groups
    # the input rows never hold the first layer up (they arrive faster than it reads them)
    assert stages[0].group_len * holds[0] >= t_row
    return fill + (n - 1) * max(holds), holds


def _conv_net(cfg, specs, tiles, scheme="dense", masks=None):
    rng = np.random.default_rng(3)
    graph = [GraphNode("input", "input", (), {"shape": tuple(specs[0].input_shape)})]
    layouts = {}
    for k, spec in enumerate(specs):
        layouts[spec.name] = map_layer(spec, rng.standard_normal(spec.weight_shape), cfg, scheme,
                                       mask=None if masks is None else masks[k])
        graph.append(GraphNode(spec.name, "conv", (graph[-1].name,)))
    return build_plan(graph, layouts, cfg, tiles)


C8 = LayerSpec("c1", "conv", (8, 8, 1, 1), (8, 2, 4))       # 8 vectors of 8 inputs


def test_one_conv_on_one_crossbar_by_hand():
    """edge: 100-cycle reads, 13-cycle conversions (16 columns at 1.28 GS/s), 8 one-bit input
    chunks, 128-bit eDRAM and bus, 16 lanes, 4 physical columns per weight, 16 x 16 OUs.
    A 1x1 conv 8 -> 8: 8 rows x 32 columns on one crossbar, 2 OU reads per chunk."""
    cfg = config.preset("edge")
    stages = _conv_net(cfg, [C8], {"c1": (0,)})
    # eDRAM 1 + bus 1 (64 bits), reads 2..1602 (8 x 2 x 100), conversions 102..1615 (the last
    # one 13 after the last read), shift-add done at 1616, partial sums over the bus 1617,
    # output written at 1618: latency 1618; the crossbar holds each vector 1600 cycles
    ph = T.forward_phases(stages[1].geom, cfg)
    assert (T.phases_latency(ph), T.phases_interval(ph)) == (1618, 1600)
    # a row of the input (4 x 8 bytes) arrives over the off-chip link in ceil(32 / 6.4) = 5
    res = run_plan(stages, cfg, "inference", 1)
    assert res.makespan_cycles == res.image_done_cycles[0] == 5 + 1618 + 7 * 1600 == 12823
    assert res.events >= stages[1].groups               # at least one event per vector
    assert res.makespan_cycles == _closed_form(cfg, stages)[0]
    xb = next(c for c in res.components if c.kind == "xbar")
    # the crossbar reads from 5 + 2 without a gap: one merged busy interval
    assert xb.busy_cycles == 8 * 1600 and xb.intervals == [(7, 7 + 8 * 1600)]


def test_two_layer_pipeline_by_hand():
    cfg = config.preset("edge")
    c2 = LayerSpec("c2", "conv", (8, 8, 1, 1), (8, 2, 4))
    stages = _conv_net(cfg, [C8, c2], {"c1": (0,), "c2": (1,)})
    # c1's 8 outputs (64 bits, 2 flits) cross one link: 2 + 2 cycles; c2 then takes 1618 per
    # vector latency and the same 1600 a vector: the second layer adds its fill only
    res = run_plan(stages, cfg, "inference", 1)
    assert res.makespan_cycles == 5 + 1618 + 4 + 1618 + 7 * 1600 == 14445
    assert res.makespan_cycles == _closed_form(cfg, stages)[0]
    # two images: the second streams right behind the first (8 more vectors at 1600)
    two = run_plan(stages, cfg, "inference", 2)
    assert two.image_done_cycles == [14445, 14445 + 8 * 1600]


def test_read_bound_against_adc_bound_by_hand():
    slow = config.preset("edge").replace(**{"adc.sample_rate_gsps": 0.08})
    assert T.adc_cycles(slow) == 200                    # 16 columns at 0.08 GS/s: 200 ns
    stages = _conv_net(slow, [C8], {"c1": (0,)})
    # reads 2..1602 as before; conversions from 102, 8 x 2 x 200 = 3200 each vector: ADC-bound;
    # the last shift-add at 3303, then bus and eDRAM: latency 3305, a vector every 3200
    ph = T.forward_phases(stages[1].geom, slow)
    assert (T.phases_latency(ph), T.phases_interval(ph)) == (3305, 3200)
    res = run_plan(stages, slow, "inference", 1)
    assert res.makespan_cycles == 5 + 3305 + 7 * 3200 == 25710
    # read-bound (the default ADC) against ADC-bound: the interval is the slower of the two
    assert res.makespan_cycles - 12823 == (3305 - 1618) + 7 * (3200 - 1600)


def test_a_pes_crossbars_sharing_one_adc_bank_by_hand():
    """A 1x1 conv 8 -> 32: 128 physical columns on 2 crossbars of one PE, 4 OU reads per chunk
    each; 100-ns conversions (0.16 GS/s) make the ADC as slow as the reads."""
    base = config.preset("edge").replace(**{"adc.sample_rate_gsps": 0.16})
    spec = LayerSpec("c1", "conv", (32, 8, 1, 1), (8, 2, 4))
    own = _conv_net(base, [spec], {"c1": (0,)})
    assert own[1].geom.n_crossbars == 2 and T.adc_cycles(base) == 100
    # own ADCs: reads 2..3202, conversions 102..3302, shift-add 3303, 256 bits of partial sums
    # (2 cycles), 256 bits written (2 cycles): latency 3307, a vector every 3200
    assert run_plan(own, base, "inference", 1).makespan_cycles == 5 + 3307 + 7 * 3200 == 25712
    shared = base.replace(**{"adc.sharing": "pe"})
    st = _conv_net(shared, [spec], {"c1": (0,)})
    # one bank converts both crossbars' 8 x 4 reads: 6400 a vector; conversions 102..6502
    assert run_plan(st, shared, "inference", 1).makespan_cycles == 5 + 6507 + 7 * 6400 == 51312


def test_an_index_unit_bound_compact_layer_by_hand():
    """A compact 1x1 conv 64 -> 4 (every weight kept): 64 gathered rows, 4 OU row groups of 16
    rows, one OU column group; 1-cycle reads and conversions."""
    cfg = config.preset("edge").replace(**{"crossbar.read_latency_ns": 1.0,
                                           "adc.sample_rate_gsps": 16.0,
                                           "pe.index_lookups_per_cycle": 1})
    spec = LayerSpec("c1", "conv", (4, 64, 1, 1), (64, 2, 4))
    mask = [np.ones(spec.weight_shape, bool)]
    st = _conv_net(cfg, [spec], {"c1": (0,)}, "compact", mask)
    assert st[1].geom.gather_rows == 64
    # eDRAM 4 + bus 4 (512 bits), gather 64 rows at one a cycle (8..72), 8 x 4 reads (72..104),
    # conversions 73..105, shift-add 106, bus 107, eDRAM 108: the index unit sets the interval
    ph = T.forward_phases(st[1].geom, cfg)
    assert (T.phases_latency(ph), T.phases_interval(ph)) == (108, 64)
    # an input row of 4 x 64 bytes takes ceil(256 / 6.4) = 40 cycles off chip
    assert run_plan(st, cfg, "inference", 1).makespan_cycles == 40 + 108 + 7 * 64 == 596
    fast = cfg.replace(**{"pe.index_lookups_per_cycle": 16})
    st = _conv_net(fast, [spec], {"c1": (0,)}, "compact", mask)
    # 16 lookups a cycle: 4 cycles of gather; the reads (32 a vector) set the interval
    assert run_plan(st, fast, "inference", 1).makespan_cycles == 40 + 48 + 7 * 32 == 312


@pytest.mark.parametrize("flit_bits", [8, 64])
@pytest.mark.parametrize("widths", [(8, 8, 8, 8), (4, 16, 8, 32)])
def test_chain_matches_closed_form_pipeline(widths, flit_bits):
    cfg = config.preset("edge").replace(**FAST, **{"noc.flit_bits": flit_bits})
    stages = _chain(cfg, widths)
    res = run_plan(stages, cfg, "inference", 1)
    expect, _ = _closed_form(cfg, stages)
    assert res.makespan_cycles == expect
    assert res.image_done_cycles == [expect]


def test_narrow_link_is_the_bottleneck_by_the_predicted_amount():
    wide = config.preset("edge").replace(**FAST, **{"noc.flit_bits": 64})
    narrow = wide.replace(**{"noc.flit_bits": 8})
    st_w, st_n = _chain(wide, (8, 64, 4)), _chain(narrow, (8, 64, 4))
    r_w = run_plan(st_w, wide, "inference", 1)
    r_n = run_plan(st_n, narrow, "inference", 1)
    e_w, t_w = _closed_form(wide, st_w)
    e_n, t_n = _closed_form(narrow, st_n)
    bits = 64 * narrow.precision.input_bits           # one output vector of c1
    m_n = message_cycles(bits, 1, narrow)
    assert m_n == max(t_n) and m_n > max(t_w)          # the narrow link now bounds the pipeline
    assert (r_w.makespan_cycles, r_n.makespan_cycles) == (e_w, e_n)
    assert r_n.makespan_cycles - r_w.makespan_cycles == e_n - e_w > 0


def test_shared_tile_serializes_on_edram_and_bus():
    cfg = config.preset("edge").replace(**FAST)
    apart = run_plan(_chain(cfg, (8, 8, 8)), cfg, "inference", 2)
    shared = run_plan(_chain(cfg, (8, 8, 8), tiles={"c1": (0,), "c2": (0,)}), cfg, "inference", 2)
    assert shared.makespan_cycles != apart.makespan_cycles
    assert shared.link_busy_cycles == 0 < apart.link_busy_cycles
    tile0 = [c for c in shared.components if c.key == "tile 0" and c.kind == "edram"]
    assert tile0 and tile0[0].busy_cycles == sum(
        c.busy_cycles for c in apart.components if c.kind == "edram")


def test_forward_and_backward_sharing_an_array_by_hand():
    """Training, batch 2: input (8 x 1 x 1) -> c1 (tile 0) -> c2 (tile 1), 1x1 convs 8 -> 8,
    one vector per image and stage. A transposed read of c2 takes 8 x 8 reads (the transposed
    plan reads each of the 4 slice positions of both OU column groups): 6400 cycles."""
    cfg = config.preset("edge")
    spec1 = LayerSpec("c1", "conv", (8, 8, 1, 1), (8, 1, 1))
    spec2 = LayerSpec("c2", "conv", (8, 8, 1, 1), (8, 1, 1))
    stages = _conv_net(cfg, [spec1, spec2], {"c1": (0,), "c2": (1,)})
    tp = T.transposed_phases(stages[2].geom, cfg)
    assert [p.cycles for p in tp if p.unit == "xbar"] == [6400]
    res = run_plan(stages, cfg, "training", 2)
    # forward: the input rows land at 2 and 4; c1 reads 4..1604 and 1604..3204 (latency 1618
    # from its eDRAM read), its outputs reach c2 at 1620 + 4 and 3220 + 4; c2 reads 1626..3226
    # and 3226..4826: images done at 1624 + 1618 and 3224 + 1618
    assert res.image_done_cycles == [3242, 4842]
    # backward: c2's error of image 0 is ready at 3242 (the loss), but the array is busy with
    # image 1's forward reads until 4826 (first come, first served): its transposed reads run
    # 4826..11226, image 1's 11226..17626
    c2 = next(c for c in res.components if c.kind == "xbar" and c.key == "c2 copy 0")
    assert c2.intervals == [(1626, 17626)]          # never idle: 2 x 1600 + 2 x 6400
    grad = T.gradient_phase(stages[2].geom, 1, cfg).cycles
    assert grad == 64 // (cfg.tile.shift_add_units * 16) == 4    # 64 stored weights, 16 lanes
    # after the last transposed read: conversions end 13 later, shift-add 1, bus 1, so the
    # eDRAM write starts 15 later, the gradient beside it (4), the error crosses to c1 (4); c1
    # is fed by the input, its backward only reads the error and takes its gradient (4)
    assert res.drain_cycles == 17626 + 15 + 4 + 4 + 4 == 17653
    # the update: 8 rows on c1's (and c2's) PE, one 50-cycle pulse each, both layers at once
    assert res.makespan_cycles == 17653 + 8 * 50 == 18053


# -- the NoC topology (noc.topology) routes every message ---------------------------------------

FAR = {"c1": (0,), "c2": (15,), "c3": (1,)}     # edge: 16 tiles, on a 4 x 4 mesh or a ring


def _link_busy(cfg, stages, hops_of):
    """Link-cycles of one image: every vector's message holds its ``hops`` links throughout."""
    bits = cfg.precision.input_bits
    return sum(message_cycles(p.group_values(0) * bits, hops, cfg) * hops * p.groups
               for p, hops in zip(stages[1:], hops_of))


def test_ring_routes_the_engine_by_hand():
    cfg = config.preset("edge").replace(**{**FAST, "noc.topology": "ring"})
    stages = _chain(cfg, (8, 8, 8, 8), tiles=FAR)
    res = run_plan(stages, cfg, "inference", 1)
    hops = [1, 2]              # 0 -> 15 across the wrap, 15 -> 0 -> 1
    assert res.makespan_cycles == _closed_form(cfg, stages, hops)[0]
    assert (res.n_links, res.link_busy_cycles) == (32, _link_busy(cfg, stages, hops))
    mesh = config.preset("edge").replace(**FAST)
    res_m = run_plan(_chain(mesh, (8, 8, 8, 8), tiles=FAR), mesh, "inference", 1)
    assert res_m.makespan_cycles == _closed_form(mesh, stages, [6, 5])[0] > res.makespan_cycles
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
    assert one.makespan_cycles == _closed_form(cfg, stages, [1, 1])[0]
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


def test_replication_sends_alternate_vectors_to_each_copy():
    cfg = config.preset("edge")
    st1 = _conv_net(cfg, [C8], {"c1": (0,)})
    st2 = _conv_net(cfg, [C8], {"c1": (0,)})
    st2[1].copies = 2
    assert run_plan(st1, cfg, "inference", 1).makespan_cycles == 12823
    # two copies read alternate vectors in parallel: 4 vectors each, the eDRAM and bus of the
    # tile shared (the second copy's vector enters 1 cycle after the first's, behind its
    # eDRAM read), so the last vector (copy 1's fourth) ends at 5 + 1 + 1618 + 3 x 1600
    r2 = run_plan(st2, cfg, "inference", 1)
    assert r2.makespan_cycles == 5 + 1 + 1618 + 3 * 1600 == 6424
    assert len([c for c in r2.components if c.kind == "xbar"]) == 2


def test_backward_vectors_of_a_strided_layer_spread_over_the_copies():
    """c2 is a stride-2 1x1 conv on an 8x8 map with 4 copies: its backward stage has a vector per
    input position (64) but only the 16 at even rows and columns carry an error, one step each.
    Each goes to the copy with the fewest steps so far, 4 each, as the 16 forward vectors do, so
    every copy's crossbars are busy alike (``v mod 4`` would have put them on copies 0 and 2
    only: even columns of a width-8 map)."""
    cfg = config.preset("edge")
    spec1 = LayerSpec("c1", "conv", (8, 8, 1, 1), (8, 8, 8))
    spec2 = LayerSpec("c2", "conv", (8, 8, 1, 1), (8, 8, 8), stride=(2, 2))
    stages = _conv_net(cfg, [spec1, spec2], {"c1": (0,), "c2": (1,)})
    stages[2].copies = 4
    res = run_plan(stages, cfg, "training", 1)
    busy = sorted(c.busy_cycles for c in res.components
                  if c.kind == "xbar" and c.key.startswith("c2 copy"))
    assert len(busy) == 4 and busy[0] == busy[-1] > 0


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


def test_reload_waits_for_the_weights_from_off_chip():
    """A reload streams each segment's weights in over the off-chip links, layer after layer,
    while programming overlaps the stream: with a slow link the fetch, not the writes, sets the
    reprogramming time. 2 layers of 128 x 128 8-bit weights per segment, 128 Kibit each, split
    over the edge chip's one off-chip link (chip.offchip_links 0: the input's link, one)."""
    cfg = config.preset("edge").replace(**{**SMALL, "chip.offchip_link_gbps": 0.01})
    big = _big(cfg)
    links = max(1, cfg.chip.offchip_links)
    per_layer = T.fetch_cycles(128 * 128 * 8, cfg)
    assert per_layer == math.ceil(128 * 128 * 8 / links / 8 / (0.01 / cfg.chip.clock_ghz))
    assert 2 * per_layer > _segment_cycles(cfg)       # the fetch is the slower part
    s = simulate(big, cfg, "inference", batch=2, overflow="reload").runs["inference"]
    assert s["reload_ns"] == 2 * (2 * per_layer) / cfg.chip.clock_ghz
    # with the default links the writes are slower and set the time, as before
    fast = config.preset("edge").replace(**SMALL)
    assert 2 * T.fetch_cycles(128 * 128 * 8, fast) < _segment_cycles(fast)


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


def test_an_edram_bound_layer_by_hand():
    """tile.edram_access_ns (MNSIM 2.0's buffer: 20 ns per 64-bit access): the eDRAM port holds
    every access that long, so a slow buffer becomes the stage's bottleneck. The edge chip at
    1 GHz with 2000-ns accesses: a vector's 64 input bits are one 128-bit access (2000 cycles)
    and its 8 outputs one more, 4000 cycles a vector on the eDRAM port against 1600 on the
    crossbar."""
    cfg = config.preset("edge").replace(**{"tile.edram_access_ns": 2000.0})
    assert T.edram_cycles(64, cfg) == 2000 and T.edram_cycles(129, cfg) == 4000
    assert T.edram_cycles(64, config.preset("edge")) == 1 == T.bus_cycles(64, cfg)
    stages = _conv_net(cfg, [C8], {"c1": (0,)})
    ph = T.forward_phases(stages[1].geom, cfg)
    # read in 2000, over the bus 1, reads 2001..3601, conversions to 3614, shift-add 3615, bus
    # 3616, written back 3616 + 2000: latency 5616; the eDRAM port holds 4000 per vector
    assert [(p.unit, p.cycles) for p in ph if p.unit == "edram"] == [("edram", 2000)] * 2
    assert (T.phases_latency(ph), T.phases_interval(ph)) == (5616, 4000)
    # The port is used twice a vector, and the two uses contend: vector 0 books its read at
    # 5..2005 and its write at 3621..5621; vector 1's 2000-cycle read does not fit the 1616-cycle
    # gap before that write (the calendar books in order, first gap that fits), so it starts at
    # 5621, and so on: a vector every 5616 cycles, not the 4000 the closed form's interval (the
    # bound where the uses interleave perfectly) would give.
    res = run_plan(stages, cfg, "inference", 1)
    assert res.makespan_cycles == 5 + 8 * 5616 == 44933
    assert res.makespan_cycles > _closed_form(cfg, stages)[0] == 5 + 5616 + 7 * 4000
    ed = next(c for c in res.components if c.kind == "edram")
    assert ed.busy_cycles == 8 * 4000
