"""Linear sensitivities of bus voltages and branch loadings to charging power, from the factorised Y_pp.

The fast load flow solves the current-injection fixed point on the PQ buses (``fast_model``):

    V = V0 + Z conj(S / V),   Z = Y_pp^-1.

A small change dP_c (kW, consumption) of the charger at bus c changes the injection there by
dS_c = -dP_c / (1000 base_mva), and to first order, holding the other buses' currents,

    dV = Z[:, c] conj(dS_c / V_c) = Z[:, c] w_c dP_c,    w_c = -1 / (1000 base_mva conj(V_c)),

so d|V_b| / dP_c = Re(conj(V_b) Z[b, c] w_c) / |V_b|. A branch current I = y_f V_f + y_t V_t moves by
y_f dV_f + y_t dV_t, and its loading (``scale`` |I|, the larger side as pandapower defines it) by
scale Re(conj(I) dI) / |I|. Holding the other constant-power loads' currents neglects how they grow
as the voltage sags: on an LV feeder that underestimates a drop by about the relative voltage drop
itself (a few per cent of the change); grid-aware strategies keep a margin for it.

The columns Z[:, c] are computed once per topology (one triangular solve per charger bus, with the
factors the load flow already has) when first asked for; per load-flow solution only the operating
point (the complex voltages) changes, so a ``Sensitivity`` costs nothing until a row is read.
The same model serves the pandapower solver: ``GridLinearisation.for_loadflow`` builds pandapower's
own admittance matrix once (``fast_model.build_model``) for a load flow that has none.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from sim.domain import ChargerTable, GridState
from sim.domain.grid_state import BranchKind
from sim.grid.fast_model import BranchSet, FastModel, build_model, factors_solve

if TYPE_CHECKING:
    from sim.grid.sensitivity3ph import PhaseLinearisation

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
C128 = NDArray[np.complex128]

VM_DROP_MARGIN_DEG = 1.0
"""How far below 90 degrees ``arg Z + angle difference`` must stay for ``vm_drop_bounds`` (the cosine
is then at least 0.017, far from any rounding of the entries)."""


class GridLinearisation:
    """Per topology: the impedance columns at the charger buses; ``at(state)`` gives a state's sensitivities."""

    def __init__(self, model: FastModel, bus_ids: tuple[int, ...], chargers: ChargerTable) -> None:
        self.model = model
        position = {int(b): k for k, b in enumerate(bus_ids)}
        internal = model.bus_pos[[position[int(b)] for b in chargers.bus]] if len(chargers) else np.zeros(0, np.int64)
        pq_position = np.full(model.n_bus, -1, dtype=np.int64)
        pq_position[model.pq] = np.arange(model.pq.size)
        charger_pq = np.where(internal >= 0, pq_position[np.maximum(internal, 0)], -1)
        # one column per distinct PQ bus with a charger; chargers on the slack or isolated: no column
        self.column_pq, column = np.unique(charger_pq[charger_pq >= 0], return_inverse=True)
        self.column_of_charger = np.full(len(chargers), -1, dtype=np.int64)
        self.column_of_charger[charger_pq >= 0] = column
        self.column_bus = model.pq[self.column_pq]  # internal bus of each column
        self.one_column_per_charger = bool(np.array_equal(self.column_of_charger, np.arange(len(chargers))))
        self.n_chargers = len(chargers)

    @classmethod
    def for_loadflow(cls, loadflow: object, chargers: ChargerTable) -> GridLinearisation | PhaseLinearisation:
        """From a ``FastLoadFlow`` (its model) or a ``PandapowerLoadFlow`` (pandapower's Ybus built
        once from its net); for an unbalanced load flow the per-phase ``PhaseLinearisation``
        (``sim.grid.sensitivity3ph``). Raises ``fast_model.UnsupportedNetworkError`` for a network the
        current-injection model cannot describe (voltage-controlled generators, ...)."""
        from sim.grid.sensitivity3ph import PhaseLinearisation
        from sim.grid.unbalanced import FastUnbalancedLoadFlow, Pandapower3phLoadFlow

        if isinstance(loadflow, FastUnbalancedLoadFlow | Pandapower3phLoadFlow):
            return PhaseLinearisation.for_loadflow(loadflow, chargers)
        model = getattr(loadflow, "model", None)
        bus_ids: tuple[int, ...] = loadflow.bus_ids  # type: ignore[attr-defined]
        if model is None:
            model = build_model(loadflow.net, bus_ids=bus_ids,  # type: ignore[attr-defined]
                                line_ids=loadflow.line_ids, trafo_ids=loadflow.trafo_ids,  # type: ignore[attr-defined]
                                p_elements=[], q_elements=[])
        return cls(model, bus_ids, chargers)

    @cached_property
    def z(self) -> C128:
        """Z[:, c] for every internal bus (rows) and charger column (slack rows are 0)."""
        m = self.model
        z = np.zeros((m.n_bus, self.column_pq.size), dtype=complex)
        for k, pq in enumerate(self.column_pq):
            unit = np.zeros(m.pq.size, dtype=complex)
            unit[pq] = 1.0
            z[m.pq, k] = factors_solve(m.factors, unit)
        return z

    def branch_currents(self, kind: BranchKind) -> tuple[C128, C128]:
        """dI / dI_c of every in-model line or transformer, from and to side (rows: in-model order):
        y_ff Z[f] + y_ft Z[t] and y_tf Z[f] + y_tt Z[t]."""
        return self._branch_currents[kind]

    @cached_property
    def _branch_currents(self) -> dict[str, tuple[C128, C128]]:
        out = {}
        for kind, branches in (("line", self.model.lines), ("trafo", self.model.trafos)):
            yff, yft, ytf, ytt = _admittances(branches.y)
            z_f, z_t = self.z[branches.from_bus], self.z[branches.to_bus]
            out[kind] = (yff[:, None] * z_f + yft[:, None] * z_t, ytf[:, None] * z_f + ytt[:, None] * z_t)
        return out

    def admittances(self, kind: BranchKind) -> C128:
        """yff, yft, ytf, ytt of every in-model line or transformer, as a (4, n) complex array."""
        return self._admittances[kind]

    @cached_property
    def _admittances(self) -> dict[str, C128]:
        return {kind: np.array(_admittances(b.y)) for kind, b in (("line", self.model.lines), ("trafo", self.model.trafos))}

    def row_in_model(self, kind: BranchKind) -> I64:
        """For each line (transformer) position, its row among the in-model ones (-1: outside)."""
        return self._row_in_model[kind]

    @cached_property
    def _row_in_model(self) -> dict[str, I64]:
        out = {}
        for kind, branches in (("line", self.model.lines), ("trafo", self.model.trafos)):
            row = np.full(len(branches), -1, dtype=np.int64)
            row[branches.in_model] = np.arange(branches.in_model.size)
            out[kind] = row
        return out

    @cached_property
    def bound_matrix(self) -> NDArray[np.float32]:
        """|dV| per unit |dI_c| for every feeder bus, then |d loading| per unit |dI_c| of every in-model
        line and transformer (the larger of its two sides, element by element): one stacked matrix,
        so ``Sensitivity.change_bounds`` is a single matrix-vector product. Stored in float32, rounded
        up by one part in 10^5, which keeps it a bound and halves the memory the product streams."""
        pos = self.model.bus_pos
        blocks = [np.where((pos >= 0)[:, None], np.abs(self.z[np.maximum(pos, 0)]), 0.0)]
        for kind, branches in (("line", self.model.lines), ("trafo", self.model.trafos)):
            di_from, di_to = self._branch_currents[kind]
            blocks.append(np.maximum(branches.scale_from[:, None] * np.abs(di_from),
                                     branches.scale_to[:, None] * np.abs(di_to)))
        return np.ascontiguousarray(np.concatenate(blocks) * (1.0 + 1e-5), dtype=np.float32)

    @cached_property
    def bound_column_max(self) -> tuple[F64, F64, F64]:
        """The largest entry of each column of ``bound_matrix``'s bus, line and transformer blocks
        (``Sensitivity.largest_changes``)."""
        n_bus, n_line = self.model.bus_pos.size, self.model.lines.in_model.size
        blocks = np.split(self.bound_matrix.astype(float), [n_bus, n_bus + n_line])
        return tuple(b.max(axis=0) if b.shape[0] else np.zeros(b.shape[1]) for b in blocks)  # type: ignore[return-value]

    @cached_property
    def feeder_pos_of_internal(self) -> I64:
        """For each internal bus, a feeder bus position mapped to it (-1: none, e.g. auxiliary buses)."""
        return feeder_position_of_internal(self.model.bus_pos, self.model.n_bus)

    @cached_property
    def slack_voltage_of_internal(self) -> C128:
        """The set voltage of each slack bus, NaN for every other internal bus."""
        v = np.full(self.model.n_bus, np.nan, dtype=complex)
        v[self.model.ref] = self.model.v_slack
        return v

    @cached_property
    def column_feeder_pos(self) -> I64:
        """A feeder bus position at each column's internal bus (where the state's vm is read)."""
        return self.feeder_pos_of_internal[self.column_bus]

    @cached_property
    def pq_feeder_pos(self) -> I64:
        """The feeder bus positions whose internal bus is a PQ bus (the rows with a sensitivity)."""
        is_pq = np.zeros(self.model.n_bus, dtype=bool)
        is_pq[self.model.pq] = True
        pos = self.model.bus_pos
        return np.flatnonzero((pos >= 0) & is_pq[np.maximum(pos, 0)])

    @cached_property
    def every_column_on_a_feeder_bus(self) -> bool:
        return bool(np.all(self.column_feeder_pos >= 0))

    @cached_property
    def vm_drop_angle_spread_deg(self) -> float:
        """The largest voltage-angle difference (degrees) between a charger's bus and any bus at
        which ``Sensitivity.vm_drop_bounds`` still proves that charging lowers every voltage:
        every ``|arg Z + difference|`` must stay at least a degree below 90. 0: never."""
        z = self.z
        arg_deg = np.degrees(np.angle(z[z != 0]))
        if arg_deg.size == 0:
            return 90.0 - VM_DROP_MARGIN_DEG
        return max(0.0, min(90.0 - VM_DROP_MARGIN_DEG - float(arg_deg.max()),
                            90.0 - VM_DROP_MARGIN_DEG + float(arg_deg.min())))

    def at(self, state: GridState) -> Sensitivity:
        """The sensitivities at ``state``'s solution (it must carry ``va_degree``)."""
        if state.va_degree is None:
            raise ValueError("a linearisation needs the voltage angles (GridState.va_degree)")
        return Sensitivity(self, state)


