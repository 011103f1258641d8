"""The messages that carry a stage's output to its consumers: multicast routes, flits, per-flow
keys, durations. Pure: the model (:mod:`rram_sim.engine.model`) only sends them.

A group of a producer's output goes to every tile of a consumer: one destination per distinct
router (data already on one of the consumer's tiles needs no message to that tile's router), one
multicast per chip. Several destinations on one chip form one multicast along the union of their
routes in the chip's NoC topology (:mod:`rram_sim.noc`), lasting as long as its longest
route. A source on another chip, or the input image (source tile ``-1``), arrives over the pool
of off-chip links instead.

A message takes ``hops x hop_latency_cycles + flits`` cycles (wormhole: the head pays the router
pipeline per hop, the body follows one flit per cycle), with ``flits = ceil(bits / flit_bits)``;
two tiles on one router exchange data through that router only (one hop's latency, no link).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from rram_sim.config import Config
from rram_sim.engine import timing as T
from rram_sim.noc import Topology


@dataclass(frozen=True, slots=True)
class Message:
    """One transfer of one group's data."""

    flow: tuple                     # (source tile, destination tiles): its messages follow one
                                    # another when nothing else uses its links
    links: tuple                    # (chip, from router, to router) directed links it holds,
                                    # in a global order; () off chip or through one router
    cycles: int                     # how long it holds them
    units: int                      # flits (on chip) or bytes (off chip) it carries
    destinations: int               # routers it delivers to (0 off chip)
    offchip: bool


def message_cycles(n_bits: int, hops: int, cfg: Config) -> int:
    """Latency of one message of ``n_bits`` over ``hops`` links (0 hops: through one router)."""
    if n_bits <= 0:
        return 0
    return max(1, hops) * cfg.noc.hop_latency_cycles + T.flits(n_bits, cfg)


def multicasts(src: int, dst_tiles: tuple[int, ...], bits: int, topology: Topology,
               cfg: Config) -> list[Message]:
    """The messages that move ``bits`` from global tile ``src`` (``-1``: off chip) to the tiles
    ``dst_tiles`` (global numbers: chip ``t // chip.tiles``)."""
    n_tiles = cfg.chip.tiles

    def router(tile: int) -> tuple[int, int]:
        return tile // n_tiles, topology.router_of(tile % n_tiles)

    seen = {router(src)} if src in dst_tiles else set()
    by_chip: dict[int, list[int]] = {}
    for dst in dst_tiles:
        key = router(dst)
        if dst == src or key in seen:
            continue
        seen.add(key)
        by_chip.setdefault(key[0], []).append(dst)
    out = []
    for dsts in by_chip.values():
        flow = (src, tuple(dsts))
        chip_s, chip_d = src // n_tiles, dsts[0] // n_tiles
        if src < 0 or chip_s != chip_d:
            out.append(Message(flow, (), T.offchip_cycles(bits, cfg), math.ceil(bits / 8), 0,
                               True))
            continue
        routes = [topology.route(src % n_tiles, d % n_tiles) for d in dsts]
        links = tuple((chip_s,) + link for link in sorted({lk for r in routes for lk in r}))
        cyc = message_cycles(bits, max(len(r) for r in routes), cfg)
        out.append(Message(flow, links, cyc, T.flits(bits, cfg), len(dsts), False))
    return out


def links_in_use(tiles: Iterable[int], topology: Topology, cfg: Config) -> int:
    """Directed links of the chips that hold ``tiles`` (global numbers), at least 1: the
    denominator of link utilization."""
    chips = {t // cfg.chip.tiles for t in tiles}
    return max(1, topology.n_links * len(chips))
