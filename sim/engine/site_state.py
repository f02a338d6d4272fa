"""The site's mutable state during a run: who is plugged in, at what power, how much energy so far.

Only the engine mutates it. Between two events every charger's power is constant, so energy is the
exact integral: ``advance_to(t)`` adds ``p_kw * efficiency * dt`` to every plugged-in session and
``p_kw * dt`` to its charger's tick accumulator. The recorded tick power is that accumulator divided by
the tick length, so the recorded time series integrates to exactly the energy delivered.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from sim.errors import StrategyError
from sim.strategies import Strategy

_TOL_A = 1e-9


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
        # The plugged-in sessions, in plug-in order, and their current grid-side power.
        self.active: list[int] = []
        self.active_p_kw = np.zeros(0)
        self.charger_session = np.full(len(chargers), -1, dtype=np.int64)
        self.tick_energy_kwh = np.zeros(len(chargers))  # grid side, this tick so far
        self.last_t_s = 0.0

    # --- events -------------------------------------------------------------------------------
    def advance_to(self, t_s: float) -> None:
        """Integrate energy at the present powers from the last event up to ``t_s``."""
        dt_h = (t_s - self.last_t_s) / 3600.0
        if dt_h < 0:
            raise RuntimeError(f"time went backwards: {self.last_t_s} -> {t_s}")
        if dt_h > 0 and self.active:
            idx = np.asarray(self.active, dtype=np.int64)
            delivered = np.ascontiguousarray(self.delivered_kwh[idx])
            core_ext.advance_energy(self.active_p_kw, np.ascontiguousarray(self.efficiency[idx]), dt_h, delivered)
            self.delivered_kwh[idx] = delivered
            self.tick_energy_kwh[self.charger_index[idx]] += self.active_p_kw * dt_h
        self.last_t_s = t_s

    def plug_in(self, k: int) -> None:
        charger = int(self.charger_index[k])
        if self.charger_session[charger] != -1:
            other = self.sessions[int(self.charger_session[charger])].session_id
            raise RuntimeError(f"session {self.sessions[k].session_id} arrives at an occupied charger (holds {other})")
        self.charger_session[charger] = k
        self.active.append(k)
        self.active_p_kw = np.append(self.active_p_kw, 0.0)

    def unplug(self, k: int) -> None:
        pos = self.active.index(k)
        self.active.pop(pos)
        self.active_p_kw = np.delete(self.active_p_kw, pos)
        self.charger_session[self.charger_index[k]] = -1

    # --- control ------------------------------------------------------------------------------
    def acceptance_kw(self, t_s: float, next_tick_s: float) -> NDArray[np.float64]:
        """Grid-side power each plugged-in session accepts from ``t_s`` until the next tick.

        A session that leaves before the next tick may take its remaining demand over the time it
        has left, so the interval is per session: up to the next tick or its departure.
        """
        idx = np.asarray(self.active, dtype=np.int64)
        out = np.zeros(len(idx))
        if len(idx):
            until_s = np.minimum(self.departure_s[idx], next_tick_s)
            dt_h = np.ascontiguousarray(np.maximum(until_s - t_s, 1e-9) / 3600.0)
            core_ext.acceptance_kw(
                np.ascontiguousarray(self.limit_kw[idx]),
                np.ascontiguousarray(self.efficiency[idx]),
                np.ascontiguousarray(self.requested_kwh[idx]),
                np.ascontiguousarray(self.delivered_kwh[idx]),
                np.ascontiguousarray(self.battery_kwh[idx]),
                np.ascontiguousarray(self.soc_arrival[idx]),
                int(self.battery.taper),
                self.battery.transition_soc,
                dt_h,
                out,
            )
        return out

    def view(self, t_s: float, period_s: float, accept_kw: NDArray[np.float64], grid: GridState | None,
             base_load_kw: float, constraints: Constraints | None = None,
             forecast: Forecast | None = None) -> SiteView:
        idx = np.asarray(self.active, dtype=np.int64)
        ci = self.charger_index[idx]
        ch = self.chargers
        accept_a = accept_kw * 1000.0 / (ch.phases[ci] * ch.v_ln_v[ci])
        sessions = ActiveSessions(
            session_ids=tuple(self.sessions[k].session_id for k in idx),
            charger_index=_ro(ci),
            arrival_s=_ro(self.arrival_s[idx]),
            departure_s=_ro(self.departure_s[idx]),
            energy_requested_kwh=_ro(self.requested_kwh[idx]),
            energy_delivered_kwh=_ro(self.delivered_kwh[idx]),
            max_current_a=_ro(np.minimum(accept_a, ch.max_current_a[ci])),
        )
        return SiteView(t_s, period_s, ch, sessions, grid, base_load_kw, constraints, forecast)

    def apply(self, strategy: Strategy, view: SiteView, accept_kw: NDArray[np.float64]) -> None:
        """Run the strategy and set each plugged-in session's power: offer clipped to acceptance."""
        setpoints = strategy.compute(view)
        current_a = check_setpoints(strategy, setpoints, self.chargers, view.time_s)
        ci = self.charger_index[np.asarray(self.active, dtype=np.int64)]
        offered_kw = self.chargers.power_kw(current_a)[ci]
        self.active_p_kw = np.minimum(offered_kw, accept_kw)

    def take_tick_power_kw(self, tick_s: float) -> NDArray[np.float64]:
        """Mean grid-side power per charger over the tick just ended; resets the accumulator."""
        p_kw = self.tick_energy_kwh * 3600.0 / tick_s
        self.tick_energy_kwh = np.zeros(len(self.chargers))
        return p_kw


def _ro(values: NDArray[np.generic]) -> NDArray[np.generic]:
    """Read-only, for the view. Every caller passes a fresh array (fancy indexing and ufuncs copy),
    so the strategy cannot reach back into the engine's state through it."""
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
    bad = ~np.isfinite(current_a) | (current_a < -_TOL_A) | (current_a > chargers.max_current_a + _TOL_A)
    bad |= (current_a > _TOL_A) & (current_a < chargers.min_current_a - _TOL_A)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StrategyError(
            f"strategy '{name}' set charger '{chargers.ids[i]}' to {float(current_a[i]):g} A at t = {t_s:g} s; "
            f"valid: 0 or between {chargers.min_current_a[i]:g} and {chargers.max_current_a[i]:g} A"
        )
    return np.clip(current_a, 0.0, chargers.max_current_a)
