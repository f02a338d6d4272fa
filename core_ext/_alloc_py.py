"""Pure-Python/numpy twin of the allocation kernels of ``core_ext._sched``: their executable specification.

The problem, shared by every kernel (one column per *session*, one row per limit):

- ``A @ current_a <= limit`` with ``A`` in CSC form: ``indptr`` (int64, n+1), ``indices`` (int64, the
  row of each coefficient; the rows of one column are distinct), ``coef`` (float64, > 0). ``limit``
  may be negative or tiny (a time-varying row already over): then nobody touching it gets anything;
- ``upper_a``: the most current each session can use now; ``lower_a``: its charger's minimum current.
  A session gets 0 or at least its *effective minimum* ``min(lower, upper)`` (a vehicle whose upper is
  below the charger's minimum draws less than the minimum pilot: its minimum is its upper). Negative
  bounds count as 0;
- ``order``: a permutation of 0..n-1, highest priority first; when minimums do not fit, the sessions
  the order puts last are paused (0 A) rather than a limit broken.

Every comparison allows ``TOL`` (1e-9 A) of floating error. Inputs are checked (shapes, ranges,
finiteness) and a ``ValueError`` names the array, the position and the bad value. Outputs are
caller-allocated and overwritten (OUT) or updated in place (IN/OUT); nothing is returned.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

import numpy as np
from numpy.typing import NDArray

from core_ext._checks import check_grid, check_problem

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

TOL = 1e-9  # A: floating tolerance of every comparison
MAX_TOPUP_PASSES = 1_000_000  # safety bound of quantize's top-up (each pass raises someone one step)
PAUSED, WAITING, RISING, FROZEN = 0, 1, 2, 3  # session states of progressive filling


def effective_bounds(upper_a: F64, lower_a: F64) -> tuple[F64, F64]:
    """(upper, effective minimum) per session: ``max(upper, 0)`` and ``max(min(lower, upper), 0)``."""
    up = np.maximum(upper_a, 0.0)
    return up, np.maximum(np.minimum(lower_a, up), 0.0)


def priority_allocate(
    order: I64,  # IN  permutation of sessions, highest priority first
    upper_a: F64,  # IN  most current each session can use now, A
    lower_a: F64,  # IN  charger minimum current per session, A
    indptr: I64,  # IN  CSC column pointers (n+1)
    indices: I64,  # IN  row of each coefficient
    coef: F64,  # IN  coefficients (> 0)
    limit: F64,  # IN  b, one per row
    out_a: F64,  # OUT current per session, A
) -> None:
    """Each session in ``order`` takes the most it can within its upper and every row it touches.

    ``cap = min(upper, min over its rows of (limit - used) / coef)``; if ``cap`` is below the
    effective minimum (minus TOL) the session is paused at 0 (the minimum-current rule), else it gets
    ``max(cap, 0)`` and the rows it touches carry it for the sessions after it.
    """
    check_problem("priority_allocate", order, upper_a, lower_a, indptr, indices, coef, limit, "out_a", out_a)
    up, emin = effective_bounds(upper_a, lower_a)
    used = np.zeros(len(limit))
    out_a[:] = 0.0
    for k in order:
        rows, c = indices[indptr[k] : indptr[k + 1]], coef[indptr[k] : indptr[k + 1]]
        cap = float(up[k])
        if len(rows):
            cap = min(cap, float(np.min((limit[rows] - used[rows]) / c)))
        if cap < emin[k] - TOL:
            continue
        out_a[k] = max(cap, 0.0)
        used[rows] += c * out_a[k]


def served_by_minimums(order: I64, emin: F64, indptr: I64, indices: I64, coef: F64, limit: F64) -> NDArray[np.bool_]:
    """Who is served, greedily in ``order``: a session is served if its effective minimum fits in every
    row it touches given the minimums of those already served (else it is paused)."""
    used = np.zeros(len(limit))
    served = np.zeros(len(emin), dtype=bool)
    for k in order:
        rows, c = indices[indptr[k] : indptr[k + 1]], coef[indptr[k] : indptr[k + 1]]
        if len(rows) and np.min((limit[rows] - used[rows]) / c) < emin[k] - TOL:
            continue
        served[k] = True
        used[rows] += c * emin[k]
    return served


def waterfill(
    order: I64,  # IN  permutation of sessions: who is paused first when minimums do not fit
    upper_a: F64,  # IN  most current each session can use now, A
    lower_a: F64,  # IN  charger minimum current per session, A
    indptr: I64,  # IN  CSC column pointers (n+1)
    indices: I64,  # IN  row of each coefficient
    coef: F64,  # IN  coefficients (> 0)
    limit: F64,  # IN  b, one per row
    out_a: F64,  # OUT current per session, A
) -> None:
    """Max-min fair allocation (progressive filling) with minimums.

    (a) The served set is chosen greedily in ``order`` (``served_by_minimums``); the others get 0.
    (b) Every served session starts at its effective minimum; a common level ``t`` rises from 0 and a
    session's value is ``clamp(t, its min, its upper)``. A session freezes when it reaches its upper;
    when a row saturates, every served session touching it freezes at its current value. The level
    jumps from event to event (a minimum reached, an upper reached, a row saturating), events within
    TOL of the level are handled together, so there are at most 2n events.
    """
    check_problem("waterfill", order, upper_a, lower_a, indptr, indices, coef, limit, "out_a", out_a)
    up, emin = effective_bounds(upper_a, lower_a)
    fill = _Filling(up, emin, served_by_minimums(order, emin, indptr, indices, coef, limit), indptr, indices, coef, limit)
    for _ in range(2 * len(up) + 2):
        level = fill.next_level()
        if level == math.inf:
            break
        fill.t = max(fill.t, level)
        fill.advance()
    out_a[:] = fill.result()


def _entries(indptr: I64, sessions: I64) -> tuple[I64, I64]:
    """Positions in ``indices``/``coef`` of the given sessions' columns (in that order), and their session."""
    counts = indptr[sessions + 1] - indptr[sessions]
    offsets = np.cumsum(counts) - counts
    return np.repeat(indptr[sessions] - offsets, counts) + np.arange(int(counts.sum())), np.repeat(sessions, counts)


