"""One read plan per layer: the reads the engine's clock waits for are the reads the kernels count.

For every mapping scheme x chip preset x pass, the OU reads and crossbar activations implied by the
timing model's geometry (per crossbar, per input chunk) must equal the counts of the kernels
actually run on inputs whose every chunk is nonzero (so that the forward kernel's data-driven tally
of the reads it really makes is used, not the closed form)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rram_sim import config, kernels
from rram_sim.crossbar.readplan import read_plan
from rram_sim.engine import timing as T
from rram_sim.layout import SCHEMES, LayerSpec
from rram_sim.mapping import map_layer

PRESETS = ("edge", "isaac", "pipelayer")


def all_chunks_nonzero(cfg, shape) -> np.ndarray:
    """Inputs whose every ``dac.bits`` chunk is nonzero: 1 in each low chunk, -1 on top (in range:
    the value is at least ``-2**((t-1) * dac.bits) >= -2**(input_bits-1)``)."""
    t, db = cfg.input_cycles, cfg.dac.bits
    v = sum(1 << (j * db) for j in range(t - 1)) - (1 << ((t - 1) * db))
    return np.full(shape, v, dtype=np.int64)


@st.composite
def layers(draw):
    cfg = config.preset(draw(st.sampled_from(PRESETS)))
    scheme = draw(st.sampled_from(SCHEMES))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    if draw(st.booleans()):
        c, n, k = draw(st.integers(1, 24)), draw(st.integers(1, 40)), draw(st.sampled_from([1, 3]))
        spec = LayerSpec("l", "conv", (n, c, k, k), (c, 4, 4), (1, 1), (k // 2, k // 2))
    else:
        k_in, n = draw(st.integers(1, 300)), draw(st.integers(1, 80))
        spec = LayerSpec("l", "linear", (n, k_in), (k_in,))
    w = rng.normal(size=spec.weight_shape)
    density = draw(st.sampled_from([0.05, 0.3, 1.0]))
    mask = rng.random(spec.weight_shape) < density
    return cfg, map_layer(spec, w, cfg, scheme, mask=mask)


@settings(max_examples=40, deadline=None)
@given(layers(), st.integers(1, 3))
def test_timing_reads_equal_kernel_counts(setup, n_vec):
    cfg, lay = setup
    geom = T.geometry_from_layout(lay, cfg)
    t = cfg.input_cycles
    k, n = lay.spec.matrix_shape
    # forward: the kernel's tally of the reads it made (skip mode, no chunk is zero)
    fwd = kernels.forward(lay, all_chunks_nonzero(cfg, (n_vec, k)), cfg, skip_zero_inputs=True)
    assert fwd.counts.ou_activations == sum(geom.ou_reads_per_crossbar) * t * n_vec
    assert fwd.counts == kernels.forward_counts(lay, cfg, n_vec)
    busy = sum(r > 0 for r in geom.ou_reads_per_crossbar)
    assert fwd.counts.crossbar_activations == busy * t * n_vec
    # transposed: one read per slice position of each OU column group
    bwd = kernels.transposed(lay, all_chunks_nonzero(cfg, (n_vec, n)), cfg)
    assert bwd.counts.ou_activations == sum(geom.ou_reads_per_crossbar_t) * t * n_vec
    busy_t = sum(r > 0 for r in geom.ou_reads_per_crossbar_t)
    slices = cfg.columns_per_weight
    assert bwd.counts.crossbar_activations == busy_t * slices * t * n_vec
    # the vector waits for the busiest crossbar's reads of its own pass (reads and conversions)
    for phases, reads in ((T.forward_phases(geom, cfg), geom.ou_reads_per_crossbar),
                          (T.transposed_phases(geom, cfg), geom.ou_reads_per_crossbar_t)):
        rc = [p for p in phases if p.unit in ("xbar", "adc")]
        assert T.phases_latency(rc) == T.read_sequence_cycles(t * max(reads, default=0), cfg)


def test_transposed_step_reads_every_slice():
    """The shipped ``ou`` example's conv2: the transposed pass reads each OU column group once per
    slice position, so its step is longer than the forward one (both derived from the plan)."""
    from rram_sim.bundle import load_bundle
    from rram_sim.examples import example_path

    b = load_bundle(example_path("ou"))
    lay = b.layer("conv2")
    cfg = b.config
    geom = T.geometry_from_layout(lay, cfg)
    fwd = read_plan(lay, cfg, with_cells=False)
    bwd = read_plan(lay, cfg, transposed=True, with_cells=False)
    assert bwd.counts(cfg, 1).ou_activations == 4 * fwd.counts(cfg, 1).ou_activations
    assert geom.reads_per_chunk_t > geom.reads_per_chunk
    assert (T.phases_latency(T.transposed_phases(geom, cfg))
            > T.phases_latency(T.forward_phases(geom, cfg)))


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(PRESETS), st.integers(1, 200), st.integers(1, 70), st.integers(0, 2 ** 31))
def test_same_physical_work_counts_the_same_in_every_scheme(preset, k_in, n, seed):
    """Identical unpruned weights mapped dense, compact and ou: identical DAC drives, OU and
    crossbar-array activations, conversions, sample-and-holds and shift-adds in both passes; only
    the index lookups (and the digital partial-sum adds of separate units) differ."""
    cfg = config.preset(preset)
    spec = LayerSpec("l", "linear", (n, k_in), (k_in,))
    rng = np.random.default_rng(seed)
    # unpruned: magnitudes in [0.5, 1] so that no weight quantizes to zero
    w = rng.choice([-1.0, 1.0], size=spec.weight_shape) * rng.uniform(0.5, 1.0, spec.weight_shape)
    same = ("dac_drives", "ou_activations", "adc_conversions", "sample_holds", "shift_adds")
    # kernel_rows spreads narrow layers over more crossbars (MNSIM's one-slice arrays), so it
    # does more physical work by design (tests/test_kernel_rows.py compares it with dense)
    schemes = [s for s in SCHEMES if s != "kernel_rows"]
    for counts in (kernels.forward_counts, kernels.transposed_counts):
        got = {s: counts(map_layer(spec, w, cfg, s), cfg, 2) for s in schemes}
        for field in same:
            vals = {s: getattr(c, field) for s, c in got.items()}
            assert len(set(vals.values())) == 1, (counts.__name__, field, vals)