class Sensitivity:
    """``GridSensitivity`` at one solution; the complex voltages and rows are computed on demand."""

    def __init__(self, lin: GridLinearisation, state: GridState) -> None:
        self._lin = lin
        self._state = state
        vm_c = np.asarray(state.vm_pu)[lin.column_feeder_pos] if lin.column_bus.size else np.zeros(0)
        self._w_abs = 1.0 / (1000.0 * lin.model.base_mva * vm_c)  # |dV| per kW per unit |Z|, per column

    def _v(self, internal: I64) -> C128:
        """Complex voltages (pu) at the given internal buses, from the state's magnitude and angle."""
        lin, state = self._lin, self._state
        assert state.va_degree is not None
        pos = lin.feeder_pos_of_internal[internal]
        v = np.ones(internal.size, dtype=complex)
        ok = pos >= 0
        v[ok] = state.vm_pu[pos[ok]] * np.exp(1j * np.deg2rad(state.va_degree[pos[ok]]))
        slack = lin.slack_voltage_of_internal[internal]
        return np.where(np.isnan(slack), v, slack)

    @cached_property
    def _w(self) -> C128:
        """dV per kW of charging at each column, per unit of Z: -1 / (1000 base_mva conj(V_c))."""
        return -1.0 / (1000.0 * self._lin.model.base_mva * np.conj(self._v(self._lin.column_bus)))

    # --- GridSensitivity ----------------------------------------------------------------------
    def dvm_dp_pu_per_kw(self, bus_positions: I64) -> F64:
        internal = self._lin.model.bus_pos[np.asarray(bus_positions, dtype=np.int64)]
        ok = internal >= 0
        rows = np.zeros((internal.size, self._w.size))
        b = internal[ok]
        v_b = self._v(b)
        unit = np.conj(v_b) / np.abs(v_b)
        rows[ok] = (unit[:, None] * self._lin.z[b] * self._w[None, :]).real
        return self._per_charger(rows)

    def dloading_dp_percent_per_kw(self, kind: BranchKind, positions: I64) -> F64:
        branches = self._branches(kind)
        row_of = self._lin.row_in_model(kind)[np.asarray(positions, dtype=np.int64)]
        ok = row_of >= 0
        out = np.zeros((row_of.size, self._w.size))
        r = row_of[ok]
        if r.size:
            from_side, current, scale = self._loaded_side(kind, branches, r)
            di_from, di_to = self._lin.branch_currents(kind)
            d_current = np.where(from_side[:, None], di_from[r], di_to[r]) * self._w
            size = np.abs(current)
            if np.all(size > 1e-12):  # d|I| = Re(conj(I) dI) / |I|
                d_size = ((np.conj(current) / size)[:, None] * d_current).real
            else:  # from no flow at all, |I| grows like |dI|
                flowing = size > 1e-12
                along = np.where(flowing, np.conj(current) / np.where(flowing, size, 1.0), 0.0)
                d_size = np.where(flowing[:, None], (along[:, None] * d_current).real, np.abs(d_current))
            out[ok] = scale[:, None] * d_size
        return self._per_charger(out)

    def change_bounds(self, dp_kw: F64) -> tuple[F64, F64, F64]:
        vm_bound = self._bound_rows(slice(0, self._lin.model.bus_pos.size), dp_kw).astype(float)
        return (vm_bound, *self.loading_change_bounds(dp_kw))

    def loading_change_bounds(self, dp_kw: F64) -> tuple[F64, F64]:
        """The line and transformer parts of ``change_bounds`` alone (same values)."""
        lin = self._lin
        start = lin.model.bus_pos.size
        stacked = self._bound_rows(slice(start, lin.bound_matrix.shape[0]), dp_kw)
        out = []
        start = 0
        for branches in (lin.model.lines, lin.model.trafos):
            k = branches.in_model.size
            if branches.all_in_model:
                out.append(stacked[start:start + k].astype(float))
            else:
                loading = np.zeros(len(branches))
                loading[branches.in_model] = stacked[start:start + k]
                out.append(loading)
            start += k
        return out[0], out[1]

    def vm_drop_bounds(self, increase_kw: F64) -> F64 | None:
        """Upper bounds on each feeder bus's first-order voltage *drop* (pu) when every charger's
        power rises by at most ``increase_kw`` (>= 0) and may fall by any amount; None where this
        state does not guarantee that charging lowers every voltage.

        Why it holds: ``dvm_dp[b, c] = -|Z[b, c]| cos(arg Z[b, c] + va_c - va_b) / (1000 base_mva vm_c)``
        (the module docstring's formula with the voltages written in polar form). Where every
        ``|arg Z + va_c - va_b|`` stays a degree below 90, every entry is <= 0: a charger that draws
        less only raises voltages, so the drop is bounded by the increases alone. The charging power
        already flowing then does not count, which makes this bound far tighter than
        ``change_bounds`` (whose ``|dp_kw|`` must cover a charger going from its present power to
        zero): on the IEEE European LV feeder it leaves about 1 % of the candidate buses."""
        if not self._charging_lowers_every_voltage:
            return None
        return self._bound_rows(slice(0, self._lin.model.bus_pos.size), increase_kw).astype(float)

    def largest_changes(self, increase_kw: F64, dp_kw: F64) -> tuple[float | None, float, float]:
        """One number per kind, at least every entry of ``vm_drop_bounds(increase_kw)`` (None where
        that is None), of the line and of the transformer part of ``loading_change_bounds(dp_kw)``:
        each charger's change times the largest entry of its column (``bound_column_max``). A kind
        whose elements are all further from their limits than this has no row that could bind, and
        its bounds need not be computed (on the IEEE European LV feeder: 99 % of the decisions for
        voltages, 87 % for lines)."""
        column_max = self._lin.bound_column_max
        up = 1.0 + 1e-5  # covers the float32 rounding of the bounds' matrix products
        vm_drop = None
        if self._charging_lowers_every_voltage:
            vm_drop = float(column_max[0] @ self._column_change(increase_kw)) * up
        change = self._column_change(dp_kw)
        return vm_drop, float(column_max[1] @ change) * up, float(column_max[2] @ change) * up

    def _column_change(self, dp_kw: F64) -> F64:
        """The largest current change per column (pu per unit of Z) for charger changes ``|dp_kw|``,
        rounded up by one part in 10^5."""
        lin = self._lin
        dp_abs = np.abs(np.asarray(dp_kw, dtype=float))
        if lin.one_column_per_charger:
            per_column = dp_abs
        else:
            has = lin.column_of_charger >= 0
            per_column = np.bincount(lin.column_of_charger[has], dp_abs[has], minlength=self._w_abs.size)
        return self._w_abs * per_column * (1.0 + 1e-5)

    def _bound_rows(self, rows: slice, dp_kw: F64) -> NDArray[np.float32]:
        """Rows ``rows`` of ``bound_matrix`` times the largest current change per column for
        ``|dp_kw|`` (rounded up, float32)."""
        return self._lin.bound_matrix[rows] @ self._column_change(dp_kw).astype(np.float32)

    @cached_property
    def _charging_lowers_every_voltage(self) -> bool:
        """Whether every angle difference between a charger's bus and a bus with a sensitivity is
        within ``vm_drop_angle_spread_deg`` in this state (once per state; NaN angles: no)."""
        lin, va = self._lin, self._state.va_degree
        assert va is not None
        spread = lin.vm_drop_angle_spread_deg
        if spread <= 0.0:
            return False
        pos = lin.column_feeder_pos
        rows = va[lin.pq_feeder_pos]
        cols = va[pos] if lin.every_column_on_a_feeder_bus else np.where(pos >= 0, va[np.maximum(pos, 0)], 0.0)
        if rows.size == 0 or cols.size == 0:
            return True  # no entry at all: every one is 0
        widest = max(float(cols.max()) - float(rows.min()), float(rows.max()) - float(cols.min()))
        return widest <= spread  # False for NaN

    # --- helpers ------------------------------------------------------------------------------
    def _branches(self, kind: BranchKind) -> BranchSet:
        if kind == "line":
            return self._lin.model.lines
        if kind == "trafo":
            return self._lin.model.trafos
        raise ValueError(f"unknown branch kind {kind!r}; expected 'line' or 'trafo'")

    def _loaded_side(self, kind: BranchKind, branches: BranchSet, r: I64) -> tuple[NDArray[np.bool_], C128, F64]:
        """For in-model branch rows ``r``: whether the from side carries the larger loading now, that
        side's current (pu) and its loading scale."""
        yff, yft, ytf, ytt = self._lin.admittances(kind)[:, r]
        v = self._v(np.concatenate([branches.from_bus[r], branches.to_bus[r]]))
        v_f, v_t = v[: r.size], v[r.size:]
        i_from, i_to = yff * v_f + yft * v_t, ytf * v_f + ytt * v_t
        from_side = np.abs(i_from) * branches.scale_from[r] >= np.abs(i_to) * branches.scale_to[r]
        current = np.where(from_side, i_from, i_to)
        scale = np.where(from_side, branches.scale_from[r], branches.scale_to[r])
        return from_side, current, scale

    def _per_charger(self, per_column: F64) -> F64:
        """Columns (distinct charger buses) -> chargers; chargers without a column get 0."""
        lin = self._lin
        if lin.one_column_per_charger:
            return per_column
        out = np.zeros((per_column.shape[0], lin.n_chargers))
        has = lin.column_of_charger >= 0
        out[:, has] = per_column[:, lin.column_of_charger[has]]
        return out


def feeder_position_of_internal(bus_pos: I64, n_bus: int) -> I64:
    """For each of ``n_bus`` internal buses, the lowest feeder bus position ``bus_pos`` maps to it (-1: none)."""
    first = np.full(n_bus, -1, dtype=np.int64)
    ok = np.flatnonzero(bus_pos >= 0)[::-1]
    first[bus_pos[ok]] = ok  # the lowest feeder position wins
    return first


def _admittances(y: F64) -> tuple[C128, C128, C128, C128]:
    """yff, yft, ytf, ytt from ``BranchSet.y`` rows (re, im of each)."""
    return tuple(y[:, 2 * k] + 1j * y[:, 2 * k + 1] for k in range(4))  # type: ignore[return-value]
