"""Every component's calendar in one array, and one vector's reservations in one Numba call.

:class:`CalendarBank` keeps the calendars of a run (:mod:`.calendar` defines what a calendar does)
as rows of one int64 array and reserves all that one vector does when it enters its stage in a
single jitted call (:meth:`CalendarBank.step`): its input messages (the network input: over the
off-chip links), its phases (:func:`.calendar.reserve_vector`), and its messages to the first
consumer (:func:`.calendar.reserve_all` over a route's links, or the off-chip link free first).
The kernels are a line-by-line translation of :class:`.calendar.Calendar` (gap search, booking,
retiring live reservations into the bounded history), so every hold lands on the same cycle;
:class:`PyCalendarBank` runs the same interface on :class:`.calendar.Calendar` objects, and
tests/test_calendar_bank.py checks that the two agree on random holds and on whole runs.

A vector's work is compiled once into a *program* (:meth:`CalendarBank.program`), a flat int64
array::

    [n_refs, n_holds, cal ..., n_in, msg ..., n_ops, (cal, cycles, lead, tail) ..., n_out, msg ...]

with a message ``[kind, cycles, n_cals, cal ...]`` (``kind`` 0: every listed link at once, none:
through one router; 1: the pool of off-chip links, the one free first); ``cal ...`` after
``n_holds`` lists every calendar the program may book and ``n_holds`` bounds the holds it books
(one new live interval each at most), to check there is room first.

A calendar row: ``[live, floor, busy, merge_gap, n_history, starts (cap), ends (cap), history
(2 x HCAP: start, end)]``; ``cap`` (live room) grows when a program could overflow it.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from rram_sim.engine.calendar import LIVE, Calendar, coarsen, reserve_all, reserve_vector
from rram_sim.engine.records import MAX_INTERVALS

HDR = 5                                   # live, floor, busy, merge_gap, n_history
HALF = LIVE // 2
HCAP = 2 * MAX_INTERVALS + HALF           # history: at most this many before it is merged
_N, _FLOOR, _BUSY, _GAP, _HN = range(HDR)
MSG_LINKS, MSG_POOL = 0, 1


@nb.njit(cache=True, inline="always")
def _cap(cal):
    return (cal.shape[1] - HDR - 2 * HCAP) // 2


@nb.njit(cache=True, inline="always")
def _bisect_right(cal, c, lo_col, n, t):
    """First ``i < n`` with ``cal[c, lo_col + i] > t`` (or ``n``)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if t < cal[c, lo_col + mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@nb.njit(cache=True)
def _earliest(cal, c, lo, cycles):
    """:meth:`.calendar.Calendar.earliest`."""
    cap = _cap(cal)
    S, E = HDR, HDR + cap
    fl = cal[c, _FLOOR]
    t = lo if lo > fl else fl
    n = cal[c, _N]
    if n == 0 or t >= cal[c, E + n - 1]:
        return t
    i = _bisect_right(cal, c, E, n, t)
    while i < n and cal[c, S + i] < t + cycles:
        if cal[c, E + i] > t:
            t = cal[c, E + i]
        i += 1
    return t


@nb.njit(cache=True)
def _retire(cal, c):
    """:meth:`.calendar.Calendar._retire`: the oldest half of the live holds into the history."""
    cap = _cap(cal)
    S, E, H = HDR, HDR + cap, HDR + 2 * cap
    gap = cal[c, _GAP]
    hn = cal[c, _HN]
    for j in range(HALF):
        s, e = cal[c, S + j], cal[c, E + j]
        if hn > 0 and s - cal[c, H + 2 * hn - 1] <= gap:
            cal[c, H + 2 * hn - 1] = e
        else:
            cal[c, H + 2 * hn] = s
            cal[c, H + 2 * hn + 1] = e
            hn += 1
    last = cal[c, E + HALF - 1]
    if last > cal[c, _FLOOR]:
        cal[c, _FLOOR] = last
    n = cal[c, _N]
    for j in range(HALF, n):
        cal[c, S + j - HALF] = cal[c, S + j]
        cal[c, E + j - HALF] = cal[c, E + j]
    cal[c, _N] = n - HALF
    if hn > 2 * MAX_INTERVALS:
        # a long history: merge across gaps twice as long as before, until it is short
        while hn > MAX_INTERVALS:
            gap = max(1, 2 * gap)
            k = 0
            for j in range(1, hn):
                if cal[c, H + 2 * j] - cal[c, H + 2 * k + 1] <= gap:
                    cal[c, H + 2 * k + 1] = cal[c, H + 2 * j + 1]
                else:
                    k += 1
                    cal[c, H + 2 * k] = cal[c, H + 2 * j]
                    cal[c, H + 2 * k + 1] = cal[c, H + 2 * j + 1]
            hn = k + 1
        cal[c, _GAP] = gap
    cal[c, _HN] = hn


@nb.njit(cache=True)
def _append(cal, c, t, e):
    """A hold ``[t, e)`` after everything booked (extending the last one when they touch)."""
    cap = _cap(cal)
    S, E = HDR, HDR + cap
    n = cal[c, _N]
    if n > 0 and cal[c, E + n - 1] == t:
        cal[c, E + n - 1] = e
        return
    cal[c, S + n] = t
    cal[c, E + n] = e
    cal[c, _N] = n + 1
    if n + 1 > LIVE:
        _retire(cal, c)


@nb.njit(cache=True)
def _book(cal, c, t, cycles):
    """:meth:`.calendar.Calendar.book`."""
    cap = _cap(cal)
    S, E = HDR, HDR + cap
    e = t + cycles
    cal[c, _BUSY] += cycles
    n = cal[c, _N]
    if n == 0 or t >= cal[c, E + n - 1]:
        _append(cal, c, t, e)
        return
    i = _bisect_right(cal, c, E, n, t)
    if i > 0 and cal[c, E + i - 1] == t:
        if i < n and cal[c, S + i] == e:
            cal[c, E + i - 1] = cal[c, E + i]
            for j in range(i + 1, n):
                cal[c, S + j - 1] = cal[c, S + j]
                cal[c, E + j - 1] = cal[c, E + j]
            cal[c, _N] = n - 1
        else:
            cal[c, E + i - 1] = e
    elif i < n and cal[c, S + i] == e:
        cal[c, S + i] = t
    else:
        for j in range(n, i, -1):
            cal[c, S + j] = cal[c, S + j - 1]
            cal[c, E + j] = cal[c, E + j - 1]
        cal[c, S + i] = t
        cal[c, E + i] = e
        cal[c, _N] = n + 1


@nb.njit(cache=True)
def _take(cal, c, lo, cycles):
    """:meth:`.calendar.Calendar.take`: book the earliest ``cycles`` from ``lo``."""
    n = cal[c, _N]
    if n > 0 and lo >= cal[c, HDR + _cap(cal) + n - 1] and lo >= cal[c, _FLOOR]:
        cal[c, _BUSY] += cycles
        _append(cal, c, lo, lo + cycles)
        return lo
    t = _earliest(cal, c, lo, cycles)
    _book(cal, c, t, cycles)
    return t


@nb.njit(cache=True)
def _send_one(cal, prog, k, ready):
    """The message at ``prog[k]`` leaving at ``ready``: (its arrival, the index after it)."""
    kind, cyc, m = prog[k], prog[k + 1], prog[k + 2]
    k += 3
    if kind == MSG_POOL:          # the off-chip link free first (the first of the earliest)
        best, bt = prog[k], _earliest(cal, prog[k], ready, cyc)
        for j in range(1, m):
            tj = _earliest(cal, prog[k + j], ready, cyc)
            if tj < bt:
                best, bt = prog[k + j], tj
        t = _take(cal, best, ready, cyc)
    elif m == 1:
        t = _take(cal, prog[k], ready, cyc)
    elif m > 1:                   # :func:`.calendar.reserve_all`
        t = ready
        while True:
            t2 = t
            for j in range(m):
                t2 = _earliest(cal, prog[k + j], t2, cyc)
            if t2 == t:
                break
            t = t2
        for j in range(m):
            _book(cal, prog[k + j], t, cyc)
    else:                         # through one router: no link to hold
        t = ready
    return t + cyc, k + m


@nb.njit(cache=True)
def _send_all(cal, prog, k, ready):
    """The ``prog[k]`` messages from ``k + 1`` leaving at ``ready``: (last arrival, next index)."""
    n = prog[k]
    k += 1
    arrival = ready
    for _ in range(n):
        a, k = _send_one(cal, prog, k, ready)
        if a > arrival:
            arrival = a
    return arrival, k


@nb.njit(cache=True)
def _room(cal, prog):
    """Whether every calendar the program may book has room for all its holds; the index after
    the list."""
    n, holds = prog[0], prog[1]
    cap = _cap(cal)
    ok = True
    for j in range(2, n + 2):
        if cal[prog[j], _N] + holds + 1 > cap:
            ok = False
    return ok, n + 2


@nb.njit(cache=True)
def vector_step(cal, prog, ready):
    """One vector entering its stage at ``ready`` (see the module docstring): returns (0 or 1 when
    a calendar lacks room and nothing was booked, first phase start, first phase end, last phase
    end, arrival at the first consumer, arrival of its input messages)."""
    ok, k = _room(cal, prog)
    if not ok:
        return 1, 0, 0, 0, 0, 0
    ready, k = _send_all(cal, prog, k, ready)
    # :func:`.calendar.reserve_vector`
    n_ops = prog[k]
    k += 1
    ps = pe = ready
    first_start = first_end = -1
    for _ in range(n_ops):
        c, cyc, lead, tail = prog[k], prog[k + 1], prog[k + 2], prog[k + 3]
        k += 4
        lo = pe if lead < 0 else ps + lead
        t = _take(cal, c, lo, cyc)
        e = t + cyc
        if lead >= 0 and e < pe + tail:
            e = pe + tail
        if first_end < 0:
            first_start, first_end = t, e
        ps, pe = t, e
    if first_end < 0:
        first_start = first_end = pe = ready
    arrival, k = _send_all(cal, prog, k, pe)
    return 0, first_start, first_end, pe, arrival, ready


@nb.njit(cache=True)
def take_one(cal, c, lo, cycles):
    """:meth:`.calendar.Calendar.take` on row ``c``; -1 when the row lacks room."""
    if cal[c, _N] + 2 > _cap(cal):
        return -1
    return _take(cal, c, lo, cycles)


def _encode_msgs(routes) -> list[int]:
    out = [len(routes)]
    for kind, cyc, cals in routes:
        out += [kind, int(cyc), len(cals), *cals]
    return out


class CalendarBank:
    """The calendars of one run as rows of one array (see the module docstring). A calendar is
    named by its row index."""

    def __init__(self, live_cap: int = 2 * LIVE) -> None:
        self.cal = np.zeros((16, HDR + 2 * live_cap + 2 * HCAP), dtype=np.int64)
        self.n = 0

    def add(self) -> int:
        """A new, empty calendar: its index."""
        if self.n == self.cal.shape[0]:
            grown = np.zeros((2 * self.cal.shape[0], self.cal.shape[1]), dtype=np.int64)
            grown[:self.n] = self.cal
            self.cal = grown
        self.n += 1
        return self.n - 1

    def _grow_live(self) -> None:
        cap = (self.cal.shape[1] - HDR - 2 * HCAP) // 2
        grown = np.zeros((self.cal.shape[0], HDR + 4 * cap + 2 * HCAP), dtype=np.int64)
        grown[:, :HDR + cap] = self.cal[:, :HDR + cap]                    # header, starts
        grown[:, HDR + 2 * cap:HDR + 3 * cap] = self.cal[:, HDR + cap:HDR + 2 * cap]   # ends
        grown[:, HDR + 4 * cap:] = self.cal[:, HDR + 2 * cap:]            # history
        self.cal = grown

    @staticmethod
    def program(in_routes, ops, out_routes) -> np.ndarray:
        """One vector's work: ``in_routes`` / ``out_routes`` messages ``(kind, cycles, calendars)``
        before its phases and to its first consumer, ``ops`` its phases ``(calendar, cycles, lead,
        tail)``."""
        refs = sorted({c for _, _, cals in (*in_routes, *out_routes) for c in cals}
                      | {op[0] for op in ops})
        holds = len(ops) + sum(1 if kind == MSG_POOL else len(cals)
                               for kind, _, cals in (*in_routes, *out_routes))
        body = ([len(refs), holds, *refs] + _encode_msgs(in_routes) + [len(ops)]
                + [int(x) for op in ops for x in op] + _encode_msgs(out_routes))
        return np.asarray(body, dtype=np.int64)

    # what :meth:`step` calls: a caller in a hurry calls ``kernel(bank.cal, prog, ready)`` itself
    # and :meth:`step` only when its first value is 1
    kernel = staticmethod(vector_step)

    def step(self, prog: np.ndarray, ready: int) -> tuple[int, int, int, int, int, int]:
        """Reserve one vector (:func:`vector_step`, the live rows grown first where they lack
        room): (0, first phase start, first phase end, last phase end, arrival at the first
        consumer, arrival of its input messages)."""
        r = vector_step(self.cal, prog, ready)
        while r[0]:
            self._grow_live()
            r = vector_step(self.cal, prog, ready)
        return r

    def send(self, prog: np.ndarray, ready: int) -> int:
        """The messages of a program without phases (``program((), (), routes)``) leaving at
        ``ready``: the last arrival."""
        return self.step(prog, ready)[4]

    def take(self, c: int, lo: int, cycles: int) -> int:
        t = take_one(self.cal, c, int(lo), int(cycles))
        while t < 0:
            self._grow_live()
            t = take_one(self.cal, c, int(lo), int(cycles))
        return int(t)

    def busy(self, c: int) -> int:
        return int(self.cal[c, _BUSY])

    def intervals(self, c: int) -> list[tuple[int, int]]:
        """:meth:`.calendar.Calendar.intervals` of calendar ``c``."""
        row = self.cal[c]
        cap = (self.cal.shape[1] - HDR - 2 * HCAP) // 2
        n, hn = int(row[_N]), int(row[_HN])
        hist = row[HDR + 2 * cap:HDR + 2 * cap + 2 * hn].reshape(hn, 2).tolist()
        return _merge_live(hist, row[HDR:HDR + n].tolist(), row[HDR + cap:HDR + cap + n].tolist())


def _merge_live(out: list[list[int]], starts, ends) -> list[tuple[int, int]]:
    for s, e in zip(starts, ends):
        if out and out[-1][1] >= s:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in coarsen(out, MAX_INTERVALS)]


