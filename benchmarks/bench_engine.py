"""Simulator wall time (the whole `simulate()` from a mapped bundle: planning, the run, accounting
and the report), events and events per second: ResNet-18 inference (224x224, ISAAC) and a CIFAR
VGG-16 training step (batch 64, PipeLayer), each beside its target, and both at half / double input
resolution and width.

Shows that wall time follows stage vectors (layers x output positions x images, forward and
backward), not MACs. Only layer shapes matter: weights and masks are random numpy arrays. Run:
``.venv/bin/python benchmarks/bench_engine.py`` (each case's wall time is the best of ``--repeat``
runs, default 1; ``cpu_s`` is the process's CPU time, which other jobs on the machine disturb
less; ``--json`` prints a JSON list of objects with the keys case, wall_s, events, events_per_s and
target_s; ``--base-only`` runs the target cases only). A third target case times the export of a
torch ResNet-18 at 224x224 (``pruning.models``' ``resnet18_imagenet``, random weights; tracing,
mapping, golden vectors) plus its ``simulate()``: its ``wall_s`` is both together (``--no-export``
leaves it out, and torch with it). Numba's start-up (loading the engine's
kernels, once per process) is timed first, on its own, and printed above the table (to stderr with
``--json``): no case pays it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from rram_sim import config
from rram_sim.bundle import GraphNode, map_network
from rram_sim.engine.calendar_bank import warm_up
from rram_sim.engine.plan import plan_from_bundle
from rram_sim.layout import LayerSpec
from rram_sim.simulate import simulate


def resnet18(res: int, width: float):
    specs, g = [], [GraphNode("input", "input", [], {"shape": [3, res, res]})]
    w = [max(1, int(c * width)) for c in (64, 128, 256, 512)]
    h = (res + 2 * 3 - 7) // 2 + 1
    specs.append(LayerSpec("conv1", "conv", (w[0], 3, 7, 7), (3, res, res), (2, 2), (3, 3)))
    g += [GraphNode("conv1", "conv", ["input"]), GraphNode("r1", "relu", ["conv1"]),
          GraphNode("pool1", "maxpool", ["r1"], {"kernel": 3, "stride": 2, "padding": 1})]
    h = (h + 2 - 3) // 2 + 1
    prev, cin = "pool1", w[0]
    for stage, cout in enumerate(w):
        for blk in range(2):
            s = 2 if stage > 0 and blk == 0 else 1
            n = f"s{stage}b{blk}"
            ho = (h + 2 - 3) // s + 1
            specs += [LayerSpec(f"{n}c1", "conv", (cout, cin, 3, 3), (cin, h, h), (s, s), (1, 1)),
                      LayerSpec(f"{n}c2", "conv", (cout, cout, 3, 3), (cout, ho, ho), (1, 1),
                                (1, 1))]
            g += [GraphNode(f"{n}c1", "conv", [prev]), GraphNode(f"{n}r1", "relu", [f"{n}c1"]),
                  GraphNode(f"{n}c2", "conv", [f"{n}r1"])]
            skip = prev
            if s != 1 or cin != cout:
                specs.append(LayerSpec(f"{n}ds", "conv", (cout, cin, 1, 1), (cin, h, h), (s, s)))
                g.append(GraphNode(f"{n}ds", "conv", [prev]))
                skip = f"{n}ds"
            g += [GraphNode(f"{n}add", "add", [f"{n}c2", skip]),
                  GraphNode(f"{n}r2", "relu", [f"{n}add"])]
            prev, cin, h = f"{n}r2", cout, ho
    g += [GraphNode("gap", "avgpool", [prev], {"kernel": h}), GraphNode("flat", "flatten", ["gap"])]
    specs.append(LayerSpec("fc", "linear", (1000, cin), (cin,)))
    g.append(GraphNode("fc", "linear", ["flat"]))
    return specs, g


def vgg16(res: int, width: float):
    cfgs = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    specs, g = [], [GraphNode("input", "input", [], {"shape": [3, res, res]})]
    prev, cin, h, i = "input", 3, res, 0
    for v in cfgs:
        if v == "M":
            if h < 2:       # half resolution: the last pool has nothing left to halve
                continue
            g.append(GraphNode(f"p{i}", "maxpool", [prev], {"kernel": 2}))
            prev, h = f"p{i}", h // 2
            continue
        i += 1
        c = max(1, int(v * width))
        specs.append(LayerSpec(f"c{i}", "conv", (c, cin, 3, 3), (cin, h, h), (1, 1), (1, 1)))
        g += [GraphNode(f"c{i}", "conv", [prev]), GraphNode(f"r{i}", "relu", [f"c{i}"])]
        prev, cin = f"r{i}", c
    g.append(GraphNode("flat", "flatten", [prev]))
    fin = cin * h * h
    hid = max(1, int(512 * width))
    specs += [LayerSpec("fc1", "linear", (hid, fin), (fin,)),
              LayerSpec("fc2", "linear", (hid, hid), (hid,)),
              LayerSpec("fc3", "linear", (10, hid), (hid,))]
    g += [GraphNode("fc1", "linear", ["flat"]), GraphNode("r14", "relu", ["fc1"]),
          GraphNode("fc2", "linear", ["r14"]), GraphNode("r15", "relu", ["fc2"]),
          GraphNode("fc3", "linear", ["r15"])]
    return specs, g


# (case, builder, resolution, chip, pass, images, target wall time in s)
BASES = [("resnet18-inf", resnet18, 224, "isaac", "inference", 1, 5.0),
         ("vgg16-train", vgg16, 32, "pipelayer", "training", 64, 30.0)]


def run(name, builder, res, width, chip, mode, batch, repeat=1, target=None):
    cfg = config.preset(chip)
    specs, g = builder(res, width)
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(s.weight_shape).astype(np.float32) for s in specs]
    masks = [rng.random(s.weight_shape) < 0.5 for s in specs]
    bundle = map_network(specs, ws, cfg, "dense", masks=masks, graph=g, allow_multi_chip=True)
    wall = cpu = float("inf")
    for _ in range(repeat):   # the whole simulate(): planning, the run, accounting, the report
        t0, c0 = time.perf_counter(), time.process_time()
        rep = simulate(bundle, cfg, mode, batch=batch)
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    macs = sum(int(np.prod(s.weight_shape)) * s.output_positions for s in specs) * batch
    # stage vectors: every stage's output positions, per image; a training step also runs an
    # error stage (shaped like its input) for every stage but the input
    stages = plan_from_bundle(bundle, cfg)
    vec = sum(s.positions for s in stages)
    if mode == "training":
        by_name = {s.name: s for s in stages}
        vec += sum(by_name[s.inputs[0]].positions for s in stages if s.op != "input")
    events = int(rep.runs[mode]["events"])
    return {"case": f"{name} res={res} width={width}", "wall_s": wall, "cpu_s": cpu,
            "events": events,
            "events_per_s": events / wall, "target_s": target, "macs": macs,
            "vectors": vec * batch}


def run_export(repeat=1, target=10.0):
    """A torch ResNet-18 (ImageNet stem) at 224x224 on ``isaac``: export_bundle, then simulate()."""
    import torch

    from pruning.export import export_bundle
    from pruning.models import build_model

    torch.manual_seed(0)
    model = build_model("resnet18_imagenet", num_classes=1000, image_size=224).eval()
    x = torch.randn(1, 3, 224, 224)
    cfg = config.preset("isaac")
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        bundle = export_bundle(model, None, cfg, "dense", x, allow_multi_chip=True)
        t1 = time.perf_counter()
        rep = simulate(bundle, cfg, "inference", batch=1)
        t2 = time.perf_counter()
        if t2 - t0 < wall:
            split = (t1 - t0, t2 - t1)
        wall = min(wall, t2 - t0)
        cpu = min(cpu, time.process_time() - c0)
    stages = plan_from_bundle(bundle, cfg)
    macs = sum(int(np.prod(lay.spec.weight_shape)) * lay.spec.output_positions
               for lay in bundle.layers)
    events = int(rep.runs["inference"]["events"])
    return {"case": "resnet18-export res=224 width=1.0", "wall_s": wall, "cpu_s": cpu,
            "events": events, "events_per_s": events / wall, "target_s": target, "macs": macs,
            "vectors": sum(s.positions for s in stages), "export_s": split[0],
            "simulate_s": split[1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs per case; the best wall time")
    ap.add_argument("--json", action="store_true", help="print the figures as a JSON list")
    ap.add_argument("--base-only", action="store_true", help="only the target cases")
    ap.add_argument("--no-export", action="store_true",
                    help="leave out the export case (and torch)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    warm_up()
    jit = (f"Numba start-up (the engine's kernels, once per process, in no case): "
           f"{time.perf_counter() - t0:.2f} s")
    cases = []
    for name, b, res, chip, mode, batch, target in BASES:
        base = run(name, b, res, 1.0, chip, mode, batch, args.repeat, target)
        cases.append((base, base))
        if args.base_only:
            continue
        for r, w in [(res // 2, 1.0), (res * 2, 1.0), (res, 0.5), (res, 2.0)]:
            cases.append((run(name, b, r, w, chip, mode, batch, args.repeat), base))
    if not args.no_export:
        try:
            exp = run_export(args.repeat)
        except ImportError as exc:      # no torch: the front-end is not installed
            jit += f"\nExport case left out: {exc}"
        else:
            cases.append((exp, exp))
            jit += (f"\nExport + simulate of the torch ResNet-18: export {exp['export_s']:.2f} s, "
                    f"simulate {exp['simulate_s']:.2f} s")
    if args.json:
        keys = ("case", "wall_s", "events", "events_per_s", "target_s")
        print(json.dumps([{k: c[k] for k in keys} for c, _ in cases], indent=1))
        print(jit, file=sys.stderr)
        return
    print(jit)
    print(f"{'case':33s} {'wall_s':>7s} {'cpu_s':>6s} {'target':>6s} {'events':>8s} "
          f"{'events/s':>8s} {'ev/cpu_s':>8s} {'vectors':>8s} {'MACs':>8s} {'wall x':>6s} "
          f"{'cpu x':>6s} {'vec x':>6s} {'MACs x':>6s}")
    for c, b in cases:
        tgt = f"{c['target_s']:6.0f}" if c["target_s"] else f"{'':6s}"
        print(f"{c['case']:33s} {c['wall_s']:7.2f} {c['cpu_s']:6.2f} {tgt} {c['events']:8d} "
              f"{c['events_per_s']:8.0f} {c['events'] / c['cpu_s']:8.0f} {c['vectors']:8d} "
              f"{c['macs']:8.2g} {c['wall_s'] / b['wall_s']:6.2f} "
              f"{c['cpu_s'] / b['cpu_s']:6.2f} {c['vectors'] / b['vectors']:6.2f} "
              f"{c['macs'] / b['macs']:6.2f}")


if __name__ == "__main__":
    main()
