"""Per-phase sensitivities of the unbalanced load flow: phase voltages and line loadings vs. charging power.

The unbalanced fixed point (``unbalanced_model``) solves, per sequence q = 0, 1, 2 on the PQ buses,
V_q = V0_q + Z_q I_q with I012 = T^-1 I_abc and V_abc = T V012 (T = [[1, 1, 1], [1, a^2, a], [1, a, a^2]]).
A small change dP_c (kW, consumption) of a charger at bus c with the share s_cf of its power on phase f
(1 on its phase for a single-phase charger, 1/3 each for a three-phase one) changes the constant-power
injection of that phase by dS_cf = -s_cf dP_c / (1000 base_mva), hence its current by
dI_cf = conj(dS_cf / V_cf). Holding every other load's current, as the balanced model does
(``sim.grid.sensitivity``), the phase voltages of every bus b move by

    dV_abc[b] = sum_f T diag(Z0[b, c], Z1[b, c], Z2[b, c]) T^-1 e_f w_cf dP_c,
    w_cf = -s_cf / (1000 base_mva conj(V_cf)),

so d|V_bk| / dP_c = Re(conj(V_bk) dV_bk) / |V_bk|. The phase-domain columns
``T diag(Z0, Z1, Z2) T^-1 e_f`` (one per charger bus and phase f: a unit current injected on that
phase) are computed once per topology with the load flow's own factors (three triangular solves per
charger bus, the chain-eliminated buses by ``expand``), and a branch's phase currents follow as in
``unbalanced_model``'s results: per sequence dI_from = yff dV_from + yft dV_to (dI_to likewise), then
T dI012. A line's loading is its largest phase current of both ends: its row follows the side and
phase that are the largest now (``scale`` |I|, d|I| = Re(conj(I) dI) / |I|); another phase that
overtakes it is seen at the next re-linearisation (grid-aware strategies keep a margin).

Voltage rows are bus-phase pairs (``phase_rows = True``: row 3 b + k is ``vm_phase_pu[b, k]``), line and
transformer rows are the feeder's lines and transformers, as ``GridState.line_loading_percent``.
The neglected growth of the other loads' currents as the voltage sags makes a change about the
feeder's relative voltage drop (a few per cent) larger than predicted, as in the balanced mode.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from sim.domain import ChargerTable, GridState
from sim.domain.grid_state import BranchKind
from sim.grid.sensitivity import feeder_position_of_internal
from sim.grid.unbalanced import charger_phase_shares
from sim.grid.unbalanced_model import SEQUENCE_TO_PHASE, PhaseBranches, SequenceModel, build_sequence_model

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
C128 = NDArray[np.complex128]
PHASE_TO_SEQUENCE = np.linalg.inv(SEQUENCE_TO_PHASE)  # I012 = T^-1 I_abc
ROUND_UP = 1.0 + 1e-5  # keeps the float32 bound matrix a bound


class PhaseLinearisation:
    """Per topology: the phase-domain impedance columns at the charger buses; ``at(state)`` gives the
    sensitivities at one unbalanced solution (it must carry ``vm_phase_pu`` and ``va_phase_degree``)."""

    def __init__(self, model: SequenceModel, bus_ids: tuple[int, ...], chargers: ChargerTable) -> None:
        self.model = model
        self.n_feeder_bus = len(bus_ids)
        position = {int(b): k for k, b in enumerate(bus_ids)}
        internal = (model.bus_pos[[position[int(b)] for b in chargers.bus]] if len(chargers)
                    else np.zeros(0, np.int64))
        kept_bus = model.pq[model.kept]
        kept_of_internal = np.full(model.n_bus, -1, dtype=np.int64)
        kept_of_internal[kept_bus] = np.arange(kept_bus.size)
        charger_kept = np.where(internal >= 0, kept_of_internal[np.maximum(internal, 0)], -1)
        # one column bus per distinct kept bus with a charger (chargers on the slack: no column, no effect)
        self.column_kept, column = np.unique(charger_kept[charger_kept >= 0], return_inverse=True)
        self.column_bus = kept_bus[self.column_kept]  # internal bus of each column bus
        n_cols = 3 * self.column_kept.size  # column 3 k + f: a unit current on phase f at column bus k
        shares = charger_phase_shares(chargers)
        self.charger_share = np.zeros((n_cols, len(chargers)))  # column -> charger: the charger's phase shares
        has = np.flatnonzero(charger_kept >= 0)
        for c, k in zip(has, np.asarray(column).reshape(-1), strict=True):
            self.charger_share[3 * k:3 * k + 3, c] = shares[c]
        # only the phases a charger loads: a bus with single-phase chargers on one phase needs one column
        self.used_columns = np.flatnonzero(self.charger_share.any(axis=1))
        self.charger_share = self.charger_share[self.used_columns]
        self.n_chargers = len(chargers)

    @classmethod
    def for_loadflow(cls, loadflow: object, chargers: ChargerTable) -> PhaseLinearisation:
        """From a ``FastUnbalancedLoadFlow`` (its ``sequence_model``) or a ``Pandapower3phLoadFlow`` (the
        same model built once from its net, without the chain elimination: nothing is driven there, so
        every bus must keep its row; ``UnsupportedNetworkError`` where the fixed point cannot describe
        the network). A charger on a bus the model eliminated or on the slack has no effect (zero column)."""
        model = getattr(loadflow, "sequence_model", None)
        if model is None:
            model = build_sequence_model(loadflow.net, bus_ids=loadflow.bus_ids,  # type: ignore[attr-defined]
                                         line_ids=loadflow.line_ids, trafo_ids=loadflow.trafo_ids,  # type: ignore[attr-defined]
                                         p_elements=[], q_elements=[], eliminate=False)  # every bus kept
        return cls(model, loadflow.bus_ids, chargers)  # type: ignore[attr-defined]

    @cached_property
    def z_phase(self) -> C128:
        """(n_bus, 3, n_used): dV_abc of every internal bus per unit current on phase f at column bus k
        (column 3 k + f, of those in ``used_columns``), T diag(Z0, Z1, Z2) T^-1 e_f, from one solve per
        sequence and column bus."""
        m = self.model
        n_kept, n_col_bus = m.n_kept, self.column_kept.size
        dv012 = np.zeros((3, m.n_bus, n_col_bus), dtype=complex)  # Z_q[:, k]: a unit current at column bus k
        for q in range(3):
            rhs = np.zeros((2, n_kept, n_col_bus))
            rhs[0, m.rhs_row[q, self.column_kept], np.arange(n_col_bus)] = 1.0
            m.systems[q].lu_solve(rhs)
            z_kept = (rhs[0] + 1j * rhs[1])[m.sol_row[q]]  # (n_kept, n_col_bus) in the common order
            e = m.expand[q]
            expand = sp.csr_matrix((e.data[0] + 1j * e.data[1], e.indices, e.indptr), shape=(m.n_bus, n_kept))
            dv012[q] = expand @ z_kept
        # unit current on phase f: I012 = T^-1 e_f; per sequence Z_q I_q; back to phases with T
        per_phase = np.einsum("pq,qbk,qf->bpkf", SEQUENCE_TO_PHASE, dv012, PHASE_TO_SEQUENCE)
        return np.ascontiguousarray(per_phase.reshape(m.n_bus, 3, 3 * n_col_bus)[:, :, self.used_columns])

    def branch_currents(self, kind: BranchKind) -> tuple[C128, C128]:
        """dI_abc per unit column current of every in-model line or transformer, from and to side:
        (n_in_model, 3, n_used) each."""
        return self._branch_currents[kind]

    @cached_property
    def _branch_currents(self) -> dict[str, tuple[C128, C128]]:
        z012 = np.einsum("qp,bpk->qbk", PHASE_TO_SEQUENCE, self.z_phase)  # back to sequences per bus
        out = {}
        for kind, branches in (("line", self.model.lines), ("trafo", self.model.trafos)):
            yff, yft, ytf, ytt = admittances(branches)  # (3, n)
            z_f, z_t = z012[:, branches.from_bus], z012[:, branches.to_bus]
            di_f = yff[:, :, None] * z_f + yft[:, :, None] * z_t
            di_t = ytf[:, :, None] * z_f + ytt[:, :, None] * z_t
            out[kind] = (np.einsum("pq,qnk->npk", SEQUENCE_TO_PHASE, di_f),
                         np.einsum("pq,qnk->npk", SEQUENCE_TO_PHASE, di_t))
        return out

    @cached_property
    def z_rows(self) -> C128:
        """(3 n_feeder_bus, n_used): ``z_phase`` at every feeder bus-phase row 3 b + k (0 outside the model)."""
        pos = self.model.bus_pos
        z = np.where((pos >= 0)[:, None, None], self.z_phase[np.maximum(pos, 0)], 0.0)
        return np.ascontiguousarray(z.reshape(3 * pos.size, -1))

    @cached_property
    def bound_matrix(self) -> NDArray[np.float32]:
        """|dV| of every feeder bus-phase row per unit |column current|, then |d loading| of every
        in-model line and transformer (largest phase and side): ``PhaseSensitivity.change_bounds`` is
        one matrix-vector product. float32, rounded up by one part in 10^5."""
        blocks = [np.abs(self.z_rows)]
        for kind, branches in (("line", self.model.lines), ("trafo", self.model.trafos)):
            di_f, di_t = self._branch_currents[kind]
            side = np.maximum(branches.scale_from[:, None, None] * np.abs(di_f),
                              branches.scale_to[:, None, None] * np.abs(di_t))
            blocks.append(side.max(axis=1) * branches.peak_scale[:, None])
        return np.ascontiguousarray(np.concatenate(blocks) * ROUND_UP, dtype=np.float32)

    @cached_property
    def feeder_pos_of_internal(self) -> I64:
        """For each internal bus, a feeder bus position mapped to it (-1: none)."""
        return feeder_position_of_internal(self.model.bus_pos, self.model.n_bus)

    def at(self, state: GridState) -> PhaseSensitivity:
        """The sensitivities at ``state``'s solution."""
        if state.vm_phase_pu is None or state.va_phase_degree is None:
            raise ValueError("a per-phase linearisation needs the phase voltages and angles "
                             "(GridState.vm_phase_pu and va_phase_degree, from an unbalanced load flow)")
        return PhaseSensitivity(self, state)