class PyCalendarBank:
    """:class:`CalendarBank`'s interface on :class:`.calendar.Calendar` objects (the reference the
    bank is tested against)."""

    kernel = None

    def __init__(self) -> None:
        self.cals: list[Calendar] = []

    def add(self) -> int:
        self.cals.append(Calendar())
        return len(self.cals) - 1

    def program(self, in_routes, ops, out_routes) -> tuple:
        def msgs(routes):
            return tuple((kind, int(cyc), [self.cals[c] for c in cals])
                         for kind, cyc, cals in routes)

        return (msgs(in_routes),
                tuple((self.cals[c], int(cyc), int(lead), int(tail))
                      for c, cyc, lead, tail in ops),
                msgs(out_routes))

    @staticmethod
    def _send(msgs, ready: int) -> int:
        arrival = ready
        for kind, cyc, cals in msgs:
            if kind == MSG_POOL:
                best = min(cals, key=lambda c: c.earliest(ready, cyc))
                t = best.take(ready, cyc)
            elif cals:
                t = reserve_all(cals, ready, cyc)
            else:
                t = ready
            arrival = max(arrival, t + cyc)
        return arrival

    def step(self, prog: tuple, ready: int) -> tuple[int, int, int, int, int, int]:
        in_msgs, ops, out_msgs = prog
        ready = self._send(in_msgs, ready)
        t0, first_end, pe = reserve_vector(ops, ready)
        return 0, t0, first_end, pe, self._send(out_msgs, pe), ready

    def send(self, prog: tuple, ready: int) -> int:
        return self._send(prog[2], ready)

    def take(self, c: int, lo: int, cycles: int) -> int:
        return self.cals[c].take(lo, cycles)

    def busy(self, c: int) -> int:
        return self.cals[c].busy

    def intervals(self, c: int) -> list[tuple[int, int]]:
        return self.cals[c].intervals()


def warm_up() -> None:
    """Load the kernels (from Numba's cache, or compiled on a first use): Numba's start-up, 0.3 to
    0.8 s once per process, which the first run would otherwise pay."""
    bank = CalendarBank()
    c = bank.add()
    bank.step(bank.program(((MSG_LINKS, 1, (c,)),), ((c, 1, -1, 0),), ((MSG_POOL, 1, (c,)),)), 0)
    bank.take(c, 0, 1)
