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
    Setpoints,
    SiteView,
)
from sim.domain.site import id_ranks
from sim.errors import StrategyError
from sim.strategies import Strategy

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_TOL_A = 1e-9


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
        # The plugged-in sessions, in plug-in order, and their current grid-side power.
        self.active: list[int] = []
        self.active_p_kw = np.zeros(0)
        self.plugged = self._gather([])
        self.plugged_delivered_kwh = _ro(np.zeros(0))  # delivered energy of the plugged-in sessions
        self.charger_session = np.full(len(chargers), -1, dtype=np.int64)
        self.tick_energy_kwh = np.zeros(len(chargers))  # grid side, this tick so far
        self.last_t_s = 0.0

    def _gather(self, active: list[int]) -> Plugged:
        """The ``Plugged`` arrays of sessions ``active`` (fresh, read-only copies)."""
        idx = np.asarray(active, dtype=np.int64)
        ci = self.charger_index[idx]
        ch = self.chargers
        phases, v_ln_v = ch.phases[ci], ch.v_ln_v[ci]
        return Plugged(
            index=_ro(idx), charger_index=_ro(ci), session_ids=tuple(self.session_ids[k] for k in active),
            id_rank=_ro(self.id_rank[idx]), arrival_s=_ro(self.arrival_s[idx]),
            departure_s=_ro(self.departure_s[idx]), requested_kwh=_ro(self.requested_kwh[idx]),
            limit_kw=_ro(self.limit_kw[idx]), efficiency=_ro(self.efficiency[idx]),
            battery_kwh=_ro(self.battery_kwh[idx]), soc_arrival=_ro(self.soc_arrival[idx]),
            phases=_ro(phases), v_ln_v=_ro(v_ln_v), w_per_a=_ro(phases * v_ln_v),
            charger_max_a=_ro(ch.max_current_a[ci]),
        )

    # --- events -------------------------------------------------------------------------------
    def advance_to(self, t_s: float) -> None:
        """Integrate energy at the present powers from the last event up to ``t_s``."""
        dt_h = (t_s - self.last_t_s) / 3600.0
        if dt_h < 0:
            raise RuntimeError(f"time went backwards: {self.last_t_s} -> {t_s}")
        if dt_h > 0 and self.active:
            pl = self.plugged
            delivered = np.array(self.plugged_delivered_kwh)  # a new array: earlier views keep theirs
            core_ext.advance_energy(self.active_p_kw, pl.efficiency, dt_h, delivered)
            self.plugged_delivered_kwh = _ro(delivered)
            self.delivered_kwh[pl.index] = delivered
            self.tick_energy_kwh[pl.charger_index] += self.active_p_kw * dt_h
        self.last_t_s = t_s

    def plug_in(self, k: int) -> None:
        charger = int(self.charger_index[k])
        if self.charger_session[charger] != -1:
            other = self.sessions[int(self.charger_session[charger])].session_id
            raise RuntimeError(f"session {self.sessions[k].session_id} arrives at an occupied charger (holds {other})")
        self.charger_session[charger] = k
        self.active.append(k)
        self.active_p_kw = np.append(self.active_p_kw, 0.0)
        self._plugged_changed()

    def unplug(self, k: int) -> None:
        pos = self.active.index(k)
        self.active.pop(pos)
        self.active_p_kw = np.delete(self.active_p_kw, pos)
        self.charger_session[self.charger_index[k]] = -1
        self._plugged_changed()

    def _plugged_changed(self) -> None:
        self.plugged = self._gather(self.active)
        self.plugged_delivered_kwh = _ro(self.delivered_kwh[self.plugged.index])

    # --- control ------------------------------------------------------------------------------
    def acceptance_kw(self, t_s: float, next_tick_s: float) -> NDArray[np.float64]:
        """Grid-side power each plugged-in session accepts from ``t_s`` until the next tick.

        A session that leaves before the next tick may take its remaining demand over the time it
        has left, so the interval is per session: up to the next tick or its departure.
        """
        pl = self.plugged
        out = np.zeros(len(pl.index))
        if len(out):
            until_s = np.minimum(pl.departure_s, next_tick_s)
            dt_h = np.maximum(until_s - t_s, 1e-9) / 3600.0
            core_ext.acceptance_kw(pl.limit_kw, pl.efficiency, pl.requested_kwh, self.plugged_delivered_kwh,
                                   pl.battery_kwh, pl.soc_arrival, int(self.battery.taper),
                                   self.battery.transition_soc, dt_h, out)
        return out

    def view(self, t_s: float, period_s: float, accept_kw: NDArray[np.float64], grid: GridState | None,
             base_load_kw: float, constraints: Constraints | None = None,
             forecast: Forecast | None = None) -> SiteView:
        pl = self.plugged
        accept_a = accept_kw * 1000.0 / pl.w_per_a
        sessions = ActiveSessions(
            session_ids=pl.session_ids,
            charger_index=pl.charger_index,
            arrival_s=pl.arrival_s,
            departure_s=pl.departure_s,
            energy_requested_kwh=pl.requested_kwh,
            energy_delivered_kwh=self.plugged_delivered_kwh,
            max_current_a=_ro(np.minimum(accept_a, pl.charger_max_a)),
            id_rank=pl.id_rank,
        )
        return SiteView(t_s, period_s, self.chargers, sessions, grid, base_load_kw, constraints, forecast)

    def apply(self, strategy: Strategy, view: SiteView, accept_kw: NDArray[np.float64]) -> None:
        """Run the strategy and set each plugged-in session's power: offer clipped to acceptance."""
        setpoints = strategy.compute(view)
        current_a = check_setpoints(strategy, setpoints, self.chargers, view.time_s)
        pl = self.plugged
        # the chargers' power_kw (current * phases * v_ln / 1000), for the plugged-in ones only
        offered_kw = current_a[pl.charger_index] * pl.phases * pl.v_ln_v / 1000.0
        self.active_p_kw = np.minimum(offered_kw, accept_kw)

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


def check_setpoints(strategy: Strategy, setpoints: Setpoints, chargers: ChargerTable, t_s: float) -> NDArray[np.float64]:
    """Setpoints must be one finite current per charger: 0, or within [min, max] of that charger."""
    name = getattr(strategy, "name", type(strategy).__name__)
    if not isinstance(setpoints, Setpoints):
        raise StrategyError(f"strategy '{name}' returned {type(setpoints).__name__}, not Setpoints (t = {t_s:g} s)")
    current_a = np.asarray(setpoints.current_a, dtype=float)
    if current_a.shape != (len(chargers),):
        raise StrategyError(
            f"strategy '{name}' returned {current_a.shape} setpoints at t = {t_s:g} s; expected one per charger ({len(chargers)})"
        )
    current_a = np.ascontiguousarray(current_a)
    clipped_a = np.empty(len(chargers))
    i = core_ext.check_currents(current_a, chargers.min_current_a, chargers.max_current_a, clipped_a)
    if i >= 0:
        raise StrategyError(
            f"strategy '{name}' set charger '{chargers.ids[i]}' to {float(current_a[i]):g} A at t = {t_s:g} s; "
            f"valid: 0 or between {chargers.min_current_a[i]:g} and {chargers.max_current_a[i]:g} A"
        )
    return clipped_a
