"""The live site state: chargers' events in, the same frozen ``SiteView`` the simulator builds out.

``LiveTracker(site)`` is the one place that turns ``sim.live.events`` into site state; the OCPP
handlers only translate and the store only records. ``view(t_s, period_s, grid)`` gives a strategy
what the engine gives it (``sim.engine.site_state``), so the same strategy object runs unchanged:

- ``time_s`` is seconds since the Unix epoch (every live time is), ``departure_s`` and
  ``arrival_s`` too; strategies only compare times and durations.
- sessions (one per charger, in plug-in order; ``session_ids`` are ``"<charger>:<transaction>"``):
  ``arrival_s`` the transaction start; ``energy_delivered_kwh`` the metered energy since the start
  (register minus ``meterStart``, or the first register seen; the integral of the reported power
  when a charger sends no register) times the charger's efficiency, vehicle side as in the
  simulator; ``departure_s`` and ``energy_requested_kwh`` from ``ChargingNeeds`` (the charger's
  ISO 15118 data or a user's input) when known, else **estimates**: departure = arrival + the mean
  dwell time of the charger's kind (``sim.scenario.schema.BUILTIN_KINDS``), never earlier than one
  period from now; energy = the kind's mean session energy, never less than what the session could
  still take in one period at its ``max_current_a`` (a vehicle that still charges is never shown as
  done).
- ``max_current_a`` is the charger's maximum, lowered to a learned vehicle limit once a vehicle has
  been seen drawing clearly less than it was offered (``Current.Offered`` minus
  ``VEHICLE_MARGIN_A``): the highest current it drew in the session plus that margin. A session
  in ``SuspendedEV`` is shown taking the charger's minimum (never 0: a 0 A limit would hide a
  vehicle that wants to resume, since the charger then reports ``SuspendedEVSE``).
- ``constraints``: the site file's limits tree, with the ``import_kw`` row's limit set to the
  import limit minus the base load now, as ``SiteModel.constraints_at`` does in the simulator.
- operator limits (``sim.live.actions``): a node's current limit replaces the file's in the tree;
  a charger's limit is its ``max_current_a`` in the view's charger table.
- ``base_load_kw``: the site file's value until ``set_base_load_kw`` (a site meter) replaces it.
- ``forecast``: a persistence forecast (``Forecast`` says so for live mode): the base load now for
  every step, no PV, and the tariff's prices at each step; steps of 15 min (or the control period,
  if longer) for 24 h, from the step now falls in.
- ``grid``: the ``GridState`` the caller passes (the live load flow, when the site has a feeder).

A charger that is not in the site file is refused (its events are ignored, with a note) unless the
file accepts unknown chargers; then it joins the charger table (and the root of the limits tree)
at its first event. A charger with two transactions at once (two connectors) shows the earliest
one in the view; the other is tracked and charges at the default profile's limit. Only a stop ends
a session (or a new start on the same connector: the stop was lost); a disconnect does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from sim.domain import ActiveSessions, Charger, ChargerTable, Constraints, Forecast, GridState, SiteView
from sim.domain.timebase import Timebase
from sim.live.events import (
    Capabilities,
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ChargingNeeds,
    LiveEvent,
    MeterSample,
    SessionEnded,
    SessionStarted,
    StatusChanged,
)
from sim.live.site_file import IEC_MIN_CURRENT_A, LiveSite
from sim.scenario.schema import BUILTIN_KINDS
from sim.scenario.tariff import price_per_kwh

F64 = NDArray[np.float64]
VEHICLE_MARGIN_A = 1.0
"""A vehicle drawing this much less than offered is limited by itself; its limit is shown this much
above the most it drew (so a higher offer can still reveal more)."""
FORECAST_HORIZON_S = 24 * 3600.0
FORECAST_STEP_S = 900.0
"""The live forecast's step: a tariff changes on quarter hours at the finest, and planning strategies
cost in proportion to the steps (price_aware on 1,000 sessions: ~200 ms a tick at 30 s steps)."""
IMPORT_ROW = "import_kw"
IDLE_STATUSES = ("Available", "Preparing", "Reserved", "Unavailable", "Faulted")
"""Connector states in which a charger without an open session draws nothing."""


@dataclass(frozen=True)
class SessionRef:
    """Where a session in a view lives on the charger: what a TxProfile must name."""

    session_id: str
    charger_id: str
    connector_id: int
    transaction_id: str
    ocpp_version: str | None = None  # of the charger's connection now ("1.6" / "2.0.1"); None: not connected


@dataclass
class _Session:
    """One open transaction (mutable; only the tracker writes it)."""

    ref: SessionRef
    arrival_s: float
    meter_start_wh: float | None
    register_wh: float | None = None
    integrated_wh: float = 0.0  # from power, for chargers without an energy register
    last_power_w: float | None = None
    last_sample_s: float | None = None
    departure_s: float | None = None  # given by ChargingNeeds
    requested_wh: float | None = None  # given by ChargingNeeds
    max_drawn_a: float = 0.0
    vehicle_limited: bool = False
    suspended_ev: bool = False

    def metered_wh(self) -> float:
        if self.register_wh is not None and self.meter_start_wh is not None:
            return max(self.register_wh - self.meter_start_wh, 0.0)
        return self.integrated_wh


@dataclass
class _Charger:
    charger: Charger
    connected: bool = False
    ocpp_version: str | None = None
    current_a: float = 0.0  # measured, per phase (the highest phase)
    power_w: float = 0.0
    capabilities: Capabilities | None = None
    booted: ChargerBooted | None = None
    sessions: dict[str, _Session] = field(default_factory=dict)  # open transactions by id


class LiveTracker:
    """Applies live events to the site state and builds ``SiteView``s (see the module docstring)."""

    def __init__(self, site: LiveSite) -> None:
        self.site = site
        self._chargers: dict[str, _Charger] = {c.charger_id: _Charger(c) for c in site.chargers.chargers}
        self._table = site.chargers
        self._constraints: Constraints = site.constraints(self._table)
        self._limits_site = site  # the site with the operator's node limits (set_node_limit_a)
        self._charger_limit_a: dict[str, float] = {}  # the operator's charger limits (set_charger_limit_a)
        self._timebase = Timebase(datetime.fromtimestamp(0.0, UTC).astimezone(site.time_zone))
        self.base_load_kw = site.base_load_kw

    # --- what the tracker knows -----------------------------------------------------------------
    @property
    def chargers(self) -> ChargerTable:
        """The charger table of the views: the listed chargers, then accepted unknown ones."""
        return self._table

    def accepts(self, charger_id: str) -> bool:
        """Whether ``charger_id`` may connect (listed, or unknown chargers are accepted)."""
        return self.site.charger_for(charger_id) is not None

    def ocpp_version(self, charger_id: str) -> str | None:
        state = self._chargers.get(charger_id)
        return state.ocpp_version if state is not None else None

    def capabilities(self, charger_id: str) -> Capabilities | None:
        state = self._chargers.get(charger_id)
        return state.capabilities if state is not None else None

    def is_connected(self, charger_id: str) -> bool:
        state = self._chargers.get(charger_id)
        return state is not None and state.connected

    def session_refs(self) -> dict[str, SessionRef]:
        """Every open session by session id (also those a view leaves out), with the OCPP version of
        its charger's connection (``None`` while the charger is not connected)."""
        refs = {}
        for session in self._all_sessions():
            version = self._version_if_connected(session.ref.charger_id)
            if session.ref.ocpp_version != version:  # a new frozen ref only when the link changed
                session.ref = replace(session.ref, ocpp_version=version)
            refs[session.ref.session_id] = session.ref
        return refs

    def _version_if_connected(self, charger_id: str) -> str | None:
        state = self._chargers[charger_id]
        return state.ocpp_version if state.connected else None

    def transaction_on(self, charger_id: str, connector_id: int) -> str | None:
        """The open transaction on a charger's connector (the earliest, if several), or ``None``."""
        on_connector = self._open_on(charger_id, connector_id) if connector_id > 0 else []
        return on_connector[0].ref.transaction_id if on_connector else None

    def connector_of(self, charger_id: str, transaction_id: str) -> int | None:
        """The connector of an open transaction, or ``None`` when it is not open."""
        state = self._chargers.get(charger_id)
        session = state.sessions.get(transaction_id) if state is not None else None
        return session.ref.connector_id if session is not None else None

    def measured_current_a(self) -> F64:
        """The last measured current per phase of every charger (highest phase), in ``chargers`` order."""
        return np.array([self._chargers[cid].current_a for cid in self._table.ids], dtype=float)

    def measured_power_kw(self) -> F64:
        """The last measured charging power of every charger (kW), in ``chargers`` order."""
        return np.array([self._chargers[cid].power_w / 1000.0 for cid in self._table.ids], dtype=float)

    def set_base_load_kw(self, base_load_kw: float) -> None:
        """The site's non-charging import now (a site meter reading), kW."""
        if not math.isfinite(base_load_kw):
            raise ValueError(f"base_load_kw must be a finite number, got {base_load_kw!r}")
        self.base_load_kw = float(base_load_kw)

    # --- events -------------------------------------------------------------------------------------
    def apply(self, event: LiveEvent) -> tuple[str, ...]:
        """Update the state with one event; returns notes worth logging (usually none)."""
        state = self._charger_state(event.charger_id)
        if state is None:
            return (f"event from charger '{event.charger_id}' ignored: not in the site file and unknown "
                    f"chargers are not accepted",)
        if isinstance(event, ChargerConnected):
            state.connected, state.ocpp_version = True, event.ocpp_version
        elif isinstance(event, ChargerDisconnected):
            state.connected = False  # open sessions stay: a charger reconnecting mid-session keeps them
        elif isinstance(event, ChargerBooted):
            state.booted = event
        elif isinstance(event, Capabilities):
            state.capabilities = event
        elif isinstance(event, StatusChanged):
            return self._status(state, event)
        elif isinstance(event, SessionStarted):
            return self._started(state, event)
        elif isinstance(event, SessionEnded):
            return self._ended(state, event)
        elif isinstance(event, MeterSample):
            return self._meter(state, event)
        elif isinstance(event, ChargingNeeds):
            session = state.sessions.get(event.transaction_id)
            if session is None:
                return (f"charging needs for unknown transaction '{event.transaction_id}' on "
                        f"'{event.charger_id}' ignored",)
            if event.departure_t_s is not None:
                session.departure_s = event.departure_t_s
            if event.energy_requested_wh is not None:
                session.requested_wh = event.energy_requested_wh
        return ()

    def _charger_state(self, charger_id: str) -> _Charger | None:
        state = self._chargers.get(charger_id)
        if state is not None:
            return state
        charger = self.site.charger_for(charger_id)
        if charger is None:
            return None
        state = self._chargers[charger_id] = _Charger(charger)
        self._rebuild()
        return state

    # --- the operator's limits (sim.live.actions): the next view carries them ----------------------
    def set_charger_limit_a(self, charger_id: str, max_current_a: float) -> None:
        """A charger's maximum current per phase from now on (its rating: no operator limit). The
        view's charger table carries it as the charger's ``max_current_a``, so every strategy, the
        setpoint check and the profiles' clamp respect it; 0 pauses the charger's sessions."""
        self._charger_limit_a[charger_id] = float(max_current_a)
        self._rebuild()

    def set_node_limit_a(self, node_id: str, max_current_a: float | None) -> None:
        """A limits-tree node's per-phase current limit from now on (``None``: no current limit)."""
        nodes = tuple(replace(n, max_current_a=max_current_a) if n.node_id == node_id else n
                      for n in self._limits_site.limits)
        self._limits_site = replace(self._limits_site, limits=nodes)
        self._rebuild()

    def _rebuild(self) -> None:
        """The charger table (operator limits applied) and its constraints, after a change."""
        self._table = ChargerTable(tuple(
            replace(s.charger, max_current_a=self._charger_limit_a[cid]) if cid in self._charger_limit_a else s.charger
            for cid, s in self._chargers.items()))
        self._constraints = self._limits_site.constraints(self._table)

    def _status(self, state: _Charger, event: StatusChanged) -> tuple[str, ...]:
        cid = state.charger.charger_id
        for session in self._open_on(cid, event.connector_id):
            session.suspended_ev = event.status == "SuspendedEV"
        if event.status in IDLE_STATUSES and not self._open_on(cid, None):
            state.current_a, state.power_w = 0.0, 0.0
        return ()

    def _started(self, state: _Charger, event: SessionStarted) -> tuple[str, ...]:
        cid = state.charger.charger_id
        notes: list[str] = []
        if event.transaction_id in state.sessions:
            return ()  # a repeated start (a charger resending after a reconnect) changes nothing
        for old in self._open_on(cid, event.connector_id):
            del state.sessions[old.ref.transaction_id]
            notes.append(f"transaction '{old.ref.transaction_id}' on '{cid}' connector {event.connector_id} "
                         f"closed: a new one started there without a stop")
        ref = SessionRef(f"{cid}:{event.transaction_id}", cid, event.connector_id, event.transaction_id)
        state.sessions[event.transaction_id] = _Session(ref, event.t_s, event.meter_start_wh)
        return tuple(notes)

    def _ended(self, state: _Charger, event: SessionEnded) -> tuple[str, ...]:
        session = state.sessions.pop(event.transaction_id, None)
        if session is None:
            return (f"stop of unknown transaction '{event.transaction_id}' on '{event.charger_id}' ignored",)
        if not self._open_on(state.charger.charger_id, None):
            state.current_a, state.power_w = 0.0, 0.0
        return ()

    def _meter(self, state: _Charger, sample: MeterSample) -> tuple[str, ...]:
        charger = state.charger
        current_a = _highest_phase(sample.current_a)
        if current_a is None and sample.power_w is not None:
            current_a = sample.power_w / (charger.phases * charger.v_ln_v)
        if current_a is not None:
            state.current_a = max(current_a, 0.0)
        if sample.power_w is not None:
            state.power_w = max(sample.power_w, 0.0)
        elif current_a is not None:
            state.power_w = max(current_a, 0.0) * charger.phases * charger.v_ln_v
        session = self._session_of(charger.charger_id, sample)
        if session is None:
            return ()
        if sample.energy_wh is not None:
            if session.meter_start_wh is None:
                session.meter_start_wh = sample.energy_wh
            session.register_wh = sample.energy_wh
        if session.last_sample_s is not None and session.last_power_w is not None:
            session.integrated_wh += session.last_power_w * max(sample.t_s - session.last_sample_s, 0.0) / 3600.0
        session.last_sample_s = sample.t_s
        if sample.power_w is not None or current_a is not None:
            session.last_power_w = state.power_w
        if current_a is not None:
            session.max_drawn_a = max(session.max_drawn_a, current_a)
            offered = sample.offered_current_a
            if offered is not None and current_a > VEHICLE_MARGIN_A and current_a < offered - VEHICLE_MARGIN_A:
                session.vehicle_limited = True
        return ()

    def _session_of(self, charger_id: str, sample: MeterSample) -> _Session | None:
        if sample.transaction_id is not None:
            return self._chargers[charger_id].sessions.get(sample.transaction_id)
        on_connector = self._open_on(charger_id, sample.connector_id)
        return on_connector[0] if on_connector else None

    def _open_on(self, charger_id: str, connector_id: int | None) -> list[_Session]:
        """Open sessions of a charger (on one connector, or any for ``None``/0), earliest first."""
        found = [s for s in self._chargers[charger_id].sessions.values()
                 if connector_id in (None, 0) or s.ref.connector_id == connector_id]
        return sorted(found, key=lambda s: s.arrival_s)

    def _all_sessions(self) -> list[_Session]:
        return [s for state in self._chargers.values() for s in state.sessions.values()]

    # --- the view ---------------------------------------------------------------------------------
    def view(self, t_s: float, period_s: float, grid: GridState | None = None) -> SiteView:
        """The frozen snapshot a strategy sees at ``t_s`` (epoch seconds); see the module docstring."""
        table = self._table
        index = table.index_of()
        chosen: dict[str, _Session] = {}
        for session in sorted(self._all_sessions(), key=lambda s: (s.arrival_s, s.ref.session_id)):
            chosen.setdefault(session.ref.charger_id, session)
        sessions = sorted(chosen.values(), key=lambda s: (s.arrival_s, s.ref.session_id))
        ci = np.array([index[s.ref.charger_id] for s in sessions], dtype=np.int64)
        max_a = np.array([self._max_current_a(s, table.chargers[i]) for s, i in zip(sessions, ci, strict=True)])
        eff = table.efficiency[ci] if len(ci) else np.zeros(0)
        delivered = np.array([s.metered_wh() / 1000.0 for s in sessions]) * eff
        rate_kw = max_a * (table.phases[ci] * table.v_ln_v[ci] / 1000.0 if len(ci) else 0.0) * eff
        requested = np.array([BUILTIN_KINDS[table.chargers[i].kind].energy_kwh_mean for i in ci], dtype=float)
        requested = np.maximum(requested, delivered + rate_kw * period_s / 3600.0) if len(ci) else requested
        given = np.array([s.requested_wh is not None for s in sessions], dtype=bool)
        if given.any():  # a requested energy the vehicle or its driver gave is taken as it is
            requested[given] = [s.requested_wh / 1000.0 for s in sessions if s.requested_wh is not None]
        departure = np.array([self._departure_s(s, table.chargers[i], t_s, period_s)
                              for s, i in zip(sessions, ci, strict=True)])
        active = ActiveSessions(
            session_ids=tuple(s.ref.session_id for s in sessions),
            charger_index=_ro(ci),
            arrival_s=_ro(np.array([s.arrival_s for s in sessions], dtype=float)),
            departure_s=_ro(departure.astype(float)),
            energy_requested_kwh=_ro(requested.astype(float)),
            energy_delivered_kwh=_ro(delivered.astype(float)),
            max_current_a=_ro(max_a.astype(float)),
        )
        return SiteView(time_s=t_s, period_s=period_s, chargers=table, sessions=active, grid=grid,
                        base_load_kw=self.base_load_kw, constraints=self._constraints_now(),
                        forecast=self._forecast(t_s, period_s))

    def _max_current_a(self, session: _Session, charger: Charger) -> float:
        if session.suspended_ev:
            return min(charger.max_current_a, max(charger.min_current_a, IEC_MIN_CURRENT_A))
        if session.vehicle_limited:
            return min(charger.max_current_a, session.max_drawn_a + VEHICLE_MARGIN_A)
        return charger.max_current_a

    def _departure_s(self, session: _Session, charger: Charger, t_s: float, period_s: float) -> float:
        if session.departure_s is not None:
            return session.departure_s
        estimate = session.arrival_s + BUILTIN_KINDS[charger.kind].dwell_h_mean * 3600.0
        return max(estimate, t_s + period_s)

    def _constraints_now(self) -> Constraints:
        limit_kw = self.site.site.import_limit_kw
        if limit_kw is None:
            return self._constraints
        return self._constraints.with_limit(IMPORT_ROW, limit_kw - self.base_load_kw)

    def _forecast(self, t_s: float, period_s: float) -> Forecast:
        """Steps of ``max(period_s, FORECAST_STEP_S)`` from the step ``t_s`` falls in (as ``horizon``
        reads a forecast), each at the tariff's price at its start."""
        step_s = max(period_s, FORECAST_STEP_S)
        n = max(1, math.ceil(FORECAST_HORIZON_S / step_s - 1e-9))
        t0_s = math.floor(t_s / step_s + 1e-9) * step_s
        prices = price_per_kwh(self.site.tariff, self._timebase, t0_s + step_s * np.arange(n, dtype=float))
        return Forecast(step_s=step_s, base_load_kw=_ro(np.full(n, self.base_load_kw)), pv_kw=_ro(np.zeros(n)),
                        price_per_kwh=_ro(np.asarray(prices, dtype=float)))


def _highest_phase(current_a: tuple[float | None, float | None, float | None] | None) -> float | None:
    if current_a is None:
        return None
    values = [c for c in current_a if c is not None]
    return max(values) if values else None


_T = TypeVar("_T", bound=np.generic)


def _ro(values: NDArray[_T]) -> NDArray[_T]:
    values = np.ascontiguousarray(values)
    values.setflags(write=False)
    return values
