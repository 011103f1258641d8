"""Identical parallel units computed inside one reservation equal simulating them one by one, and
the components' calendars (rram_sim.engine.calendar) grant holds as documented.

The engine reserves one vector's crossbar reads and conversions as two phases: the reads of the
busiest crossbar of the layer (``chunks x max reads x t_read``) and the conversions streaming
behind them (``chunks x reads x t_adc``, one read after the reads begin, one conversion after they
end). Here the same vectors go through every crossbar and every ADC read by read, conversion by
conversion, with one sample-and-hold per crossbar, and the conversions end on the same cycles."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rram_sim.engine.calendar import LIVE, Calendar, coarsen, reserve_all, reserve_vector


def _reads_one_by_one(arrivals, reads_per_crossbar, tr, ta):
    """Every read and conversion of every vector on every crossbar (its own array, its own ADC,
    one sample-and-hold between them): a read needs the array and a free sample-and-hold (the
    previous sample taken by the ADC); a conversion needs its read done and the ADC free. A
    vector's conversions are done when every crossbar's last conversion is; a crossbar starts a
    vector when the vector has arrived. Returns each vector's end."""
    ends = []
    state = [(0, 0, 0) for _ in reads_per_crossbar]   # array free, last conversion start, end
    for a in arrivals:
        done = a
        for x, n in enumerate(reads_per_crossbar):
            array_free, conv_start, conv_end = state[x]
            t = max(a, array_free)
            for _ in range(n):
                t = max(t, conv_start)            # the sample-and-hold is free again
                read_end = t + tr
                conv_start = max(read_end, conv_end)
                conv_end = conv_start + ta
                t = read_end
            state[x] = (t, conv_start, conv_end)
            done = max(done, conv_end)
        ends.append(done)
    return ends


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.integers(1, 9),
       st.integers(1, 9), st.lists(st.integers(0, 40), min_size=1, max_size=6))
def test_crossbars_and_adcs_in_one_reservation_equal_one_by_one(reads, tr, ta, gaps):
    arrivals = list(np.cumsum(gaps))
    slow = max(reads)
    xbar, adc = Calendar(), Calendar()
    ops = ((xbar, slow * tr, -1, 0), (adc, slow * ta, tr, ta))
    ends = [reserve_vector(ops, int(a))[2] for a in arrivals]
    assert ends == _reads_one_by_one(arrivals, reads, tr, ta)


def test_reserve_vector_by_hand():
    a, b, c = Calendar(), Calendar(), Calendar()
    ops = ((a, 5, -1, 0), (b, 10, 2, 3), (c, 4, -1, 0))
    # a: 0..5; b streams 2 after a begins: 2..12 (and at least 3 after a ends); c: 12..16
    assert reserve_vector(ops, 0) == (0, 5, 16)
    # the next vector: a 5..10, b from 7 but busy until 12: 12..22, c 22..26
    assert reserve_vector(ops, 0) == (5, 10, 26)
    assert reserve_vector((), 7) == (7, 7, 7)


def test_calendar_fills_gaps_first_come_first_served():
    c = Calendar()
    assert c.take(10, 5) == 10                    # 10..15
    assert c.take(0, 4) == 0                      # fits before: 0..4
    assert c.take(3, 4) == 4                      # 4..8 fits the gap 4..10
    assert c.take(6, 3) == 15                     # the gap 8..10 is too short: after 15
    assert c.busy == 16
    assert c.intervals() == [(0, 8), (10, 18)]    # adjacent holds merged


def test_reserve_all_waits_for_every_link():
    x, y = Calendar(), Calendar()
    x.take(0, 10)
    y.take(12, 5)
    # free on both for 4 cycles: x from 10, y busy 12..17: from 17
    assert reserve_all([x, y], 0, 4) == 17
    assert reserve_all([x, y], 0, 2) == 10        # 10..12 fits before y's hold


def test_retired_history_is_bounded_and_never_double_booked():
    c = Calendar()
    for i in range(10 * LIVE):
        c.take(3 * i, 2)                           # 2 busy, 1 idle, many times
    assert len(c.starts) <= LIVE
    assert c.take(0, 1) >= c.floor > 0            # never before a retired reservation
    assert len(c.intervals()) <= 256
    merged = coarsen([[0, 1], [2, 3], [10, 11], [12, 13]], 2)
    assert merged == [[0, 3], [10, 13]]
