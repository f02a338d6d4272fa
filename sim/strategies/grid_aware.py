"""``grid_aware``: any allocation strategy, kept within the feeder's voltage and loading limits.

Each decision reads the grid state the engine gives grid-reading strategies (the load flow of the
coming tick with the chargers at their present power, ``GridState.charger_p_kw``) and its
``GridSensitivity``, and linearises every limit that could bind around that point:

    vm_b(p) ~ vm_b + sum_c s_bc (p_c - p0_c) >= vm_min_pu + margin_pu
    load_l(p) ~ load_l + sum_c g_lc (p_c - p0_c) <= max_loading_percent - margin_percent

with ``p = kw_per_a * current_a`` per charger. Each becomes one row of the same ``A @ current_a <= b``
matrix the site's fuses and import limit already live in (``Constraints.with_rows``), and the wrapped
strategy (``inner``: ``edf``, ``equal_share``, ``peak_shaving``, ``mpc``, ...) allocates as usual,
now unable to see a solution that breaks them. Coefficients that would let charging *relieve* a
limit are set to 0 (conservative: the row then only over-counts), and a limit that is broken even
with no charging gives ``b = 0`` (the sessions touching it pause). Only rows that could bind are
added: those whose element is closer to its limit than the largest change all chargers could make
(``GridSensitivity.change_bounds``; for voltages the tighter ``vm_drop_bounds`` where offered).
Charging lowers voltages, so only the lower voltage limit is a row; overvoltage from PV is relieved
by charging, never caused. With an unbalanced load flow (``sim.grid.sensitivity3ph``) a voltage row is
one phase of one bus and a loading row the largest phase's; there a single-phase charger also raises
the other phases (the neutral point shifts), so every phase gets the upper limit ``vm_max_pu`` as well.

The linear model neglects how the other loads' currents grow as voltage sags (a few per cent of a
change, ``sim.grid.sensitivity``) and the curvature of the drop; ``margin_pu`` and
``margin_percent`` absorb both, and the model is re-linearised at every tick from a fresh load flow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sim.domain import ChargerTable, Constraints, GridState, Setpoints, SiteView, no_constraints
from sim.domain.grid_state import BranchKind, GridSensitivity
from sim.errors import StrategyError
from sim.strategies import params as p
from sim.strategies.base import Strategy, reject_unknown_params

F64 = NDArray[np.float64]
NAME = "grid_aware"
SENSITIVITY_FACTOR = 1.1
"""The linear model underestimates a large change by up to ~10 % on a heavily loaded LV feeder (the
other loads' currents and the charger's own grow as the voltage sags): every sensitivity is scaled
by this factor, so a predicted change errs on the safe side."""


class GridAware:
    """Wraps ``inner``; adds the linearised feeder limits to its constraints at every decision."""

    name: ClassVar[str] = NAME
    needs_grid_state: ClassVar[bool] = True  # reads view.grid and its sensitivities at every decision
    PARAMS: ClassVar[tuple[str, ...]] = ("inner", "inner_params", "vm_min_pu", "vm_max_pu", "max_line_loading_percent",
                                         "max_trafo_loading_percent", "margin_pu", "margin_percent")

    def __init__(self, inner: Strategy, *, vm_min_pu: float = 0.9, max_line_loading_percent: float = 100.0,
                 max_trafo_loading_percent: float = 100.0, margin_pu: float = 0.005,
                 margin_percent: float = 2.0, vm_max_pu: float = 1.1) -> None:
        if not vm_max_pu > vm_min_pu:
            raise StrategyError(f"strategy '{NAME}': parameter 'vm_max_pu' = {vm_max_pu} must be above "
                                f"vm_min_pu = {vm_min_pu}", param="vm_max_pu")
        self.inner = inner
        self.vm_min_pu = vm_min_pu
        self.vm_max_pu = vm_max_pu  # per-phase rows only (unbalanced): another phase's charging can raise a phase
        self.max_loading_percent: dict[BranchKind, float] = {
            "line": max_line_loading_percent, "trafo": max_trafo_loading_percent,
        }
        self.margin_pu = margin_pu
        self.margin_percent = margin_percent
        self._memo: tuple[GridState, Constraints, F64, Constraints] | None = None
        self._last_kw_per_a: tuple[ChargerTable, F64] | None = None
        self._last_rooms: tuple[GridState, Rooms] | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GridAware:
        reject_unknown_params(NAME, params, cls.PARAMS)
        return cls(
            _inner(params),
            vm_min_pu=p.number(NAME, params, "vm_min_pu", 0.9, minimum=0.5, maximum=1.1),
            max_line_loading_percent=p.number(NAME, params, "max_line_loading_percent", 100.0, minimum=1.0),
            max_trafo_loading_percent=p.number(NAME, params, "max_trafo_loading_percent", 100.0, minimum=1.0),
            margin_pu=p.number(NAME, params, "margin_pu", 0.005, minimum=0.0, maximum=0.1),
            margin_percent=p.number(NAME, params, "margin_percent", 2.0, minimum=0.0, maximum=50.0),
            vm_max_pu=p.number(NAME, params, "vm_max_pu", 1.1, minimum=0.9, maximum=1.5),
        )

    def compute(self, view: SiteView) -> Setpoints:
        if len(view.sessions) == 0:
            return Setpoints.zeros(len(view.chargers))
        constraints = self.constraints(view)
        return self.inner.compute(view if constraints is view.constraints else replace(view, constraints=constraints))

    def constraints(self, view: SiteView) -> Constraints:
        """The view's constraints with the feeder limits that could bind for the plugged-in sessions.

        Decisions at plug events inside a tick see the same grid state and site rows; when no
        charger may now draw more than at the last decision on that state (a departure, a vehicle
        taking less), every row that could bind then still covers every row that could bind now,
        so the last result is reused. The memo is keyed on the objects' identity and never changes
        a result.
        """
        grid = view.grid
        if grid is None or grid.sensitivity is None or grid.charger_p_kw is None:
            raise StrategyError(
                "strategy 'grid_aware' needs the grid state with its sensitivities at every decision "
                "(GridState.sensitivity and charger_p_kw); the engine provides them for a feeder the "
                "fast load-flow model describes"
            )
        site = view.constraints if view.constraints is not None else no_constraints(len(view.chargers))
        max_kw = np.zeros(len(view.chargers))  # the most each charger can draw now (0 without a session)
        ci = view.sessions.charger_index
        max_kw[ci] = view.sessions.max_current_a * view.chargers.phases[ci] * view.chargers.v_ln_v[ci] / 1000.0
        memo = self._memo
        if memo is not None and memo[0] is grid and memo[1] is site and bool(np.all(max_kw <= memo[2])):
            return memo[3]
        names, coef_a, limit = self.feeder_rows(view.chargers, grid, grid.sensitivity, max_kw)
        extended = site.with_rows(names, coef_a, limit) if names else site
        self._memo = (grid, site, max_kw, extended)
        return extended

    def _rooms(self, grid: GridState) -> Rooms:
        """How far every bus and branch of ``grid`` is from its limit (with the margins), kept for the
        last state: the decisions at plug events inside a tick share it."""
        last = self._last_rooms
        if last is None or last[0] is not grid:
            vm_rows = grid.vm_phase_pu.reshape(-1) if _phase_rows(grid) else grid.vm_pu  # type: ignore[union-attr]
            last = (grid, Rooms.of(vm_rows - (self.vm_min_pu + self.margin_pu),
                                   self.max_loading_percent["line"] - self.margin_percent - grid.line_loading_percent,
                                   self.max_loading_percent["trafo"] - self.margin_percent - grid.trafo_loading_percent))
            self._last_rooms = last
        return last[1]

    def _kw_per_a(self, chargers: ChargerTable) -> F64:
        """Grid-side kW per A of each charger, kept for the last table (its arrays are read-only)."""
        last = self._last_kw_per_a
        if last is None or last[0] is not chargers:
            last = (chargers, chargers.phases * chargers.v_ln_v / 1000.0)
            self._last_kw_per_a = last
        return last[1]

    def feeder_rows(self, chargers: ChargerTable, grid: GridState, sens: GridSensitivity,
                    max_kw: F64) -> tuple[list[str], F64, F64]:
        """The linearised feeder limits that could bind for some charging in [0, ``max_kw``] per
        charger: names, coefficients (rows x chargers, per A) and limits."""
        kw_per_a = self._kw_per_a(chargers)
        p0_kw = np.asarray(grid.charger_p_kw, dtype=float)
        dp_kw = np.maximum(max_kw - p0_kw, p0_kw) * SENSITIVITY_FACTOR  # the largest change each could make
        names: list[str] = []
        blocks: list[tuple[F64, F64]] = []
        room = self._rooms(grid)
        room_pu, rooms = room.vm_pu, {"line": room.line_percent, "trafo": room.trafo_percent}
        buses, rows_of = _candidates(sens, room, dp_kw, (max_kw - p0_kw) * SENSITIVITY_FACTOR)
        if buses.size:
            drop = -SENSITIVITY_FACTOR * sens.dvm_dp_pu_per_kw(buses)  # voltage lost per kW of charging
            keep = _can_bind(drop, room_pu[buses], p0_kw, max_kw)
            blocks.append((drop[keep], room_pu[buses][keep]))
            names += ([f"grid:bus#{k // 3}:L{k % 3 + 1}:vm_min" for k in buses[keep]] if _phase_rows(grid)
                      else [f"grid:bus#{k}:vm_min" for k in buses[keep]])
        if _phase_rows(grid):  # a phase raised by the neutral-point shift of charging on the others
            assert grid.vm_phase_pu is not None
            room_high = (self.vm_max_pu - self.margin_pu) - grid.vm_phase_pu.reshape(-1)
            rows = np.flatnonzero(room_high <= sens.change_bounds(dp_kw)[0])  # NaN (isolated) never passes
            if rows.size:
                rise = SENSITIVITY_FACTOR * sens.dvm_dp_pu_per_kw(rows)
                keep = _can_bind(rise, room_high[rows], p0_kw, max_kw)
                blocks.append((rise[keep], room_high[rows][keep]))
                names += [f"grid:bus#{k // 3}:L{k % 3 + 1}:vm_max" for k in rows[keep]]
        kinds: tuple[BranchKind, ...] = ("line", "trafo")
        for kind, rows in zip(kinds, rows_of, strict=True):
            if rows.size:
                per_kw = SENSITIVITY_FACTOR * sens.dloading_dp_percent_per_kw(kind, rows)
                keep = _can_bind(per_kw, rooms[kind][rows], p0_kw, max_kw)
                blocks.append((per_kw[keep], rooms[kind][rows][keep]))
                names += [f"grid:{kind}#{k}:loading" for k in rows[keep]]
        if not blocks:
            return [], np.zeros((0, len(chargers))), np.zeros(0)
        per_kw = np.concatenate([b[0] for b in blocks])
        room_all = np.concatenate([b[1] for b in blocks])
        # per_kw . (p - p0) <= room  =>  per_kw+ . p <= room + per_kw . p0 (per_kw+ >= per_kw: conservative)
        limit = np.maximum(room_all + per_kw @ p0_kw, 0.0)
        return names, np.maximum(per_kw, 0.0) * kw_per_a[None, :], limit


@dataclass(frozen=True)
class Rooms:
    """Room to the limit (margins included) of every bus (pu) and branch (percentage points) of one
    grid state, and the least of each kind (+inf without any; NaN rooms of isolated elements skipped)."""

    vm_pu: F64
    line_percent: F64
    trafo_percent: F64
    least_pu: float
    least_line_percent: float
    least_trafo_percent: float

    @classmethod
    def of(cls, vm_pu: F64, line_percent: F64, trafo_percent: F64) -> Rooms:
        least = [float(np.fmin.reduce(a)) if a.size else math.inf for a in (vm_pu, line_percent, trafo_percent)]
        return cls(vm_pu, line_percent, trafo_percent, *least)


def _candidates(sens: GridSensitivity, room: Rooms, dp_kw: F64,
                increase_kw: F64) -> tuple[NDArray[np.int64], tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """The buses, and the lines and transformers, whose room is within a bound of their first-order
    change: ``GridSensitivity.change_bounds`` for changes ``dp_kw``, or, where the sensitivity offers
    them (``sim.grid.sensitivity``), the tighter ``vm_drop_bounds`` for voltages (charging then only
    lowers voltages: only increases count) and ``largest_changes``, one number per kind that spares the
    bounds of a kind whose elements are all further from their limits. All of it is only a filter:
    every row that could bind passes it, and ``_can_bind`` decides. NaN rooms (isolated) never pass."""
    if all(hasattr(sens, m) for m in ("vm_drop_bounds", "loading_change_bounds", "largest_changes")):
        increase_kw = np.maximum(increase_kw, 0.0)
        vm_drop, line_max, trafo_max = sens.largest_changes(increase_kw, dp_kw)  # type: ignore[attr-defined]
        near = vm_drop is not None and room.least_pu <= vm_drop  # a bus within the largest drop
        vm_bound = sens.vm_drop_bounds(increase_kw) if near else None  # type: ignore[attr-defined]
        if vm_drop is not None and (vm_bound is not None or not near):
            buses = np.flatnonzero(room.vm_pu <= vm_bound) if vm_bound is not None else _NONE
            if not (room.least_line_percent <= line_max or room.least_trafo_percent <= trafo_max):
                return buses, (_NONE, _NONE)
            line_bound, trafo_bound = sens.loading_change_bounds(dp_kw)  # type: ignore[attr-defined]
            return buses, (np.flatnonzero(room.line_percent <= line_bound),
                           np.flatnonzero(room.trafo_percent <= trafo_bound))
    vm_bound, line_bound, trafo_bound = sens.change_bounds(dp_kw)
    return np.flatnonzero(room.vm_pu <= vm_bound), (np.flatnonzero(room.line_percent <= line_bound),
                                                    np.flatnonzero(room.trafo_percent <= trafo_bound))


_NONE = np.zeros(0, dtype=np.int64)


def _phase_rows(grid: GridState) -> bool:
    """Whether the voltage rows are bus-phase pairs (an unbalanced load flow's ``sim.grid.sensitivity3ph``:
    row 3 b + k is phase k of bus b, room from ``vm_phase_pu``) rather than buses."""
    return grid.vm_phase_pu is not None and bool(getattr(grid.sensitivity, "phase_rows", False))


def _can_bind(per_kw: F64, room: F64, p0_kw: F64, max_kw: F64) -> NDArray[np.bool_]:
    """Rows whose linear change can reach their room for some charging in [0, max_kw] (the worst
    case of each row: full power where a coefficient is positive, none where it is negative)."""
    worst = np.where(per_kw > 0.0, per_kw * (max_kw - p0_kw), -per_kw * p0_kw).sum(axis=1)
    return np.asarray(worst >= room)


def _inner(params: Mapping[str, Any]) -> Strategy:
    """The wrapped strategy from ``inner`` (a name) and ``inner_params`` (a table)."""
    from sim.strategies.registry import available, create  # the registry imports this module

    name = params.get("inner", "edf")
    if not isinstance(name, str) or name in (NAME, "uncontrolled") or name not in available():
        valid = ", ".join(sorted(set(available()) - {NAME, "uncontrolled"}))
        raise StrategyError(f"strategy '{NAME}': parameter 'inner' = {name!r} is not valid; expected a strategy "
                            f"that honours the site's limits: {valid}", param="inner")
    inner_params = params.get("inner_params", {})
    if not isinstance(inner_params, Mapping):
        raise StrategyError(f"strategy '{NAME}': parameter 'inner_params' = {inner_params!r} is not a table; "
                            f"expected the parameters of strategy '{name}', e.g. {{ target_kw = 50 }}",
                            param="inner_params")
    try:
        return create(name, inner_params)
    except StrategyError as error:
        where = f"inner_params.{error.param}" if error.param else "inner_params"
        raise StrategyError(f"strategy '{NAME}', inner strategy: {error}", param=where) from None
