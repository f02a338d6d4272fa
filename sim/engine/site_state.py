"""The site's mutable state during a run: who is plugged in, at what power, how much energy so far.

Only the engine mutates it. Between two events every charger's power is constant, so energy is the
exact integral: ``advance_to(t)`` adds ``p_kw * efficiency * dt`` to every plugged-in session and
``p_kw * dt`` to its charger's tick accumulator. The recorded tick power is that accumulator divided by
the tick length, so the recorded time series integrates to exactly the energy delivered.

An allocation runs at every tick and every plug event, so its cost per call matters (a month of a
54-charger site is about 10,000 of them). What does not change between plug events (the plugged-in
sessions' ids, times, demands, charger data) is gathered once per plug event into read-only arrays
(``Plugged``) that every view shares; the delivered energy is a new read-only array after every
``advance_to``. A view is therefore a consistent snapshot without copying per decision: nothing it
holds is ever written again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

import core_ext
from sim.domain import (
    ActiveSessions,
    BatteryModel,
    ChargerTable,
    Constraints,
    Forecast,
    GridState,
    Session,
    SiteView,
)
from sim.domain.site import id_ranks
from sim.strategies import Strategy
from sim.strategies.base import check_setpoints

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_TOL_A = 1e-9
# SiteState attributes gathered per plug event (the first seven), then per-charger values per session.
_ZERO_KW = np.zeros(1)  # the power of a session that just plugged in
_FLOAT_COLUMNS = ("arrival_s", "departure_s", "requested_kwh", "limit_kw", "efficiency", "battery_kwh", "soc_arrival",
                  "v_ln_v", "w_per_a", "charger_max_a")


@dataclass(frozen=True)
class Plugged:
    """Column arrays of the plugged-in sessions (plug-in order), read-only, rebuilt at plug events only."""

    index: I64  # session numbers (positions in SiteState.sessions)
    charger_index: I64
    session_ids: tuple[str, ...]
    id_rank: I64  # rank of each session id among all sessions of the run
    arrival_s: F64
    departure_s: F64
    requested_kwh: F64
    limit_kw: F64  # grid-side AC limit (charger and vehicle)
    efficiency: F64
    battery_kwh: F64
    soc_arrival: F64
    phases: I64  # of each one's charger
    v_ln_v: F64
    w_per_a: F64  # phases * v_ln_v: grid-side W per A per phase
    charger_max_a: F64


class SiteState:
    """Sessions as column arrays (all sessions of the run) plus the set plugged in now."""

    def __init__(self, chargers: ChargerTable, sessions: Sequence[Session], battery: BatteryModel) -> None:
        self.chargers = chargers
        self.battery = battery
        index = chargers.index_of()
        self.sessions = tuple(sessions)
        self.charger_index = np.array([index[s.charger_id] for s in sessions], dtype=np.int64)
        self.arrival_s = np.array([s.arrival_s for s in sessions], dtype=float)
        self.departure_s = np.array([s.departure_s for s in sessions], dtype=float)
        self.requested_kwh = np.array([s.energy_kwh for s in sessions], dtype=float)
        self.delivered_kwh = np.zeros(len(sessions))
        # Grid-side AC limit per session: the smaller of the charger's and the vehicle's.
        charger_kw = chargers.power_kw(chargers.max_current_a)
        vehicle_kw = np.array([s.max_power_kw for s in sessions], dtype=float)
        self.limit_kw = np.minimum(charger_kw[self.charger_index], vehicle_kw) if len(sessions) else np.zeros(0)
        self.battery_kwh = np.array([s.battery_kwh for s in sessions], dtype=float)
        self.soc_arrival = np.array([s.soc_arrival for s in sessions], dtype=float)
        self.efficiency = chargers.efficiency[self.charger_index] if len(sessions) else np.zeros(0)
        self.session_ids = tuple(s.session_id for s in sessions)
        self.id_rank = id_ranks(self.session_ids)
        # What _gather takes per plug event, one row per column (one fancy index gathers them all).
        ci = self.charger_index
        phases, v_ln_v = chargers.phases[ci], chargers.v_ln_v[ci]
        self._float_columns = np.array([getattr(self, name) for name in _FLOAT_COLUMNS[:7]]
                                       + [v_ln_v, phases * v_ln_v, chargers.max_current_a[ci]], dtype=float
                                       ).reshape(len(_FLOAT_COLUMNS), len(sessions))
        self._int_columns = np.array([ci, self.id_rank, phases], dtype=np.int64).reshape(3, len(sessions))
        # The plugged-in sessions, in plug-in order, and their current grid-side power.
        self.active: list[int] = []
        self.active_p_kw = np.zeros(0)
        self.plugged = self._gather([])
        self.plugged_delivered_kwh = _ro(np.zeros(0))  # delivered energy of the plugged-in sessions
        self.charger_session = np.full(len(chargers), -1, dtype=np.int64)
        self.tick_energy_kwh = np.zeros(len(chargers))  # grid side, this tick so far
        self.last_t_s = 0.0

    def _gather(self, active: list[int]) -> Plugged:
        """The ``Plugged`` arrays of sessions ``active`` (fresh, read-only copies: two gathered tables
        whose rows are the columns)."""
        idx = _ro(np.asarray(active, dtype=np.int64))
        floats = _ro(self._float_columns.take(idx, axis=1))
        ci, id_rank, phases = _ro(self._int_columns.take(idx, axis=1))
        (arrival_s, departure_s, requested_kwh, limit_kw, efficiency, battery_kwh, soc_arrival, v_ln_v, w_per_a,
         charger_max_a) = floats
        return Plugged(
            index=idx, charger_index=ci, session_ids=tuple(map(self.session_ids.__getitem__, active)), id_rank=id_rank,
            arrival_s=arrival_s, departure_s=departure_s, requested_kwh=requested_kwh, limit_kw=limit_kw,
            efficiency=efficiency, battery_kwh=battery_kwh, soc_arrival=soc_arrival, phases=phases, v_ln_v=v_ln_v,
            w_per_a=w_per_a, charger_max_a=charger_max_a,
        )

    # --- events -------------------------------------------------------------------------------
    def advance_to(self, t_s: float) -> None:
        """Integrate energy at the present powers from the last event up to ``t_s``."""
        dt_h = (t_s - self.last_t_s) / 3600.0
        if dt_h < 0:
            raise RuntimeError(f"time went backwards: {self.last_t_s} -> {t_s}")
        if dt_h > 0 and self.active:
            pl = self.plugged
            delivered = np.empty(len(self.active))  # a new array: earlier views keep theirs
            core_ext.advance_sessions(self.active_p_kw, pl.efficiency, dt_h, self.plugged_delivered_kwh, delivered,
                                      pl.index, self.delivered_kwh, pl.charger_index, self.tick_energy_kwh)
            self.plugged_delivered_kwh = _ro(delivered)
        self.last_t_s = t_s

    def plug_in(self, k: int) -> None:
        charger = int(self.charger_index[k])
        if self.charger_session[charger] != -1:
            other = self.sessions[int(self.charger_session[charger])].session_id
            raise RuntimeError(f"session {self.sessions[k].session_id} arrives at an occupied charger (holds {other})")
        self.charger_session[charger] = k
        self.active.append(k)
        self.active_p_kw = np.concatenate((self.active_p_kw, _ZERO_KW))
        self._plugged_changed()

    def unplug(self, k: int) -> None:
        pos = self.active.index(k)
        self.active.pop(pos)
        self.active_p_kw = np.concatenate((self.active_p_kw[:pos], self.active_p_kw[pos + 1:]))
        self.charger_session[self.charger_index[k]] = -1
        self._plugged_changed()

    def _plugged_changed(self) -> None:
        self.plugged = self._gather(self.active)
        self.plugged_delivered_kwh = _ro(self.delivered_kwh[self.plugged.index])

    # --- control ------------------------------------------------------------------------------
    def limits(self, t_s: float, next_tick_s: float) -> tuple[F64, F64]:
        """``(accept_kw, max_current_a)`` of the plugged-in sessions: the grid-side power each accepts
        from ``t_s`` until the next tick, and the current per phase that is (at most its charger's
        maximum), the view's ``max_current_a``.

        A session that leaves before the next tick may take its remaining demand over the time it
        has left, so the interval is per session: up to the next tick or its departure (kernel
        ``core_ext.session_limits``).
        """
        pl = self.plugged
        accept_kw, max_current_a = np.empty(len(pl.index)), np.empty(len(pl.index))
        core_ext.session_limits(pl.limit_kw, pl.efficiency, pl.requested_kwh, self.plugged_delivered_kwh,
                                pl.battery_kwh, pl.soc_arrival, pl.departure_s, pl.w_per_a, pl.charger_max_a,
                                int(self.battery.taper), self.battery.transition_soc, t_s, next_tick_s, accept_kw,
                                max_current_a)
        return accept_kw, max_current_a

    def acceptance_kw(self, t_s: float, next_tick_s: float) -> NDArray[np.float64]:
        """Grid-side power each plugged-in session accepts from ``t_s`` until the next tick (``limits``)."""
        return self.limits(t_s, next_tick_s)[0]

    def view(self, t_s: float, period_s: float, accept_kw: NDArray[np.float64], grid: GridState | None,
             base_load_kw: float, constraints: Constraints | None = None,
             forecast: Forecast | None = None, *, max_current_a: F64 | None = None) -> SiteView:
        """The snapshot a strategy sees; ``max_current_a`` from ``limits`` (computed from
        ``accept_kw`` the same way when not given)."""
        pl = self.plugged
        if max_current_a is None:
            max_current_a = np.minimum(accept_kw * 1000.0 / pl.w_per_a, pl.charger_max_a)
        sessions = ActiveSessions(
            session_ids=pl.session_ids,
            charger_index=pl.charger_index,
            arrival_s=pl.arrival_s,
            departure_s=pl.departure_s,
            energy_requested_kwh=pl.requested_kwh,
            energy_delivered_kwh=self.plugged_delivered_kwh,
            max_current_a=_ro(max_current_a),
            id_rank=pl.id_rank,
        )
        return SiteView(t_s, period_s, self.chargers, sessions, grid, base_load_kw, constraints, forecast)

    def apply(self, strategy: Strategy, view: SiteView, accept_kw: NDArray[np.float64]) -> None:
        """Run the strategy and set each plugged-in session's power: offer clipped to acceptance."""
        setpoints = strategy.compute(view)
        current_a = check_setpoints(strategy, setpoints, self.chargers, view.time_s)
        pl = self.plugged
        # the chargers' power_kw (current * phases * v_ln / 1000), for the plugged-in ones only
        p_kw = np.empty(len(pl.index))
        core_ext.session_power_kw(current_a, pl.charger_index, pl.phases, pl.v_ln_v, accept_kw, p_kw)
        self.active_p_kw = p_kw

    def take_tick_power_kw(self, tick_s: float) -> NDArray[np.float64]:
        """Mean grid-side power per charger over the tick just ended; resets the accumulator."""
        p_kw = self.tick_energy_kwh * 3600.0 / tick_s
        self.tick_energy_kwh = np.zeros(len(self.chargers))
        return p_kw


def _ro(values: NDArray[np.generic]) -> NDArray[np.generic]:
    """Read-only, for the views. Every caller passes a fresh array (fancy indexing and ufuncs copy)
    that the engine never writes again, so views can share it and stay snapshots."""
    values.setflags(write=False)
    return values
