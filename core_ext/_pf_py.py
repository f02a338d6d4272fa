"""The pure numpy/scipy twin of the fast load-flow kernels (``_pf.pyx``): the executable specification.

Complex quantities are split: shape (2, n, T), real parts in ``[0]``, imaginary parts in ``[1]``,
one row per bus, the time step as the inner dimension. The triangular solves are scipy's
(``spsolve_triangular``), so the compiled sweeps are checked against an independent solver.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import spsolve_triangular

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def _complex(a: F64) -> NDArray[np.complex128]:
    out: NDArray[np.complex128] = a[0] + 1j * a[1]
    return out


def _store(z: NDArray[np.complex128], out: F64) -> None:
    out[0] = z.real
    out[1] = z.imag


class FixedPoint:
    """The constant arrays of one factorised system (see ``_pf.pyx``): factors of Pr Y_pp Pc = L U
    (L unit lower, strictly-lower CSC; U strictly-upper CSC plus its inverse diagonal), the row
    permutations ``rhs_row`` / ``sol_row`` and the no-load voltage ``v0`` (2, n)."""

    def __init__(
        self,
        l_indptr: I64,
        l_indices: I64,
        l_data: F64,
        u_indptr: I64,
        u_indices: I64,
        u_data: F64,
        u_diag_inv: F64,
        rhs_row: I64,
        sol_row: I64,
        v0: F64,
    ) -> None:
        n = u_diag_inv.shape[1]
        self.n = n
        self._lower = (sp.csc_array((_complex(l_data), l_indices, l_indptr), shape=(n, n)) + sp.eye_array(n)).tocsr()
        self._upper = (
            sp.csc_array((_complex(u_data), u_indices, u_indptr), shape=(n, n))
            + sp.diags_array(1.0 / _complex(u_diag_inv))
        ).tocsr()
        self._rhs_row, self._sol_row, self._v0 = rhs_row, sol_row, _complex(v0)

    def lu_solve(self, x: F64) -> None:
        """Solve L U y = x in place, x: (2, n, T)."""
        if self.n == 0 or x.shape[2] == 0:
            return
        z = spsolve_triangular(self._lower, _complex(x), lower=True, unit_diagonal=True)
        z = spsolve_triangular(self._upper, z, lower=False)
        _store(np.asarray(z).reshape(x.shape[1], x.shape[2]), x)

    def injection(self, v: F64, s: F64, rhs: F64) -> None:
        """The load current conj(S / V) of bus j, written to row ``rhs_row[j]`` of ``rhs``."""
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN/inf propagate, as in the compiled kernel
            current = np.conj(_complex(s) / _complex(v))
        rhs[0, self._rhs_row] = current.real
        rhs[1, self._rhs_row] = current.imag

    def update(self, y: F64, s: F64, v: F64, rhs: F64, dv2: F64) -> None:
        """V_j = V0_j + y[sol_row[j]] (in place in ``v``); ``dv2[t]`` = max_j |V_new - V_old|^2 (NaN
        if any is NaN or infinite); then the next right-hand side conj(S / V_new) at row ``rhs_row[j]``."""
        new = self._v0[:, None] + _complex(y)[self._sol_row]
        diff = new - _complex(v)
        d = diff.real**2 + diff.imag**2
        if d.shape[0]:
            dv2[:] = np.where(np.isfinite(d).all(axis=0), np.max(d, axis=0, initial=0.0), np.nan)
        else:
            dv2[:] = 0.0
        _store(new, v)
        self.injection(v, s, rhs)

    def iterate(
        self,
        v: F64,
        s: F64,
        last: F64,
        iterations: I64,
        first: int,
        max_iter: int,
        tolerance_pu: float,
        stop_left: int = 0,
    ) -> int:
        """Iterations ``first + 1 .. max_iter`` of the fixed point from ``v`` (IN/OUT) for the
        injections ``s``: currents, ``lu_solve``, ``update``. Step t has converged when its change
        dv satisfies dv * max(1, rho / (1 - rho)) <= ``tolerance_pu`` with rho = dv / ``last[t]``
        (written without dividing: dv <= tol and dv^2 <= tol (last - dv); false for NaN);
        ``iterations[t]`` (-1 = not yet) gets the first such iteration, ``last`` the latest change.
        Returns the iteration it stopped after: once at most ``stop_left`` steps are unconverged,
        else ``max_iter``."""
        if v.shape[2] == 0 or first >= max_iter:
            return first
        rhs, nxt, dv2 = np.empty_like(v), np.empty_like(v), np.empty(v.shape[2])
        self.injection(v, s, rhs)
        for k in range(first + 1, max_iter + 1):
            self.lu_solve(rhs)
            self.update(rhs, s, v, nxt, dv2)
            rhs, nxt = nxt, rhs
            dv = np.sqrt(dv2)
            with np.errstate(invalid="ignore"):
                done = (dv <= tolerance_pu) & (dv * dv <= tolerance_pu * (last - dv))
            iterations[(iterations < 0) & done] = k
            last[:] = dv
            if np.count_nonzero(iterations < 0) <= stop_left:
                return k
        return max_iter


def _csr(indptr: I64, indices: I64, data: F64, n_cols: int) -> sp.csr_array:
    return sp.csr_array((_complex(data), indices, indptr), shape=(indptr.size - 1, n_cols))


def spmv(indptr: I64, indices: I64, data: F64, v: F64, out: F64, offset: F64 | None = None) -> None:
    """out (2, rows, T) = offset[:, :, None] + M v for a sparse complex M (CSR); ``offset`` (2, rows)
    or None for zero."""
    product = np.asarray(_csr(indptr, indices, data, v.shape[1]) @ _complex(v))
    _store(product if offset is None else product + _complex(offset)[:, None], out)


def branch_flows(
    from_bus: I64,
    to_bus: I64,
    y: F64,
    scale_from: F64,
    scale_to: F64,
    v: F64,
    loading: F64,
    losses: F64,
    rows: I64 | None = None,
) -> None:
    """Branch b: I_f = yff V_f + yft V_t, I_t = ytf V_f + ytt V_t (``y[b]`` = re, im of yff, yft, ytf,
    ytt); ``loading[rows[b]]`` (default row b) = max(|I_f| scale_from, |I_t| scale_to) (OUT);
    losses += Re(V_f conj(I_f)) + Re(V_t conj(I_t)) (IN/OUT)."""
    if from_bus.size == 0 or v.shape[2] == 0:
        return
    if rows is None:
        rows = np.arange(from_bus.size)
    volts = _complex(v)
    coef = y[:, 0::2] + 1j * y[:, 1::2]  # (n_branches, 4): yff, yft, ytf, ytt
    v_f, v_t = volts[from_bus], volts[to_bus]
    i_from = coef[:, 0, None] * v_f + coef[:, 1, None] * v_t
    i_to = coef[:, 2, None] * v_f + coef[:, 3, None] * v_t
    loading[rows] = np.maximum(np.abs(i_from) * scale_from[:, None], np.abs(i_to) * scale_to[:, None])
    losses += (v_f * np.conj(i_from) + v_t * np.conj(i_to)).real.sum(axis=0)


def magnitude(v: F64, bus_pos: I64, out: F64) -> None:
    """out[j] = |v[bus_pos[j]]| per step, NaN where bus_pos[j] < 0."""
    if out.shape[0] == 0 or v.shape[2] == 0:
        return
    out[:] = np.where(bus_pos[:, None] >= 0, np.abs(_complex(v)[np.maximum(bus_pos, 0)]), np.nan)


def slack_power(indptr: I64, indices: I64, data: F64, ref_bus: I64, v: F64, own: F64, out: F64) -> None:
    """``out`` (2, T): P and Q (pu) the slack buses take from the net, net of their own elements:
    sum over r of V[ref_bus[r]] conj((M V)[r]) - own[r] (M: CSR rows of Ybus at the slack buses)."""
    current = np.asarray(_csr(indptr, indices, data, v.shape[1]) @ _complex(v))
    power = (_complex(v)[ref_bus] * np.conj(current) - _complex(own)).sum(axis=0)
    _store(power, out)


class Injector:
    """The per-unit injections of T steps at some rows (buses), from the driven inputs (kW, kvar):
    row r, step t = ``const[:, r]`` + sum of ``p_coef[e] * p[t, e]`` over the P inputs e with
    ``p_rows[e] == r`` (real part) + j the same for Q (``-1``: the input reaches none of the rows)."""

    def __init__(self, const: F64, p_rows: I64, p_coef: F64, q_rows: I64, q_coef: F64) -> None:
        self.n_rows, self.n_p, self.n_q = const.shape[1], p_rows.size, q_rows.size
        self._const, self._p, self._q = const, (p_rows, p_coef), (q_rows, q_coef)

    def fill(self, p: F64, q: F64, out: F64, finite: NDArray[np.uint8] | None = None) -> None:
        """``out`` (2, n_rows, T) = the injections of the steps in the rows of ``p`` (T, n_p) and ``q``
        (T, n_q); ``finite`` (T,) if given: 1 where every input of the step is finite, else 0."""
        out[0] = self._const[0][:, None]
        out[1] = self._const[1][:, None]
        for part, x, (rows, coef) in ((out[0], p, self._p), (out[1], q, self._q)):
            used = rows >= 0
            np.add.at(part, rows[used], (x[:, used] * coef[used]).T)
        if finite is not None:
            finite[:] = np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1)
