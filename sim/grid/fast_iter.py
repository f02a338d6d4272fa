"""The fixed-point (Z-bus, current-injection) iteration over a block of time steps.

The iterations run in the kernel ``FixedPoint.iterate`` (per iteration and step: the currents
conj(S / V), the triangular solves with the factors of ``FastModel.system`` and V = V0 + solution;
a step has converged when its largest voltage change, times max(1, rho / (1 - rho)) with rho the
observed contraction, is at most ``tolerance_pu``: for a contraction that bounds the remaining
error by the tolerance). A NaN anywhere in a step makes its change NaN, so it never converges.
Steps that converge early keep iterating with their block (cheaper than moving data) until a
quarter or fewer remain, which then continue alone.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.grid.fast_model import FastModel

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def fixed_point(model: FastModel, s: F64, v: F64, tolerance_pu: float, max_iter: int) -> I64:
    """Iterate from the initial guess ``v`` (2, n_kept, T; overwritten by the result) for the
    injections ``s`` (2, n_kept, T) at the kept buses. Returns the iterations each step took, -1
    where a step did not converge in ``max_iter`` (its ``v`` is then the last iterate)."""
    n_t = s.shape[2]
    iterations = np.full(n_t, -1, dtype=np.int64)
    last = np.full(n_t, np.inf)
    k = model.system.iterate(v, s, last, iterations, 0, max_iter, tolerance_pu, n_t // 4)
    if k < max_iter and n_t > 1 and (iterations < 0).any():  # the stragglers continue alone
        left = np.flatnonzero(iterations < 0)
        work_v, its = _take(v, left), iterations[left]
        model.system.iterate(work_v, _take(s, left), last[left], its, k, max_iter, tolerance_pu)
        v[:, :, left] = work_v
        iterations[left] = its
    return iterations


def _take(a: F64, columns: I64) -> F64:
    return np.ascontiguousarray(a[:, :, columns])


def initial_guess(model: FastModel, n_t: int) -> F64:
    """The no-load voltage of the kept buses for every step (2, n_kept, T)."""
    return np.ascontiguousarray(np.repeat(model.v0[:, model.kept, None], n_t, axis=2))
