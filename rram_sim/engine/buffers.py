"""How many groups (vectors; input rows for the network input) the buffer of an edge holds (the
capacity of the model's channel between two stages): what bounds how far a producer runs ahead of
its consumer. Pure."""

from __future__ import annotations

from rram_sim.config import Config
from rram_sim.engine.backward import Edge
from rram_sim.engine.plan import Stage


def group_capacity(producer: Stage, first_need: int, runs_ahead: bool, cfg: Config) -> int:
    """Groups of ``producer`` a consumer's eDRAM buffers: what ``tile.edram_kb`` holds of them,
    at least the consumer's first window (``first_need`` groups) plus one; a producer that may
    run a whole image ahead (``runs_ahead``: it forks to a slower branch, as a residual does, or
    the edge is backward) gets room for a whole image."""
    group_bytes = max(1, producer.group_values(0) * cfg.precision.input_bits // 8)
    edram = cfg.tile.edram_kb * 1024 // group_bytes
    cap = max(first_need + 1, min(producer.groups, edram))
    if runs_ahead:
        cap = max(cap, producer.groups + 1)
    return cap


def edge_capacity(edge: Edge, forks: bool, n_images: int, cfg: Config) -> int:
    """Capacity of ``edge``'s buffer in a run of ``n_images``; ``forks``: its producer feeds
    more than one stage. Across a reload boundary the whole batch waits for the next segment."""
    p = edge.producer
    if edge.consumer.segment != p.segment:
        return p.groups * n_images + 1
    return group_capacity(p, edge.needs[0], forks or edge.backward, cfg)
