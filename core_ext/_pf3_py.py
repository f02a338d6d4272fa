"""The pure numpy twin of the unbalanced load-flow kernels (``_pf3.pyx``): the executable specification.

Layouts (split complex, real parts first, the time step as the inner dimension):

* ``v`` (3, 2, n, T): the sequence voltages V0, V1, V2 of the n kept buses;
* ``s`` (2, 3 n, T): the per-phase injections (pu, generation positive), row ``phase * n + j``;
* ``rhs`` / ``y`` (3, 2, n, T): one right-hand side (solution) per sequence system, bus j at row
  ``rhs_row[q, j]`` (``sol_row[q, j]``) of sequence q's system.

The phase quantities are X_abc = T X012 with T = [[1, 1, 1], [1, a^2, a], [1, a, a^2]],
a = exp(2 pi j / 3), and X012 = T^-1 X_abc; each bus is a wye load, I_abc = conj(S_abc / V_abc).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
C128 = NDArray[np.complex128]

_A = np.exp(2j * np.pi / 3)
_T = np.array([[1, 1, 1], [1, _A**2, _A], [1, _A, _A**2]])
_T_INV = np.array([[1, 1, 1], [1, _A, _A**2], [1, _A**2, _A]]) / 3.0


def _complex(a: F64) -> C128:
    out: C128 = a[0] + 1j * a[1]
    return out


def _sequences(v: F64) -> C128:
    """(3, 2, n, T) split -> (3, n, T) complex."""
    out: C128 = v[:, 0] + 1j * v[:, 1]
    return out


def _store_sequences(z: C128, out: F64) -> None:
    out[:, 0] = z.real
    out[:, 1] = z.imag


def to_phases(x012: C128) -> C128:
    """(3, ...) sequence components -> phase values."""
    return np.tensordot(_T, x012, axes=1)


def to_sequences(x_abc: C128) -> C128:
    """(3, ...) phase values -> sequence components."""
    return np.tensordot(_T_INV, x_abc, axes=1)


class Sequences:
    """The rows of the three sequence systems (``rhs_row``, ``sol_row``: (3, n)) and the no-load
    sequence voltages ``v0`` (3, 2, n) of the kept buses."""

    def __init__(self, rhs_row: I64, sol_row: I64, v0: F64) -> None:
        self.n = int(v0.shape[2])
        self._rhs_row, self._sol_row, self._v0 = rhs_row, sol_row, _sequences(v0)

    def currents(self, v: F64, s: F64, rhs: F64) -> None:
        """The sequence currents T^-1 conj(S_abc / (T V012)) of every kept bus and step into ``rhs``."""
        n, n_t = self.n, v.shape[3]
        s_abc = _complex(s).reshape(3, n, n_t)
        with np.errstate(invalid="ignore", divide="ignore"):
            i012 = to_sequences(np.conj(s_abc / to_phases(_sequences(v))))
        for q in range(3):
            rhs[q, 0, self._rhs_row[q]] = i012[q].real
            rhs[q, 1, self._rhs_row[q]] = i012[q].imag

    def update(self, y: F64, s: F64, v: F64, rhs: F64, last: F64, iterations: I64, k: int, tolerance_pu: float) -> int:
        """After the three solves ``y``: V_q = V0_q + y_q[sol_row[q]] (IN/OUT ``v``), the next currents into
        ``rhs`` (a different array than ``y``), and the convergence test of iteration ``k``: dv is the
        largest change of a phase voltage of the step; step t converged when dv <= tol and
        dv^2 <= tol (last[t] - dv) (``fast_iter``'s contraction test; false for NaN); ``iterations[t]``
        (-1: not yet) gets k the first time, ``last[t]`` the change. Returns the unconverged steps."""
        solved = np.stack([_complex(y[q])[self._sol_row[q]] for q in range(3)])
        new = self._v0[:, :, None] + solved
        change = np.abs(to_phases(new - _sequences(v)))  # (3, n, T)
        n_t = v.shape[3]
        if change.shape[1]:
            finite = np.isfinite(change).all(axis=(0, 1))
            dv = np.where(finite, change.max(axis=(0, 1)), np.nan)
        else:
            dv = np.zeros(n_t)
        _store_sequences(new, v)
        self.currents(v, s, rhs)
        with np.errstate(invalid="ignore"):
            done = (dv <= tolerance_pu) & (dv * dv <= tolerance_pu * (last - dv))
        iterations[(iterations < 0) & done] = k
        last[:] = dv
        return int(np.count_nonzero(iterations < 0))


def phase_voltages(v: F64, bus_pos: I64, vm: F64, vuf: F64, v0m: F64) -> None:
    """Per output bus j (internal bus ``bus_pos[j]``, NaN where < 0) and step: ``vm`` (n, 3, T, any
    strides) the phase magnitudes |T V012|, ``vuf`` (n, T) = |V2| / |V1| * 100, ``v0m`` (n, T) = |V0|;
    ``v`` (3, 2, n_bus, T)."""
    if vm.shape[0] == 0 or v.shape[3] == 0:
        return
    z = _sequences(v)[:, np.maximum(bus_pos, 0)]  # (3, n, T)
    missing = (bus_pos < 0)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        vm[:] = np.where(missing[:, None], np.nan, np.moveaxis(np.abs(to_phases(z)), 0, 1))
        vuf[:] = np.where(missing, np.nan, np.abs(z[2]) / np.abs(z[1]) * 100.0)
        v0m[:] = np.where(missing, np.nan, np.abs(z[0]))


def branch_phase_flows(
    from_bus: I64,
    to_bus: I64,
    y: F64,
    scale_from: F64,
    scale_to: F64,
    peak_scale: F64,
    v: F64,
    value: F64,
    peak: F64,
    losses: F64,
    rows: I64,
) -> None:
    """Branch b (per sequence q: I_f = yff V_f + yft V_t, I_t = ytf V_f + ytt V_t, ``y[q, b]`` = re, im
    of yff, yft, ytf, ytt), its phase currents T I012 at both ends: ``value[rows[b], phase]`` (n_rows,
    3, T, any strides) = max(|I_f| scale_from, |I_t| scale_to); ``peak[rows[b]]`` (n_rows, T) = the
    largest of the three times ``peak_scale[b]``; ``losses`` (T,) += the real power into the branch
    from both ends, summed over the phases: Re(V_f conj(I_f) + V_t conj(I_t)) over a, b, c."""
    if from_bus.size == 0 or v.shape[3] == 0:
        return
    volts = _sequences(v)
    coef = y[:, :, 0::2] + 1j * y[:, :, 1::2]  # (3, n_br, 4)
    v_f, v_t = volts[:, from_bus], volts[:, to_bus]  # (3, n_br, T)
    i_f = coef[:, :, 0, None] * v_f + coef[:, :, 1, None] * v_t
    i_t = coef[:, :, 2, None] * v_f + coef[:, :, 3, None] * v_t
    i_f_abc, i_t_abc = to_phases(i_f), to_phases(i_t)
    both = np.maximum(np.abs(i_f_abc) * scale_from[None, :, None], np.abs(i_t_abc) * scale_to[None, :, None])
    value[rows] = np.moveaxis(both, 0, 1)
    peak[rows] = both.max(axis=0) * peak_scale[:, None]
    power = to_phases(v_f) * np.conj(i_f_abc) + to_phases(v_t) * np.conj(i_t_abc)
    losses += power.real.sum(axis=(0, 1))


def slack_phase_power(v: F64, current: F64, ref_bus: I64, out: F64) -> None:
    """``out`` (2, 3, T): the power per phase (P in ``[0]``, Q in ``[1]``, pu) the slack buses ``ref_bus``
    take from the net, from their sequence voltages (``v`` (3, 2, n_bus, T)) and currents (``current``
    (3, 2, n_ref, T)): V_abc conj(I_abc) summed over the slack buses."""
    if v.shape[3] == 0:
        return
    v_abc = to_phases(_sequences(v)[:, ref_bus])
    i_abc = to_phases(_sequences(current))
    power = (v_abc * np.conj(i_abc)).sum(axis=1)
    out[0] = power.real
    out[1] = power.imag