class _Filling:
    """The state of progressive filling over the served sessions at level ``t``.

    Row r carries ``fixed[r] + rate[r] * t``: ``fixed`` sums coef * value of the sessions that do not
    rise (waiting at their minimum, or frozen), ``rate`` sums coef of the rising ones (``n_rising``
    counts them, so that a row with none has a rate of exactly 0). A live row (rising sessions, not yet
    saturated) saturates at level ``(limit - fixed) / rate``. ``by_min``/``by_up`` are the served
    non-frozen sessions sorted by minimum / upper; ``i_min``/``i_up`` walk them as the level rises.
    """

    def __init__(self, up: F64, emin: F64, served: NDArray[np.bool_], indptr: I64, indices: I64, coef: F64,
                 limit: F64) -> None:
        self.up, self.emin, self.indptr, self.indices, self.coef, self.limit = up, emin, indptr, indices, coef, limit
        n, m = len(up), len(limit)
        self.t = 0.0
        self.state = np.full(n, PAUSED, dtype=np.int8)
        self.state[served] = WAITING
        self.state[served & (emin >= up)] = FROZEN  # nothing to fill between minimum and upper
        self.value = np.where(served, emin, 0.0)
        self.col = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        self.fixed = np.zeros(m)
        on = served[self.col]
        np.add.at(self.fixed, indices[on], (coef * emin[self.col])[on])
        self.rate = np.zeros(m)
        self.n_rising = np.zeros(m, dtype=np.int64)
        self.saturated = np.zeros(m, dtype=bool)
        waiting = np.flatnonzero(self.state == WAITING)
        self.by_min = waiting[np.argsort(emin[waiting], kind="stable")]
        self.by_up = waiting[np.argsort(up[waiting], kind="stable")]
        self.i_min = self.i_up = 0

    def _row_levels(self) -> tuple[NDArray[np.bool_], F64]:
        """The live rows and the level at which each saturates (inf where not live)."""
        live = (self.n_rising > 0) & ~self.saturated
        levels = np.full(len(self.limit), math.inf)
        levels[live] = (self.limit[live] - self.fixed[live]) / self.rate[live]
        return live, levels

    def next_level(self) -> float:
        """The level of the next event: a waiting session's minimum, an upper, a row saturating."""
        while self.i_min < len(self.by_min) and self.state[self.by_min[self.i_min]] != WAITING:
            self.i_min += 1
        while self.i_up < len(self.by_up) and self.state[self.by_up[self.i_up]] == FROZEN:
            self.i_up += 1
        level = math.inf
        if self.i_min < len(self.by_min):
            level = float(self.emin[self.by_min[self.i_min]])
        if self.i_up < len(self.by_up):  # rising or waiting; a waiting one's minimum comes first anyway
            level = min(level, float(self.up[self.by_up[self.i_up]]))
        return min(level, float(np.min(self._row_levels()[1], initial=math.inf)))

    def advance(self) -> None:
        """Handle every event within TOL of the level ``t``: starts, then uppers, then saturated rows."""
        t, state = self.t, self.state
        start = []
        while self.i_min < len(self.by_min) and (
            state[s := self.by_min[self.i_min]] != WAITING or self.emin[s] <= t + TOL
        ):
            if state[s] == WAITING:
                start.append(s)
            self.i_min += 1
        self._start(np.array(start, dtype=np.int64))
        stop = []
        while self.i_up < len(self.by_up) and (state[s := self.by_up[self.i_up]] == FROZEN or self.up[s] <= t + TOL):
            if state[s] == RISING:
                stop.append(s)
            self.i_up += 1
        stop_ = np.array(stop, dtype=np.int64)
        self._freeze(stop_, self.up[stop_])
        live, levels = self._row_levels()
        hit_rows = live & (levels <= t + TOL)
        if hit_rows.any():
            self.saturated |= hit_rows
            hit = np.unique(self.col[hit_rows[self.indices]])
            hit = hit[(state[hit] == WAITING) | (state[hit] == RISING)]
            self._freeze(hit, np.minimum(np.maximum(t, self.emin[hit]), self.up[hit]))

    def _start(self, sessions: I64) -> None:
        """Waiting sessions whose minimum the level reached start rising with it."""
        pos, who = _entries(self.indptr, sessions)
        rows, c = self.indices[pos], self.coef[pos]
        np.add.at(self.fixed, rows, -(c * self.emin[who]))
        np.add.at(self.rate, rows, c)
        np.add.at(self.n_rising, rows, 1)
        self.state[sessions] = RISING

    def _freeze(self, sessions: I64, values: F64) -> None:
        """Freeze sessions at ``values`` (a waiting one stays at its minimum: its rows do not change)."""
        rising = self.state[sessions] == RISING
        pos, who = _entries(self.indptr, sessions[rising])
        rows, c = self.indices[pos], self.coef[pos]
        value_of = np.zeros(len(self.up))
        value_of[sessions] = values
        np.add.at(self.rate, rows, -c)
        np.add.at(self.n_rising, rows, -1)
        self.rate[self.n_rising == 0] = 0.0
        np.add.at(self.fixed, rows, c * value_of[who])
        self.value[sessions] = values
        self.state[sessions] = FROZEN

    def result(self) -> F64:
        """Every session's current: frozen values; 0 when paused. (Sessions still unfrozen here can only
        be left by the event bound, a floating-point safety net: they keep their current value.)"""
        open_ = (self.state == WAITING) | (self.state == RISING)
        return np.where(open_, np.minimum(np.maximum(self.t, self.emin), self.up), self.value)


