"""What the API shows: the live objects of a running site and its store, as response models.

``SiteReader`` reads the twin's state now from the ``LiveApp`` (tracker, links, latest decision and
load flow: the very objects the live process uses, on the same event loop) and history from the
store through a read-only connection of its own per request (``sim.live.store.read_*``), so a
request never waits for the live store's commits (the store's lock is held through its fsync) and
the history reads can run in a worker thread (``sim.api.routes``): only ``chargers`` and the
``*_now`` parts touch the live objects, and they run on the event loop. Sessions are paired from the recorded events by
``sim.live.recorded`` (as ``feedertwin export`` does), so their energy is the same everywhere.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.api.models import (
    BranchLoadingOut,
    BusVoltageOut,
    CapabilitiesOut,
    ChargerOut,
    CommandOut,
    ConnectorOut,
    DecisionOut,
    GridOut,
    LimitOut,
    LogLineOut,
    MeterSampleOut,
    SessionDetailOut,
    SessionOut,
    SetpointOut,
    SiteOut,
    SitePowerOut,
)
from sim.live.events import ChargerBooted, MeterSample, SessionEnded, SessionStarted, StatusChanged
from sim.live.recorded import RecordedSession, meter_rows, recorded_sessions
from sim.live.store import (
    open_read_only,
    read_event_rows,
    read_last_seen,
    read_latest_events,
    read_recent_commands,
    read_recent_decisions,
    read_recent_log,
    read_site_power,
)

if TYPE_CHECKING:
    from sim.domain import Charger, GridState
    from sim.live.app import LiveApp
    from sim.live.controller import Decision

SESSION_EVENTS = (SessionStarted, SessionEnded, MeterSample)


@dataclass
class ChargerHistory:
    """What the store says of some chargers (``SiteReader.charger_history``)."""

    last_seen_t_s: dict[str, float]
    booted: dict[str, ChargerBooted] = field(default_factory=dict)
    connectors: dict[str, dict[int, StatusChanged]] = field(default_factory=dict)


def finite(value: Any) -> float | None:
    """A finite float, or ``None`` (NaN and infinities are not JSON numbers)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class SiteReader:
    """Builds the API's answers for one live site (see the module docstring)."""

    def __init__(self, live: LiveApp) -> None:
        self.live = live

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection to the site's store for one request, closed afterwards (cheap,
        and usable in whichever thread the request's store reads run)."""
        db = open_read_only(self.live.store.path)
        try:
            yield db
        finally:
            db.close()

    # -- chargers ---------------------------------------------------------------------------------

    def charger_ids(self) -> tuple[str, ...]:
        return tuple(self.live.tracker.chargers.ids)

    def charger_history(self, charger_ids: Sequence[str], one: str | None) -> ChargerHistory:
        """What the store says of these chargers (thread-safe: it reads the store only): each
        connector's latest status, each charger's latest boot and last frame."""
        with self.reading() as db:
            history = ChargerHistory(last_seen_t_s=read_last_seen(db, charger_ids))
            for booted in read_latest_events(db, ChargerBooted, one):
                history.booted[booted.charger_id] = booted
            for status in read_latest_events(db, StatusChanged, one, per_connector=True):
                history.connectors.setdefault(status.charger_id, {})[status.connector_id] = status
        return history

    def chargers(self, chosen: Sequence[str], history: ChargerHistory) -> list[ChargerOut]:
        """The ``chosen`` chargers now (the twin's state, on the event loop) with their ``history``."""
        tracker = self.live.tracker
        ids = self.charger_ids()
        power_kw = dict(zip(ids, tracker.measured_power_kw().tolist(), strict=True))
        current_a = dict(zip(ids, tracker.measured_current_a().tolist(), strict=True))
        open_ids: dict[str, list[str]] = {}
        for ref in tracker.session_refs().values():
            open_ids.setdefault(ref.charger_id, []).append(ref.session_id)
        listed = set(self.live.site.chargers.ids)
        table = {c.charger_id: c for c in tracker.chargers.chargers}
        return [self._charger(table[cid], cid in listed, power_kw[cid], current_a[cid],
                              history.last_seen_t_s.get(cid), history.booted.get(cid),
                              history.connectors.get(cid, {}), sorted(open_ids.get(cid, [])))
                for cid in chosen if cid in table]

    def _charger(self, charger: Charger, listed: bool, power_kw: float, current_a: float, last_seen_t_s: float | None,
                 booted: ChargerBooted | None, statuses: dict[int, StatusChanged], open_ids: list[str]) -> ChargerOut:
        cid = charger.charger_id
        caps = self.live.tracker.capabilities(cid)
        return ChargerOut(
            charger_id=cid, listed=listed, bus=charger.bus, phases=charger.phases, phase=charger.phase,
            min_current_a=charger.min_current_a, max_current_a=charger.max_current_a, kind=charger.kind,
            online=cid in self.live.links, ocpp_version=self.live.tracker.ocpp_version(cid),
            last_seen_t_s=last_seen_t_s,
            vendor=booted.vendor if booted else None, model=booted.model if booted else None,
            firmware_version=booted.firmware_version if booted else None,
            capabilities=None if caps is None else CapabilitiesOut(
                smart_charging=caps.smart_charging,
                rate_units=list(caps.rate_units) if caps.rate_units is not None else None,
                max_stack_level=caps.max_stack_level, max_periods_per_schedule=caps.max_periods_per_schedule,
                number_of_connectors=caps.number_of_connectors, read_t_s=caps.t_s),
            connectors=[ConnectorOut(connector_id=s.connector_id, status=s.status, error_code=s.error_code,
                                     since_t_s=s.t_s) for _, s in sorted(statuses.items())],
            current_now_a=finite(current_a) or 0.0, power_now_kw=finite(power_kw) or 0.0,
            open_session_ids=open_ids)

    # -- sessions ---------------------------------------------------------------------------------

    def sessions(self, charger_id: str | None = None, state: str = "all",
                 limit: int | None = None) -> list[RecordedSession]:
        """The newest ``limit`` recorded sessions (of one charger, or all; ``open``, ``ended`` or
        ``all``), newest first. The starts and ends say which sessions these are; only the events
        from the earliest chosen start on are then read for their energy, so a request costs what
        its sessions recorded, not the store's whole history."""
        chosen, starts = self._outline(charger_id, state, limit)
        if not chosen:
            return []
        full = self.sessions_from(charger_id, min(starts[s.session_id] for s in chosen))
        return [full[s.session_id] for s in chosen]

    def session(self, session_id: str, charger_ids: Sequence[str]) -> tuple[RecordedSession, int] | None:
        """The session ``session_id`` (of one of ``charger_ids``) and the row id of its start, or ``None``."""
        for charger_id in charger_ids:
            if session_id.startswith(charger_id + ":"):
                chosen, starts = self._outline(charger_id, "all", None)
                for outline in chosen:
                    if outline.session_id == session_id:
                        found = self.sessions_from(charger_id, starts[session_id])
                        return found[session_id], starts[session_id]
        return None

    def sessions_from(self, charger_id: str | None, min_id: int) -> dict[str, RecordedSession]:
        """The sessions recorded from row ``min_id`` on (complete for those that started there or later)."""
        with self.reading() as db:
            rows = read_event_rows(db, SESSION_EVENTS, charger_id, min_id)
        return {s.session_id: s for s in recorded_sessions(e for _, e in rows)}

    def _outline(self, charger_id: str | None, state: str,
                 limit: int | None) -> tuple[list[RecordedSession], dict[str, int]]:
        """The sessions (newest first, filtered, at most ``limit``) from their starts and ends only
        (their energy is not known yet), and the row id of each session's start."""
        with self.reading() as db:
            bounds = read_event_rows(db, (SessionStarted, SessionEnded), charger_id)
        starts = {f"{e.charger_id}:{e.transaction_id}": row_id for row_id, e in bounds if isinstance(e, SessionStarted)}
        outline = [s for s in reversed(recorded_sessions(e for _, e in bounds))
                   if state == "all" or (state == "open") == (not s.ended)]
        return outline[:limit], starts

    @staticmethod
    def session_out(s: RecordedSession) -> SessionOut:
        return SessionOut(session_id=s.session_id, charger_id=s.charger_id, connector_id=s.connector_id,
                          transaction_id=s.transaction_id, open=not s.ended, start_t_s=s.arrival_t_s,
                          end_t_s=s.departure_t_s if s.ended else None, last_t_s=s.departure_t_s,
                          energy_metered_kwh=s.metered_wh / 1000.0)

    def session_detail(self, session: RecordedSession, start_id: int) -> SessionDetailOut:
        """A session with its meter samples (those that name its transaction, or came on its
        connector while it was open), read from its start on."""
        with self.reading() as db:
            rows = read_event_rows(db, (MeterSample,), session.charger_id, start_id)
        samples = [e for _, e in rows
                   if (e.transaction_id == session.transaction_id if e.transaction_id is not None
                       else e.connector_id == session.connector_id
                       and session.arrival_t_s <= e.t_s <= session.departure_t_s)]
        out = [MeterSampleOut(**{k: v for k, v in row.items() if k not in ("charger_id", "transaction_id")})
               for row in meter_rows(samples)]
        return SessionDetailOut(**self.session_out(session).model_dump(), meter_samples=out)

    # -- site, feeder, decisions ------------------------------------------------------------------

    def site(self) -> SiteOut:
        live = self.live
        tracker = live.tracker
        charging_kw = float(tracker.measured_power_kw().sum())
        return SiteOut(
            name=live.site.name, description=live.site.description, t_s=live.now_s(), mode=live.mode,
            control_period_s=live.site.control.period_s, strategy=live.site.strategy.name,
            time_zone=str(live.site.time_zone), import_limit_kw=finite(live.site.site.import_limit_kw),
            limits=[LimitOut(node_id=n.node_id, parent=n.parent, max_current_a=finite(n.max_current_a),
                             max_kva=finite(n.max_kva), charger_ids=list(n.charger_ids)) for n in live.site.limits],
            base_load_kw=tracker.base_load_kw, charging_power_kw=charging_kw,
            import_now_kw=tracker.base_load_kw + charging_kw, n_chargers=len(tracker.chargers),
            n_online=len(live.links), n_sessions_open=len(tracker.session_refs()), has_grid=live.site.grid is not None)

    def site_power(self, hours: float) -> SitePowerOut:
        """The site's power at each tick of the last ``hours`` (thread-safe: it reads the store only)."""
        until_t_s = self.live.now_s()
        since_t_s = until_t_s - hours * 3600.0
        with self.reading() as db:
            rows = read_site_power(db, since_t_s)
        return SitePowerOut(since_t_s=since_t_s, until_t_s=until_t_s, t_s=[r[0] for r in rows],
                            charging_kw=[finite(r[1]) for r in rows], import_kw=[finite(r[2]) for r in rows],
                            import_limit_kw=[finite(r[3]) for r in rows])

    def grid(self, grid: GridState | None) -> GridOut | None:
        """The load flow's state with every bus voltage and branch loading, named by the feeder's
        element ids."""
        if grid is None:
            return None
        feeder = self.live.feeder.feeder if self.live.feeder is not None else None

        def ids(name: str, n: int) -> list[int]:
            known = getattr(feeder, name, None)
            return list(known) if known is not None and len(known) == n else list(range(n))

        return GridOut(
            t_s=grid.time_s, vm_min_pu=finite(grid.vm_min_pu), vm_max_pu=finite(grid.vm_max_pu),
            max_line_loading_percent=finite(grid.max_line_loading_percent),
            max_trafo_loading_percent=finite(grid.max_trafo_loading_percent), p_import_kw=finite(grid.p_import_kw),
            buses=[BusVoltageOut(bus=b, vm_pu=finite(v))
                   for b, v in zip(ids("bus_ids", len(grid.vm_pu)), grid.vm_pu.tolist(), strict=True)],
            lines=[BranchLoadingOut(branch=b, loading_percent=finite(v)) for b, v in
                   zip(ids("line_ids", len(grid.line_loading_percent)), grid.line_loading_percent.tolist(), strict=True)],
            trafos=[BranchLoadingOut(branch=b, loading_percent=finite(v)) for b, v in
                    zip(ids("trafo_ids", len(grid.trafo_loading_percent)), grid.trafo_loading_percent.tolist(),
                        strict=True)])

    def latest_decision(self, decision: Decision | None, grid: GridState | None) -> DecisionOut | None:
        """The latest tick: setpoints and the limits they make, beside the current measured then
        (``measured_now_a`` of ``SetpointsOut`` gives the current now)."""
        if decision is None:
            return None
        rows = self.recent_decisions(1)  # its id and the currents measured at that tick, as stored
        stored = rows[0] if rows and rows[0].t_s == decision.t_s else None
        measured = {s.charger_id: s.measured_a for s in stored.setpoints} if stored else {}
        return DecisionOut(
            decision_id=stored.decision_id if stored else None, t_s=decision.t_s, mode=decision.mode,
            setpoints=[SetpointOut(charger_id=c, setpoint_a=finite(s), limit_a=finite(lim), measured_a=measured.get(c))
                       for c, s, lim in zip(decision.charger_ids, decision.setpoints_a.tolist(),
                                            decision.limits_a.tolist(), strict=True)],
            grid=self.grid(grid), notes=list(decision.notes))

    def measured_now_a(self) -> dict[str, float]:
        currents = self.live.tracker.measured_current_a().tolist()
        return {c: finite(a) or 0.0 for c, a in zip(self.charger_ids(), currents, strict=True)}

    def recent_decisions(self, limit: int) -> list[DecisionOut]:
        out = []
        with self.reading() as db:
            stored = read_recent_decisions(db, limit)
        for d in stored:
            g, data = d["grid"], d["data"] if isinstance(d["data"], dict) else {}
            limits_a = dict(zip(data.get("charger_ids", []), data.get("limits_a", []), strict=False))
            out.append(DecisionOut(
                decision_id=d["id"], t_s=d["t_s"], mode=d["mode"],
                setpoints=[SetpointOut(charger_id=c, setpoint_a=finite(s), limit_a=finite(limits_a.get(c)),
                                       measured_a=finite(m)) for c, s, m in d["setpoints"]],
                grid=None if g is None else GridOut(t_s=d["t_s"], buses=[], lines=[], trafos=[],
                                                    **{k: finite(v) for k, v in g.items()}),
                notes=[str(n) for n in data.get("notes", [])]))
        return out

    def recent_commands(self, limit: int, charger_id: str | None) -> list[CommandOut]:
        return [CommandOut(command_id=r["id"], t_s=r["t_s"], charger_id=r["charger_id"], action=r["action"],
                           outcome=r["outcome"], detail=r["detail"], outcome_t_s=r["outcome_t_s"])
                for r in self._read(read_recent_commands, limit, charger_id)]

    def recent_log(self, limit: int, levels: list[str] | None) -> list[LogLineOut]:
        return [LogLineOut(**row) for row in self._read(read_recent_log, limit, levels)]

    def _read(self, reader: Callable[..., list[dict[str, Any]]], *args: Any) -> list[dict[str, Any]]:
        with self.reading() as db:
            return reader(db, *args)
