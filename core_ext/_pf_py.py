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
        if any is NaN); then the next right-hand side conj(S / V_new) at row ``rhs_row[j]``."""
        new = self._v0[:, None] + _complex(y)[self._sol_row]
        diff = new - _complex(v)
        d = diff.real**2 + diff.imag**2
        if d.shape[0]:
            dv2[:] = np.where(np.isnan(d).any(axis=0), np.nan, np.max(d, axis=0, initial=0.0))
        else:
            dv2[:] = 0.0
        _store(new, v)
        self.injection(v, s, rhs)


def _csr(indptr: I64, indices: I64, data: F64, n_cols: int) -> sp.csr_array:
    return sp.csr_array((_complex(data), indices, indptr), shape=(indptr.size - 1, n_cols))


def spmv(indptr: I64, indices: I64, data: F64, v: F64, out: F64) -> None:
    """out (2, rows, T) = M v for a sparse complex M (CSR)."""
    _store(np.asarray(_csr(indptr, indices, data, v.shape[1]) @ _complex(v)), out)


def branch_flows(
    from_bus: I64, to_bus: I64, y: F64, scale_from: F64, scale_to: F64, v: F64, loading: F64, losses: F64
) -> None:
    """Branch b: I_f = yff V_f + yft V_t, I_t = ytf V_f + ytt V_t (``y[b]`` = re, im of yff, yft, ytf,
    ytt); loading = max(|I_f| scale_from, |I_t| scale_to) (OUT); losses += Re(V_f conj(I_f)) +
    Re(V_t conj(I_t)) (IN/OUT)."""
    if loading.shape[0] == 0 or v.shape[2] == 0:
        return
    volts = _complex(v)
    coef = y[:, 0::2] + 1j * y[:, 1::2]  # (n_branches, 4): yff, yft, ytf, ytt
    v_f, v_t = volts[from_bus], volts[to_bus]
    i_from = coef[:, 0, None] * v_f + coef[:, 1, None] * v_t
    i_to = coef[:, 2, None] * v_f + coef[:, 3, None] * v_t
    loading[:] = np.maximum(np.abs(i_from) * scale_from[:, None], np.abs(i_to) * scale_to[:, None])
    losses += (v_f * np.conj(i_from) + v_t * np.conj(i_to)).real.sum(axis=0)


def magnitude(v: F64, bus_pos: I64, out: F64) -> None:
    """out[j] = |v[bus_pos[j]]| per step, NaN where bus_pos[j] < 0."""
    if out.shape[0] == 0 or v.shape[2] == 0:
        return
    out[:] = np.where(bus_pos[:, None] >= 0, np.abs(_complex(v)[np.maximum(bus_pos, 0)]), np.nan)
