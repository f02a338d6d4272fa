"""The fixed-point (Z-bus, current-injection) iteration over a block of time steps.

Per iteration and step: solve Y_pp X = conj(S / V) with the factors of ``FastModel`` (kernel
``FixedPoint.lu_solve``), then V = V0 + X, the change |dV| per step and the next currents
(``FixedPoint.update``).
A NaN anywhere in a step makes its change NaN (kept by the kernel), so it never converges.
A step has converged when its largest voltage change, times max(1, rho / (1 - rho)) with rho the
observed contraction (this change over the last), is at most ``tolerance_pu``: for a contraction
that bounds the remaining error by the tolerance. Steps that converge early keep iterating with
their block (cheaper than moving data) until a quarter or fewer remain, which then continue alone.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from sim.grid.fast_model import FastModel

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def fixed_point(model: FastModel, s: F64, v: F64, tolerance_pu: float, max_iter: int) -> I64:
    """Iterate from the initial guess ``v`` (2, n_pq, T; overwritten by the result) for the PQ-bus
    injections ``s`` (2, n_pq, T). Returns the iterations each step took, -1 where a step did not
    converge in ``max_iter`` (its ``v`` is then the last iterate, not a solution)."""
    n_t = s.shape[2]
    iterations = np.full(n_t, -1, dtype=np.int64)
    if n_t == 0:
        return iterations
    if n_t == 1:
        iterations[0] = _one_step(model, s, v, tolerance_pu, max_iter)
        return iterations
    system = model.system
    active = np.arange(n_t)
    work_v, work_s = v, s
    rhs = np.empty_like(v)
    nxt = np.empty_like(v)
    system.injection(work_v, work_s, rhs)
    dv2 = np.empty(n_t)
    last = np.full(n_t, np.inf)
    for k in range(1, max_iter + 1):
        system.lu_solve(rhs)
        system.update(rhs, work_s, work_v, nxt, dv2)
        rhs, nxt = nxt, rhs
        dv = np.sqrt(dv2)
        done = _converged(dv, last, tolerance_pu)
        last = dv
        iterations[active[done & (iterations[active] < 0)]] = k
        left = iterations[active] < 0
        n_left = int(np.count_nonzero(left))
        if n_left == 0:
            break
        if 4 * n_left <= active.size and active.size > 1:  # continue with the stragglers only
            if work_v is not v:
                v[:, :, active] = work_v
            active, keep = active[left], np.flatnonzero(left)
            work_v, work_s = _take(work_v, keep), _take(work_s, keep)
            rhs, nxt = _take(rhs, keep), np.empty_like(work_v)
            dv2, last = np.empty(keep.size), last[keep]
    if work_v is not v:
        v[:, :, active] = work_v
    return iterations


def _one_step(model: FastModel, s: F64, v: F64, tolerance_pu: float, max_iter: int) -> int:
    """``fixed_point`` for a single step with scalar bookkeeping (a tick's latency is mostly Python)."""
    system = model.system
    rhs, nxt, dv2 = np.empty_like(v), np.empty_like(v), np.empty(1)
    system.injection(v, s, rhs)
    last = math.inf
    for k in range(1, max_iter + 1):
        system.lu_solve(rhs)
        system.update(rhs, s, v, nxt, dv2)
        rhs, nxt = nxt, rhs
        dv = math.sqrt(dv2[0])
        if dv <= tolerance_pu and dv * dv <= tolerance_pu * (last - dv):
            return k
        last = dv
    return -1


def _converged(dv: F64, last: F64, tolerance_pu: float) -> NDArray[np.bool_]:
    """dv * max(1, rho / (1 - rho)) <= tol with rho = dv / last, without dividing: dv <= tol and
    dv^2 <= tol (last - dv) (false for rho >= 1 and for NaN)."""
    return (dv <= tolerance_pu) & (dv * dv <= tolerance_pu * (last - dv))


def _take(a: F64, keep: I64) -> F64:
    return np.ascontiguousarray(a[:, :, keep])


def initial_guess(model: FastModel, n_t: int) -> F64:
    """The no-load voltage V0 for every step (2, n_pq, T)."""
    return np.ascontiguousarray(np.repeat(model.v0[:, :, None], n_t, axis=2))
