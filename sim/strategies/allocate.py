"""The allocation step every strategy shares: a ``SiteView`` and an order of sessions -> ``Setpoints``.

A strategy decides *who comes first* (an order) and sometimes *how much at most* (an upper bound per
session, extra rows such as a peak-shaving target); this module does the rest, the same way for all:

1. ``build_problem``: one column per plugged-in session: bounds ``upper_a`` (what the vehicle takes
   now, ``sessions.max_current_a``) and ``lower_a`` (its charger's minimum current), and the CSC
   columns of the view's constraint matrix (``A @ current_a <= b``), with optional extra rows appended
   (``ExtraRows``, e.g. a kW row for an import target or the PV surplus);
2. ``solve``: a kernel from ``core_ext``: ``priority`` (each session in turn takes the most it can) or
   ``waterfill`` (max-min fair); both pause the sessions the order puts last when minimums do not fit;
3. ``quantize``: round down to each charger's current step or set of allowed currents, then top up in
   order; skipped when every charger is continuous;
4. ``to_setpoints``: the kernel's result is what each vehicle *draws*. The offer (pilot) is the same,
   except where a vehicle takes less than its charger's minimum, or is limited by what it accepts: then
   the offer is raised to the charger's minimum (or the next allowed current) and the vehicle still
   draws only what it takes (the engine applies min(offer, acceptance)). Every setpoint is 0 or within
   the charger's [min, max].
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from operator import is_

import numpy as np
from numpy.typing import NDArray

import core_ext
from sim.domain import Setpoints, SiteView
from sim.strategies.currents import allowed_sets
from sim.strategies.phase_balance import PhaseBalance

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

KERNELS = ("priority", "waterfill")
_TOL_A = 1e-9


@dataclass(frozen=True)
class ExtraRows:
    """Rows added to the constraints for one call: ``coef @ current_a <= limit`` over the sessions.

    ``coef`` has one row per extra limit and one column per plugged-in session (>= 0; zeros are
    dropped); ``limit`` one value per row.
    """

    coef: F64
    limit: F64


@dataclass(frozen=True)
class Problem:
    """The allocation problem over the plugged-in sessions, in the arrays the kernels take."""

    upper_a: F64
    lower_a: F64
    indptr: I64
    indices: I64
    coef: F64
    limit: F64

    def load(self, current_a: F64) -> F64:
        """What each row carries at the given session currents (``A @ current_a``)."""
        out = np.zeros(len(self.limit))
        np.add.at(out, self.indices, self.coef * np.repeat(current_a, np.diff(self.indptr)))
        return out


def kw_per_a(view: SiteView) -> F64:
    """Grid-side kW per ampere (per phase) of each plugged-in session's charger."""
    ci = view.sessions.charger_index
    return np.asarray(view.chargers.phases[ci] * view.chargers.v_ln_v[ci] / 1000.0, dtype=float)


def build_problem(view: SiteView, extra: ExtraRows | None = None) -> Problem:
    """Bounds and constraint columns of the view's sessions, with ``extra`` rows appended."""
    upper_a = np.ascontiguousarray(view.sessions.max_current_a, dtype=float)
    lower_a, indptr, indices, coef = _columns.of(view)
    if view.constraints is not None:
        limit = np.ascontiguousarray(view.constraints.limit, dtype=float)
    else:
        limit = np.zeros(0)
    problem = Problem(upper_a, lower_a, indptr, indices, coef, limit)
    return with_rows(problem, extra) if extra is not None else problem