def quantize(
    order: I64,  # IN  permutation of sessions: the order of the top-up passes
    upper_a: F64,  # IN  most current each session can use now, A
    lower_a: F64,  # IN  charger minimum current per session, A
    step_a: F64,  # IN  current step per session (0: continuous unless a set is given), A
    allowed_indptr: I64,  # IN  per session, its slice of allowed_a (n+1); an empty slice: use the step
    allowed_a: F64,  # IN  sorted finite sets of allowed currents (0 is always allowed), A
    indptr: I64,  # IN  CSC column pointers (n+1)
    indices: I64,  # IN  row of each coefficient
    coef: F64,  # IN  coefficients (> 0)
    limit: F64,  # IN  b, one per row
    io_a: F64,  # IN/OUT current per session, A: rounded in place
) -> None:
    """Round every session's current down to its allowed values, then top up in ``order``.

    A session's grid is its set ``allowed_a[allowed_indptr[k]:allowed_indptr[k+1]]`` when not empty,
    else the multiples of ``step_a[k]`` (step 0: continuous, left unchanged); 0 is always allowed, and
    a value within TOL of a grid value counts as that value. The value is first clamped to [0, upper];
    one that rounds below the effective minimum becomes 0. Top-up: passes in ``order`` raise each
    discrete session to its next grid value (at least its minimum) while every row it touches has room
    and it stays within its upper, until a pass changes nothing. Rows only fill up during top-up, so a
    session that cannot rise once never rises later: a pass visits only those that rose in the last.
    """
    check_problem("quantize", order, upper_a, lower_a, indptr, indices, coef, limit, "io_a", io_a)
    check_grid("quantize", len(upper_a), step_a, allowed_indptr, allowed_a)
    up, emin = effective_bounds(upper_a, lower_a)
    n, used = len(up), np.zeros(len(limit))
    for k in range(n):
        grid = allowed_a[allowed_indptr[k] : allowed_indptr[k + 1]]
        value = round_down(min(max(float(io_a[k]), 0.0), float(up[k])), float(step_a[k]), grid)
        io_a[k] = 0.0 if value < emin[k] - TOL else value
        used[indices[indptr[k] : indptr[k + 1]]] += coef[indptr[k] : indptr[k + 1]] * io_a[k]
    active = [int(k) for k in order if step_a[k] > 0.0 or allowed_indptr[k + 1] > allowed_indptr[k]]
    for _ in range(MAX_TOPUP_PASSES):
        risen = []
        for k in active:
            grid = allowed_a[allowed_indptr[k] : allowed_indptr[k + 1]]
            target = next_up(float(io_a[k]), float(emin[k]), float(step_a[k]), grid)
            delta = target - io_a[k]
            rows, c = indices[indptr[k] : indptr[k + 1]], coef[indptr[k] : indptr[k + 1]]
            if target > up[k] + TOL or (len(rows) and np.min((limit[rows] - used[rows]) / c) < delta - TOL):
                continue
            used[rows] += c * delta
            io_a[k] = target
            risen.append(k)
        if not risen:
            break
        active = risen


def round_down(x_a: float, step_a: float, grid_a: F64) -> float:
    """The largest grid value <= ``x_a`` (+TOL): the set ``grid_a`` if not empty, else multiples of
    ``step_a`` (0: continuous, ``x_a`` itself); 0 when nothing in the set is low enough."""
    if len(grid_a):
        j = bisect_right(grid_a, x_a + TOL)
        return float(grid_a[j - 1]) if j > 0 else 0.0
    if step_a > 0.0:
        return math.floor((x_a + TOL) / step_a) * step_a
    return x_a


def next_up(v_a: float, emin_a: float, step_a: float, grid_a: F64) -> float:
    """The smallest grid value above ``v_a`` (+TOL) and at least ``emin_a`` (-TOL); inf if none."""
    if len(grid_a):
        j = max(bisect_right(grid_a, v_a + TOL), bisect_left(grid_a, emin_a - TOL))
        return float(grid_a[j]) if j < len(grid_a) else math.inf
    target = (math.floor((v_a + TOL) / step_a) + 1.0) * step_a
    if target < emin_a - TOL:
        target = math.ceil((emin_a - TOL) / step_a) * step_a
    return target
