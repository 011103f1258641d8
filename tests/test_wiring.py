"""The run's wiring (rram_sim.engine.wiring): passes in order with their records, edges with
their buffers and messages, every image's events booked once; and the engine's pure modules
import no SimPy (only rram_sim.engine.model sequences)."""

import ast
from pathlib import Path

import numpy as np

from rram_sim import config
from rram_sim.engine import timing as T
from rram_sim.engine.backward import edges
from rram_sim.engine.buffers import edge_capacity
from rram_sim.engine.plan import build_plan
from rram_sim.engine.wiring import wire
from rram_sim.graph import GraphNode
from rram_sim.layout import LayerSpec
from rram_sim.mapping import map_layer
from rram_sim.noc import topology_for

EDGE = config.preset("edge")
ROOT = Path(__file__).resolve().parents[1]


def _chain(cfg):
    rng = np.random.default_rng(0)
    graph = [GraphNode("input", "input", [], {"shape": (4, 6, 2)})]
    layouts, prev = {}, "input"
    for name in ("c1", "c2"):
        spec = LayerSpec(name, "conv", (4, 4, 1, 1), (4, 6, 2))
        layouts[name] = map_layer(spec, rng.standard_normal(spec.weight_shape), cfg)
        graph.append(GraphNode(name, "conv", [prev]))
        prev = name
    return build_plan(graph, layouts, cfg, {"c1": (0,), "c2": (5,)})


def test_training_wiring():
    stages = _chain(EDGE)
    w = wire(stages, EDGE, topology_for(EDGE), 2, True)
    assert [(p.stage.name, p.backward) for p in w.passes] == [
        ("input", False), ("c1", False), ("c2", False), ("c2", True), ("c1", True)]
    assert [p.record.pass_name for p in w.passes] == ["forward"] * 3 + ["backward"] * 2
    assert [p.record.first_layer for p in w.passes] == [False] * 4 + [True]
    assert [p.is_sink for p in w.passes] == [False, False, True, False, False]
    assert w.passes[0].input_msgs is not None and w.passes[1].input_msgs is None
    es, _ = edges(stages, True)
    assert [we.edge.needs for we in w.edges] == [e.needs for e in es]
    assert [we.capacity for we in w.edges] == [edge_capacity(e, False, 2, EDGE) for e in es]
    # c1 (tile 0) -> c2 (tile 5): 2 links on the 4 x 4 mesh, one message a vector, 12 vectors
    # an image, both images
    c1c2 = w.edges[1]
    assert len(c1c2.msgs) == 1 and len(c1c2.msgs[0].links) == 2
    c1 = w.passes[1].record
    assert c1.counts.noc_flit_hops == 2 * c1.counts.noc_flits == 2 * 2 * 12 * c1c2.msgs[0].units
    assert c1.busy_cycles["noc"] == 2 * 12 * c1c2.msgs[0].cycles
    # the phases of one step, booked for every vector of both images
    assert w.passes[1].phases == T.forward_phases(stages[1].geom, EDGE)
    assert c1.busy_cycles["crossbar"] == 2 * 12 * sum(
        p.work for p in w.passes[1].phases if p.unit == "xbar")
    # the input's image arrives off chip row by row, its bytes booked on the input's record
    assert w.passes[0].record.counts.offchip_bytes == 2 * 6 * sum(
        m.units for m in w.passes[0].input_msgs)


def test_pure_engine_modules_import_no_simpy():
    pure = ["backward", "buffers", "calendar", "counting", "messages", "plan", "records",
            "timing", "wiring", "work"]
    files = [ROOT / "rram_sim" / "engine" / f"{m}.py" for m in pure]
    files += sorted((ROOT / "rram_sim" / "noc").glob("*.py"))
    for f in files:
        names = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names.add(node.module or "")
        assert not {n for n in names if n.split(".")[0] == "simpy"
                    or n == "rram_sim.engine.model"}, f.name
