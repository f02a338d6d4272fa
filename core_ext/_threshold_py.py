"""Pure-Python/numpy twin of ``core_ext._sched.deadline_threshold``: its executable specification.

``peak_shaving`` asks, at every decision: what is the lowest import threshold ``T >= target_kw`` at
which every plugged-in session still gets its remaining energy by its departure? The test is an
energy-by-deadline check over the slots ahead (slot ``k`` is ``[start_s[k], end_s[k])`` with the
site's base import ``base_kw[k]``): sort the sessions by departure; for each prefix (the ``j``
earliest departures) the energy they need must fit into the time before the ``j``-th departure,
where slot ``k`` offers

    min(max(T - base_kw[k], 0) * hours[j, k], sum over the prefix of max_kw[i] * hours[i, k])

and ``hours[i, k]`` is the part of slot ``k`` (in h) between ``time_s`` and session ``i``'s
departure. A session needs ``min(need_kwh, what its own maximum rate can deliver by its departure)``.
Both sides grow with ``T``, so ``T`` is found by bisection between ``target_kw`` and ``upper_kw`` (the
caller's bound, at which the test passes), to ``tol_kw``; the upper end is returned.

The work is O(sessions x slots) per test. The compiled kernel keeps only the entries whose hours are
not 0 (computed once per call, not per test) instead of the sessions x slots matrices here, and
stops a test at the first prefix that fails. Every sum runs in index order (sequential, as
``np.cumsum``; ``np.sum`` adds pairwise), so both give the same bits.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

REL_TOL = 1e-9  # a prefix passes when offered >= need * (1 - REL_TOL) - ABS_TOL_KWH
ABS_TOL_KWH = 1e-9
MAX_BISECTIONS = 200  # a safety bound: 0.01 kW over 1e15 kW takes 57 halvings


def _fail(message: str) -> None:
    raise ValueError(f"deadline_threshold: {message}")


def check_inputs(start_s: F64, end_s: F64, base_kw: F64, time_s: float, departure_s: F64, need_kwh: F64,
                 max_kw: F64, target_kw: float, upper_kw: float, tol_kw: float) -> None:
    """Lengths (slots alike, sessions alike), every value finite, ``max_kw >= 0``, ``tol_kw > 0``."""
    for name, arr, like, n in (("end_s", end_s, "start_s", len(start_s)), ("base_kw", base_kw, "start_s", len(start_s)),
                               ("need_kwh", need_kwh, "departure_s", len(departure_s)),
                               ("max_kw", max_kw, "departure_s", len(departure_s))):
        if len(arr) != n:
            _fail(f"{name} has {len(arr)} entries; expected {n} (like {like})")
    for name, arr in (("start_s", start_s), ("end_s", end_s), ("base_kw", base_kw), ("departure_s", departure_s),
                      ("need_kwh", need_kwh), ("max_kw", max_kw)):
        bad = ~np.isfinite(arr)
        if np.any(bad):
            j = int(np.flatnonzero(bad)[0])
            _fail(f"{name}[{j}] = {arr[j]} is not a finite number")
    if np.any(max_kw < 0.0):
        j = int(np.flatnonzero(max_kw < 0.0)[0])
        _fail(f"max_kw[{j}] = {max_kw[j]} must be >= 0")
    for name, value in (("time_s", time_s), ("target_kw", target_kw), ("upper_kw", upper_kw)):
        if not math.isfinite(value):
            _fail(f"{name} = {value} is not a finite number")
    if not (tol_kw > 0.0 and math.isfinite(tol_kw)):
        _fail(f"tol_kw = {tol_kw} must be a finite number > 0")


def _sequential_sum(values: F64, axis: int) -> F64:
    """Sums in index order (``np.sum`` adds pairwise, which rounds differently from a plain loop)."""
    if values.shape[axis] == 0:
        return np.zeros(np.delete(values.shape, axis))
    return np.asarray(np.cumsum(values, axis=axis).take(-1, axis=axis), dtype=float)


def deadline_threshold(
    start_s: F64,  # IN  per slot: start, s (slot 0 may start before time_s)
    end_s: F64,  # IN  per slot: end, s
    base_kw: F64,  # IN  per slot: the site's import without charging, kW
    time_s: float,  # IN  now, s
    departure_s: F64,  # IN  per session: departure, s
    need_kwh: F64,  # IN  per session: grid-side energy still needed, kWh
    max_kw: F64,  # IN  per session: grid-side power it takes at most, kW (>= 0)
    target_kw: float,  # IN  the threshold wanted, kW
    upper_kw: float,  # IN  the bisection's upper end, kW (one at which the test passes)
    tol_kw: float,  # IN  bisection tolerance (> 0), kW
) -> float:
    """The lowest threshold ``>= target_kw`` passing the energy-by-deadline test (module docstring):
    ``target_kw`` itself if it passes, else the upper end of a bisection between ``target_kw`` and
    ``upper_kw`` to ``tol_kw``."""
    check_inputs(start_s, end_s, base_kw, time_s, departure_s, need_kwh, max_kw, target_kw, upper_kw, tol_kw)
    by_departure = np.argsort(departure_s, kind="stable")
    lo_s = np.maximum(start_s, time_s)[None, :]
    hi_s = np.minimum(end_s[None, :], departure_s[by_departure][:, None])
    hours = np.maximum(hi_s - lo_s, 0.0) / 3600.0  # prefix j's window ends at its j-th departure
    cap_kwh = max_kw[by_departure, None] * hours
    prefix_cap_kwh = np.cumsum(cap_kwh, axis=0)
    prefix_need_kwh = np.cumsum(np.minimum(need_kwh[by_departure], _sequential_sum(cap_kwh, axis=1)))

    def feasible(threshold_kw: float) -> bool:
        room_kw = np.maximum(threshold_kw - base_kw, 0.0)
        offered_kwh = _sequential_sum(np.minimum(room_kw[None, :] * hours, prefix_cap_kwh), axis=1)
        return bool(np.all(offered_kwh >= prefix_need_kwh * (1.0 - REL_TOL) - ABS_TOL_KWH))

    if feasible(target_kw):
        return float(target_kw)
    lo, hi = target_kw, upper_kw
    for _ in range(MAX_BISECTIONS):
        if not hi - lo > tol_kw:
            break
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if feasible(mid) else (mid, hi)
    return float(hi)
