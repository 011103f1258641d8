"""The occupancy of one component: a calendar of the cycles it is reserved. Pure (no SimPy).

Each component (a tile's eDRAM port or bus, a layer copy's crossbars, ADC bank or index unit, a
NoC link, an off-chip link, ...) serves one hold at a time. A vector reserves its phases on their
components when it enters its stage; a hold goes into the earliest gap of the calendar that
starts no earlier than the hold may begin and is long enough. Holds requested in order on a unit
nobody else uses therefore follow one another exactly (a flow shop); on a shared unit a later
request may fill an earlier gap (the unit does not idle while work that is ready waits).

The calendar keeps its live reservations (at most :data:`LIVE` intervals); older ones are
retired into the busy history (for the report's timeline: adjacent intervals merged; a history
grown past twice :data:`~rram_sim.engine.records.MAX_INTERVALS` is merged across ever longer idle
gaps, and the report gets at most that many, merged across their smallest gaps)
and no later hold starts before the end of a retired interval (a conservative floor, so nothing
is ever booked twice).
"""

from __future__ import annotations

from bisect import bisect_right

from rram_sim.engine.records import MAX_INTERVALS

LIVE = 64


class Calendar:
    """Reservations of one component (see the module docstring)."""

    __slots__ = ("starts", "ends", "floor", "busy", "history", "merge_gap")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.floor = 0                          # no hold starts before this (retired intervals)
        self.busy = 0                           # cycles held, all holds
        self.history: list[list[int]] = []      # retired busy intervals [start, end]
        self.merge_gap = 0                      # history: intervals this close are merged

    def earliest(self, lo: int, cycles: int) -> int:
        """The first cycle ``>= lo`` from which the unit is free for ``cycles``."""
        t = lo if lo > self.floor else self.floor
        ends = self.ends
        n = len(ends)
        if not n or t >= ends[-1]:
            return t
        starts = self.starts
        i = bisect_right(ends, t)
        while i < n and starts[i] < t + cycles:
            if ends[i] > t:
                t = ends[i]
            i += 1
        return t

    def book(self, t: int, cycles: int) -> None:
        """Reserve ``[t, t + cycles)`` (free: :meth:`earliest` returned ``t``)."""
        e = t + cycles
        self.busy += cycles
        starts, ends = self.starts, self.ends
        n = len(ends)
        if not n or t >= ends[-1]:          # the common case: after everything booked
            if n and ends[-1] == t:
                ends[-1] = e
            else:
                starts.append(t)
                ends.append(e)
                if n + 1 > LIVE:
                    self._retire()
            return
        i = bisect_right(ends, t)
        if i > 0 and ends[i - 1] == t:
            if i < n and starts[i] == e:
                ends[i - 1] = ends[i]
                del starts[i], ends[i]
            else:
                ends[i - 1] = e
        elif i < n and starts[i] == e:
            starts[i] = t
        else:
            starts.insert(i, t)
            ends.insert(i, e)

    def take(self, lo: int, cycles: int) -> int:
        """Book the earliest ``cycles`` from ``lo``; returns the start."""
        ends = self.ends
        if ends and lo >= ends[-1] and lo >= self.floor:   # after everything booked
            self.busy += cycles
            if ends[-1] == lo:
                ends[-1] = lo + cycles
            else:
                self.starts.append(lo)
                ends.append(lo + cycles)
                if len(ends) > LIVE:
                    self._retire()
            return lo
        t = self.earliest(lo, cycles)
        self.book(t, cycles)
        return t

    def _retire(self) -> None:
        half = LIVE // 2
        hist = self.history
        gap = self.merge_gap
        for s, e in zip(self.starts[:half], self.ends[:half]):
            if hist and s - hist[-1][1] <= gap:
                hist[-1][1] = e
            else:
                hist.append([s, e])
        self.floor = max(self.floor, self.ends[half - 1])
        del self.starts[:half], self.ends[:half]
        if len(hist) > 2 * MAX_INTERVALS:
            # a long history: merge across gaps twice as long as before, until it is short
            while len(hist) > MAX_INTERVALS:
                gap = max(1, 2 * gap)
                hist = merge_within(hist, gap)
            self.history, self.merge_gap = hist, gap

    def intervals(self) -> list[tuple[int, int]]:
        """Every busy interval, adjacent ones merged, at most ``MAX_INTERVALS``."""
        out = [list(iv) for iv in self.history]
        for s, e in zip(self.starts, self.ends):
            if out and out[-1][1] >= s:
                out[-1][1] = max(out[-1][1], e)
            else:
                out.append([s, e])
        return [(s, e) for s, e in coarsen(out, MAX_INTERVALS)]


def coarsen(intervals: list[list[int]], limit: int) -> list[list[int]]:
    """Merge the intervals across their smallest gaps until at most ``limit`` remain (a bar then
    spans idle gaps shorter than any kept one)."""
    if len(intervals) <= limit:
        return intervals
    gaps = sorted(intervals[i + 1][0] - intervals[i][1] for i in range(len(intervals) - 1))
    cut = gaps[len(intervals) - limit - 1]      # merge every gap up to this size
    out = [list(intervals[0])]
    for s, e in intervals[1:]:
        if s - out[-1][1] <= cut:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def reserve_vector(ops, ready: int) -> tuple[int, int, int]:
    """Reserve one vector's phases ``ops`` (``(calendar, cycles, lead, tail)`` each, see
    :class:`rram_sim.engine.timing.Phase`) from cycle ``ready``: each begins when the previous one
    ends (``lead < 0``) or ``lead`` cycles after it begins (a streaming phase, which also ends at
    least ``tail`` cycles after the previous one), and when its calendar is free. Returns (start
    of the first phase, end of the first phase, end of the last); no phase: all ``ready``."""
    ps = pe = ready
    first_start = first_end = -1
    for cal, cyc, lead, tail in ops:
        lo = pe if lead < 0 else ps + lead
        ends = cal.ends
        if ends and lo > ends[-1] and lo >= cal.floor:
            # the common case, :meth:`Calendar.take` after everything booked, inlined
            cal.busy += cyc
            cal.starts.append(lo)
            ends.append(lo + cyc)
            if len(ends) > LIVE:
                cal._retire()
            t = lo
        else:
            t = cal.take(lo, cyc)
        e = t + cyc
        if lead >= 0 and e < pe + tail:
            e = pe + tail
        if first_end < 0:
            first_start, first_end = t, e
        ps, pe = t, e
    if first_end < 0:
        return ready, ready, ready
    return first_start, first_end, pe


def merge_within(intervals: list[list[int]], gap: int) -> list[list[int]]:
    """Merge neighbouring intervals separated by at most ``gap`` cycles."""
    out = [list(intervals[0])]
    for s, e in intervals[1:]:
        if s - out[-1][1] <= gap:
            out[-1][1] = e
        else:
            out.append([s, e])
    return out


def reserve_all(calendars: list[Calendar], lo: int, cycles: int) -> int:
    """Book the earliest ``cycles`` from ``lo`` free on every one of ``calendars`` at once (a
    message holding every link of its route); returns the start."""
    if len(calendars) == 1:
        return calendars[0].take(lo, cycles)
    t = lo
    while True:
        t2 = t
        for c in calendars:
            t2 = c.earliest(t2, cycles)
        if t2 == t:
            break
        t = t2
    for c in calendars:
        c.book(t, cycles)
    return t
