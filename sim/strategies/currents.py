"""The currents a charger can be set to: continuous, a step (e.g. 0.1 A), or a finite set (8, 16, ... A).

A charger's finite set (``Charger.allowed_current_a``) wins over its step, as in the ``quantize``
kernel; 0 A is always allowed. These helpers are vectorised over sessions: the sets come from the
table's CSR arrays (``ChargerTable.allowed_indptr``/``allowed_a``), and a site without steps or
sets (``ChargerTable.continuous``) takes a short path. ``offer_at_least``'s rule (the smallest current
a charger can be set to at or above a value) is also the one the kernel ``core_ext.pilot_currents``
applies when ``allocate.to_setpoints`` raises an offer.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.domain import ChargerTable

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_TOL_A = 1e-9


def allowed_sets(chargers: ChargerTable, charger_index: I64) -> tuple[I64, F64] | None:
    """Per session (charger ``charger_index[k]``), its charger's allowed non-zero currents, ascending,
    as ``(indptr, values)``; ``None`` when no charger of the site has a finite set."""
    if not len(chargers.allowed_a):
        return None
    starts = chargers.allowed_indptr[charger_index]
    counts = chargers.allowed_indptr[charger_index + 1] - starts
    indptr = np.zeros(len(charger_index) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    # position p of session k's slice reads the table at starts[k] + (p - indptr[k])
    take = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1], dtype=np.int64)
    return indptr, np.ascontiguousarray(chargers.allowed_a[take])


def offer_at_least(chargers: ChargerTable, charger_index: I64, value_a: F64) -> F64:
    """Per session, the smallest current its charger can be set to that is >= ``value_a`` (at most
    the charger's maximum)."""
    max_a = chargers.max_current_a[charger_index]
    value_a = np.asarray(value_a, dtype=float)
    if chargers.continuous:
        return np.asarray(np.minimum(value_a, max_a), dtype=float)
    step_a = chargers.current_step_a[charger_index]
    safe_step = np.where(step_a > 0.0, step_a, 1.0)
    out = np.where(step_a > 0.0, np.ceil(value_a / safe_step - 1e-9) * safe_step, value_a)
    sets = allowed_sets(chargers, charger_index)
    if sets is not None:
        indptr, values = sets
        for k in np.flatnonzero(np.diff(indptr)):
            grid = values[indptr[k] : indptr[k + 1]]
            above = grid[grid >= value_a[k] - _TOL_A]
            out[k] = above[0] if len(above) else np.inf
    return np.asarray(np.minimum(out, max_a), dtype=float)