class PhaseSensitivity:
    """``GridSensitivity`` at one unbalanced solution; voltage rows are bus-phase pairs (3 b + k)."""

    phase_rows = True

    def __init__(self, lin: PhaseLinearisation, state: GridState) -> None:
        self._lin = lin
        self._state = state
        self._last_bounds: tuple[F64, tuple[F64, F64, F64]] | None = None

    def _v(self, internal: I64) -> C128:
        """(len(internal), 3) complex phase voltages (pu) at internal buses; a balanced 1 pu where the
        state has none (an internal bus without a feeder bus)."""
        lin, state = self._lin, self._state
        assert state.vm_phase_pu is not None and state.va_phase_degree is not None
        pos = lin.feeder_pos_of_internal[internal]
        v = np.tile(SEQUENCE_TO_PHASE[:, 1], (internal.size, 1))
        ok = pos >= 0
        v[ok] = state.vm_phase_pu[pos[ok]] * np.exp(1j * np.deg2rad(state.va_phase_degree[pos[ok]]))
        return v

    @cached_property
    def _w(self) -> C128:
        """dI per kW of the column's phase: -1 / (1000 base_mva conj(V_cf)), per column (3 k + f)."""
        v_c = self._v(self._lin.column_bus).reshape(-1)[self._lin.used_columns]
        return np.asarray(-1.0 / (1000.0 * self._lin.model.base_mva * np.conj(v_c)), dtype=complex)

    # --- GridSensitivity ----------------------------------------------------------------------
    def dvm_dp_pu_per_kw(self, bus_positions: I64) -> F64:
        """d|V_bk| / dP_c for rows 3 b + k (pu per kW), (len(bus_positions), n_chargers)."""
        rows = np.asarray(bus_positions, dtype=np.int64)
        unit = self._unit_rows[rows]
        per_column = ((unit[:, None] * self._w[None, :]) * self._lin.z_rows[rows]).real
        return per_column @ self._lin.charger_share

    @cached_property
    def _unit_rows(self) -> C128:
        """conj(V_bk) / |V_bk| of every feeder bus-phase row 3 b + k (0 for an isolated bus)."""
        state = self._state
        assert state.vm_phase_pu is not None and state.va_phase_degree is not None
        unit = np.exp(-1j * np.deg2rad(state.va_phase_degree.reshape(-1)))
        return np.where(np.isfinite(unit) & np.isfinite(state.vm_phase_pu.reshape(-1)), unit, 0.0)

    def dloading_dp_percent_per_kw(self, kind: BranchKind, positions: I64) -> F64:
        """d loading / dP_c of lines or transformers (percentage points per kW): of the side and phase
        whose current is the largest now."""
        branches = _branches(self._lin, kind)
        row_of = np.full(len(branches), -1, dtype=np.int64)
        row_of[branches.in_model] = np.arange(branches.in_model.size)
        r_all = row_of[np.asarray(positions, dtype=np.int64)]
        ok = r_all >= 0
        out = np.zeros((r_all.size, self._w.size))
        r = r_all[ok]
        if r.size:
            yff, yft, ytf, ytt = (a[:, r] for a in admittances(branches))
            v = self._v(np.concatenate([branches.from_bus[r], branches.to_bus[r]]))
            v012 = v @ PHASE_TO_SEQUENCE.T  # (2 n, 3)
            v_f, v_t = v012[: r.size].T, v012[r.size:].T  # (3, n)
            i_f = (SEQUENCE_TO_PHASE @ (yff * v_f + yft * v_t)).T  # (n, 3) phase currents
            i_t = (SEQUENCE_TO_PHASE @ (ytf * v_f + ytt * v_t)).T
            from_scaled = np.abs(i_f) * branches.scale_from[r, None]
            to_scaled = np.abs(i_t) * branches.scale_to[r, None]
            from_side = from_scaled.max(axis=1) >= to_scaled.max(axis=1)
            phase = np.where(from_side, from_scaled.argmax(axis=1), to_scaled.argmax(axis=1))
            n = np.arange(r.size)
            current = np.where(from_side, i_f[n, phase], i_t[n, phase])
            scale = np.where(from_side, branches.scale_from[r], branches.scale_to[r]) * branches.peak_scale[r]
            di_f, di_t = self._lin.branch_currents(kind)
            d_current = np.where(from_side[:, None], di_f[r, phase], di_t[r, phase]) * self._w
            size = np.abs(current)
            flowing = size > 1e-12
            along = np.where(flowing, np.conj(current) / np.where(flowing, size, 1.0), 0.0)
            d_size = np.where(flowing[:, None], (along[:, None] * d_current).real, np.abs(d_current))
            out[ok] = scale[:, None] * d_size
        return out @ self._lin.charger_share

    def change_bounds(self, dp_kw: F64) -> tuple[F64, F64, F64]:
        """Bounds on the first-order change of every bus-phase voltage (3 b + k), line and transformer
        loading when every charger's power changes by at most ``|dp_kw|``."""
        dp = np.abs(np.asarray(dp_kw, dtype=float))
        last = self._last_bounds  # a strategy asks twice per decision (lower and upper voltage rows)
        if last is not None and np.array_equal(last[0], dp):
            return last[1]
        lin = self._lin
        per_column = lin.charger_share @ dp
        change = (np.abs(self._w) * per_column * ROUND_UP).astype(np.float32)
        stacked = (lin.bound_matrix @ change).astype(float)
        n_vm = 3 * lin.n_feeder_bus
        out = [stacked[:n_vm]]
        start = n_vm
        for branches in (lin.model.lines, lin.model.trafos):
            k = branches.in_model.size
            loading = np.zeros(len(branches))
            loading[branches.in_model] = stacked[start:start + k]
            out.append(loading)
            start += k
        self._last_bounds = (dp, (out[0], out[1], out[2]))
        return out[0], out[1], out[2]


def admittances(branches: PhaseBranches) -> tuple[C128, C128, C128, C128]:
    """yff, yft, ytf, ytt per sequence, each (3, n_in_model), from ``PhaseBranches.y``."""
    y = branches.y
    return tuple(y[:, :, 2 * k] + 1j * y[:, :, 2 * k + 1] for k in range(4))  # type: ignore[return-value]


def _branches(lin: PhaseLinearisation, kind: BranchKind) -> PhaseBranches:
    if kind == "line":
        return lin.model.lines
    if kind == "trafo":
        return lin.model.trafos
    raise ValueError(f"unknown branch kind {kind!r}; expected 'line' or 'trafo'")