class _LastColumns:
    """The sessions' minimum currents and CSC columns of the last view, reused while they stay the same.

    Both are a pure function of the chargers, the constraint matrix and the sessions' chargers
    (``charger_index``), which change only when a vehicle plugs in or leaves; time-varying rows
    change ``limit`` only and share the matrix arrays (``Constraints.with_limit``). So the last
    result is kept (read-only) with the objects it was computed from, compared by identity, and
    the session chargers by value. One entry: a decision never pays more than a comparison.
    """

    def __init__(self) -> None:
        # (matrix and minimum arrays, charger_index bytes, value), replaced as one object (thread-safe)
        self._last: tuple[tuple[object, ...], bytes, tuple[F64, I64, I64, F64]] | None = None

    def of(self, view: SiteView) -> tuple[F64, I64, I64, F64]:
        """``(lower_a, indptr, indices, coef)`` of the view's sessions."""
        ci = view.sessions.charger_index
        cons = view.constraints
        key = (view.chargers.min_current_a, *((cons.indptr, cons.indices, cons.coef) if cons is not None else ()))
        ci_bytes = np.ascontiguousarray(ci, dtype=np.int64).tobytes()
        last = self._last
        if last is not None and last[1] == ci_bytes and len(key) == len(last[0]) and all(map(is_, key, last[0])):
            return last[2]
        lower_a = np.ascontiguousarray(view.chargers.min_current_a[ci], dtype=float)
        if cons is not None:
            indptr, indices, coef = cons.columns(ci)
        else:
            indptr, indices, coef = np.zeros(len(ci) + 1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        value = (lower_a, indptr, indices, coef)
        for array in value:
            array.setflags(write=False)
        self._last = (key, ci_bytes, value)
        return value


_columns = _LastColumns()


def with_rows(problem: Problem, extra: ExtraRows) -> Problem:
    """The same problem with ``extra`` rows appended after its own."""
    if not len(extra.limit):
        return problem
    indptr, indices, coef = _append_rows(problem.indptr, problem.indices, problem.coef, len(problem.limit),
                                         np.asarray(extra.coef, dtype=float))
    limit = np.concatenate([problem.limit, np.asarray(extra.limit, dtype=float)])
    return Problem(problem.upper_a, problem.lower_a, indptr, indices, coef, limit)


def _append_rows(indptr: I64, indices: I64, coef: F64, first_row: int, extra_coef: F64) -> tuple[I64, I64, F64]:
    """Merge dense extra rows (numbered from ``first_row``) into CSC columns, in one pass."""
    n = len(indptr) - 1
    col_j, row_r = np.nonzero(extra_coef.T > 0.0)  # sorted by column, then row
    base_counts = np.diff(indptr)
    extra_counts = np.bincount(col_j, minlength=n)
    new_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(base_counts + extra_counts, out=new_indptr[1:])
    new_indices = np.empty(new_indptr[-1], dtype=np.int64)
    new_coef = np.empty(new_indptr[-1])
    base_col = np.repeat(np.arange(n), base_counts)
    base_pos = new_indptr[base_col] + np.arange(len(indices)) - indptr[base_col]
    new_indices[base_pos], new_coef[base_pos] = indices, coef
    extra_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(extra_counts, out=extra_start[1:])
    extra_pos = new_indptr[col_j] + base_counts[col_j] + np.arange(len(col_j)) - extra_start[col_j]
    new_indices[extra_pos] = first_row + row_r
    new_coef[extra_pos] = extra_coef[row_r, col_j]
    return new_indptr, new_indices, new_coef


def bounded(problem: Problem, upper_a: F64) -> Problem:
    """The problem with upper bounds lowered to ``upper_a`` (e.g. a plan), never raised.

    A lowered bound between 0 and the charger's minimum is raised to the minimum (or to what the
    vehicle takes, if less): a charger cannot offer less than its minimum, and the kernels' result
    must stay what the vehicle really draws.
    """
    floor_a = np.minimum(problem.lower_a, problem.upper_a)
    wanted_a = np.minimum(np.asarray(upper_a, dtype=float), problem.upper_a)
    upper = np.ascontiguousarray(np.where(wanted_a > _TOL_A, np.maximum(wanted_a, floor_a), 0.0))
    return replace(problem, upper_a=upper)


def solve(problem: Problem, order: I64, kernel: str = "priority") -> F64:
    """Run one allocation kernel (``priority`` or ``waterfill``) in ``order``; what each session draws."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown allocation kernel {kernel!r}; valid: {', '.join(KERNELS)}")
    out_a = np.zeros(len(problem.upper_a))
    fn = core_ext.priority_allocate if kernel == "priority" else core_ext.waterfill
    fn(np.ascontiguousarray(order, dtype=np.int64), problem.upper_a, problem.lower_a, problem.indptr,
       problem.indices, problem.coef, problem.limit, out_a)
    return out_a


def quantize(view: SiteView, problem: Problem, order: I64, out_a: F64) -> F64:
    """``out_a`` rounded to the chargers' allowed currents (a new array); unchanged when all are continuous.

    A session that gets all its vehicle takes is left as it is: its offer is raised to the next allowed
    current (``to_setpoints``) and the vehicle still draws only what it takes.
    """
    if view.chargers.continuous:
        return out_a
    ci = view.sessions.charger_index
    exact = out_a >= view.sessions.max_current_a - _TOL_A
    step_a = np.ascontiguousarray(np.where(exact, 0.0, view.chargers.current_step_a[ci]), dtype=float)
    sets = allowed_sets(view.chargers, ci)
    if sets is None:
        if not step_a.any():
            return out_a
        sets = np.zeros(len(ci) + 1, dtype=np.int64), np.zeros(0)
    else:
        sets = _without(sets, exact)
    io_a = np.array(out_a, dtype=float)
    core_ext.quantize(np.ascontiguousarray(order, dtype=np.int64), problem.upper_a, problem.lower_a, step_a,
                      sets[0], sets[1], problem.indptr, problem.indices, problem.coef, problem.limit, io_a)
    return io_a


def _without(sets: tuple[I64, F64], drop: NDArray[np.bool_]) -> tuple[I64, F64]:
    """The per-session sets with the ``drop`` sessions' sets emptied (those stay continuous)."""
    indptr, values = sets
    counts = np.where(drop, 0, np.diff(indptr))
    keep = np.repeat(~drop, np.diff(indptr))
    new_indptr = np.zeros(len(indptr), dtype=np.int64)
    np.cumsum(counts, out=new_indptr[1:])
    return new_indptr, np.ascontiguousarray(values[keep])


def to_setpoints(view: SiteView, out_a: F64) -> Setpoints:
    """Setpoints per charger from what each session draws (see the module docstring, step 4;
    the rule is the kernel ``core_ext.pilot_currents``)."""
    ch, ses = view.chargers, view.sessions
    current_a = np.empty(len(ch))
    core_ext.pilot_currents(np.ascontiguousarray(out_a, dtype=float),
                            np.ascontiguousarray(ses.max_current_a, dtype=float),
                            np.ascontiguousarray(ses.charger_index, dtype=np.int64), ch.min_current_a,
                            ch.max_current_a, ch.current_step_a, ch.allowed_indptr, ch.allowed_a, current_a)
    return Setpoints(current_a)


def allocate(view: SiteView, order: I64, kernel: str = "priority", *, upper_a: F64 | None = None,
             extra: ExtraRows | None = None, phase_balance: PhaseBalance | None = None) -> Setpoints:
    """The whole step: problem -> kernel (in ``order``) -> quantisation -> setpoints.

    With ``phase_balance``, per-phase cap rows are added where its imbalance limit binds (the rule and
    the search for the cap: ``sim.strategies.phase_balance``).
    """
    if len(view.sessions) == 0:
        return Setpoints.zeros(len(view.chargers))
    problem = build_problem(view, extra)
    if upper_a is not None:
        problem = bounded(problem, upper_a)
    if phase_balance is None:
        return to_setpoints(view, quantize(view, problem, order, solve(problem, order, kernel)))
    rows = phase_balance.session_rows(view)

    def run(cap_a: float | None) -> F64:
        capped = problem if cap_a is None else with_rows(problem, ExtraRows(rows, np.full(len(rows), cap_a)))
        return quantize(view, capped, order, solve(capped, order, kernel))

    return to_setpoints(view, phase_balance.search(rows, run))
