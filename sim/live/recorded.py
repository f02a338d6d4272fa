"""What a live store recorded, as plain sessions and meter rows: the input of export and replay.

Pure conversions of ``sim.live.events`` (no store, no engine): ``recorded_sessions(events)`` pairs
each transaction's start and end, ``to_domain_sessions`` turns them into the simulator's
``Session`` objects, ``metered_power_kw`` gives the measured tick-mean charging power, and
``meter_rows`` flattens the meter samples for export.

A session's metered energy is grid side, as the charger's meter counts it: ``meterStop`` (or the
last register seen) minus ``meterStart`` (or the first register seen); a charger without an
energy register gets the integral of its reported power (each value held until the next). The
demand a replay gives the simulator is that energy times the charger's efficiency (vehicle side,
as a simulated session's ``energy_kwh``): what the vehicle really took, so a strategy can deliver
at most what was measured. A session still open when the store ends departs at the last recorded
event (``ended`` is then False).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.domain import Session
from sim.live.events import LiveEvent, MeterSample, SessionEnded, SessionStarted


@dataclass
class RecordedSession:
    """One transaction as recorded. Times are epoch seconds; ``points`` are ``(t_s, metered_wh)``
    pairs, the energy metered since the start (0 at the arrival), in time order."""

    charger_id: str
    connector_id: int
    transaction_id: str
    arrival_t_s: float
    departure_t_s: float
    metered_wh: float = 0.0
    ended: bool = False
    meter_start_wh: float | None = None
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def session_id(self) -> str:
        return f"{self.charger_id}:{self.transaction_id}"


@dataclass
class _Open:
    """A transaction being read: its register readings and its power-integral fallback."""

    session: RecordedSession
    first_register_wh: float | None = None
    last_register_wh: float | None = None
    integrated_wh: float = 0.0
    last_power: tuple[float, float] | None = None  # (t_s, power_w)

    def base_wh(self) -> float | None:
        start = self.session.meter_start_wh
        return start if start is not None else self.first_register_wh

    def metered_wh(self, t_s: float) -> float:
        base = self.base_wh()
        if self.last_register_wh is not None and base is not None:
            return max(self.last_register_wh - base, 0.0)
        held = self.last_power[1] * (t_s - self.last_power[0]) / 3600.0 if self.last_power is not None else 0.0
        return self.integrated_wh + max(held, 0.0)


def recorded_sessions(events: Iterable[LiveEvent]) -> list[RecordedSession]:
    """Every transaction in the events, in start order. A meter sample without a transaction id
    belongs to the open transaction on its charger and connector; a new start on a busy connector
    ends the old transaction there (its stop was lost), as the tracker does."""
    open_: dict[tuple[str, str], _Open] = {}
    done: list[RecordedSession] = []
    last_t_s = 0.0
    for event in events:
        last_t_s = max(last_t_s, event.t_s)
        if isinstance(event, SessionStarted):
            for key in [k for k, o in open_.items()
                        if k[0] == event.charger_id and o.session.connector_id == event.connector_id]:
                done.append(_close(open_.pop(key), event.t_s, None, ended=True))
            session = RecordedSession(event.charger_id, event.connector_id, event.transaction_id, event.t_s, event.t_s,
                                      meter_start_wh=event.meter_start_wh, points=[(event.t_s, 0.0)])
            open_[(event.charger_id, event.transaction_id)] = _Open(session)
        elif isinstance(event, SessionEnded):
            reading = open_.pop((event.charger_id, event.transaction_id), None)
            if reading is not None:
                done.append(_close(reading, event.t_s, event.meter_stop_wh, ended=True))
        elif isinstance(event, MeterSample):
            reading = _owner(open_, event)
            if reading is not None:
                _add_sample(reading, event)
    done.extend(_close(reading, max(last_t_s, reading.session.arrival_t_s), None, ended=False)
                for reading in open_.values())
    return sorted(done, key=lambda s: (s.arrival_t_s, s.session_id))


def _owner(open_: Mapping[tuple[str, str], _Open], sample: MeterSample) -> _Open | None:
    if sample.transaction_id is not None:
        return open_.get((sample.charger_id, sample.transaction_id))
    for (charger_id, _), reading in open_.items():
        if charger_id == sample.charger_id and reading.session.connector_id == sample.connector_id:
            return reading
    return None


def _add_sample(reading: _Open, sample: MeterSample) -> None:
    if sample.energy_wh is not None:
        if reading.first_register_wh is None:
            reading.first_register_wh = sample.energy_wh
        reading.last_register_wh = sample.energy_wh
    if reading.last_power is not None:
        t0_s, p0_w = reading.last_power
        reading.integrated_wh += max(p0_w, 0.0) * max(sample.t_s - t0_s, 0.0) / 3600.0
    if sample.power_w is not None:
        reading.last_power = (sample.t_s, sample.power_w)
    points = reading.session.points
    if sample.t_s >= points[-1][0]:
        points.append((sample.t_s, max(reading.metered_wh(sample.t_s), points[-1][1])))


def _close(reading: _Open, t_s: float, meter_stop_wh: float | None, *, ended: bool) -> RecordedSession:
    session = reading.session
    if meter_stop_wh is not None:
        reading.last_register_wh = meter_stop_wh
        if reading.base_wh() is None:
            reading.first_register_wh = meter_stop_wh
    session.departure_t_s = max(t_s, session.arrival_t_s)
    session.metered_wh = reading.metered_wh(session.departure_t_s)
    session.ended = ended
    session.points.append((session.departure_t_s, max(session.metered_wh, session.points[-1][1])))
    return session


def to_domain_sessions(sessions: Sequence[RecordedSession], start_t_s: float,
                       efficiency: Mapping[str, float]) -> tuple[Session, ...]:
    """The simulator's sessions: times in seconds since ``start_t_s``, the demand the metered
    energy times the charger's ``efficiency`` (vehicle side). Zero-length sessions are left out."""
    return tuple(
        Session(session_id=s.session_id, charger_id=s.charger_id, arrival_s=s.arrival_t_s - start_t_s,
                departure_s=s.departure_t_s - start_t_s, energy_kwh=s.metered_wh / 1000.0 * efficiency[s.charger_id])
        for s in sessions if s.departure_t_s > s.arrival_t_s
    )


def metered_power_kw(sessions: Sequence[RecordedSession], charger_ids: Sequence[str],
                     tick_edges_t_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Measured mean charging power per tick and charger (grid side, kW): ticks x chargers, from
    each session's metered energy interpolated linearly between its readings at the tick edges."""
    column = {charger_id: k for k, charger_id in enumerate(charger_ids)}
    edges = np.asarray(tick_edges_t_s, dtype=float)
    p_kw = np.zeros((len(edges) - 1, len(charger_ids)))
    for s in sessions:
        t_s, wh = (np.array(v, dtype=float) for v in zip(*s.points, strict=True))
        energy_wh = np.interp(edges, t_s, wh, left=0.0, right=float(wh[-1]))
        p_kw[:, column[s.charger_id]] += np.diff(energy_wh) / np.diff(edges) * 3.6
    return p_kw


def meter_rows(events: Iterable[LiveEvent]) -> list[dict[str, Any]]:
    """One row per meter sample (``None`` where the charger did not report a value)."""
    rows = []
    for e in events:
        if isinstance(e, MeterSample):
            current = e.current_a or (None, None, None)
            rows.append({"t_s": e.t_s, "charger_id": e.charger_id, "connector_id": e.connector_id,
                         "transaction_id": e.transaction_id, "power_w": e.power_w, "energy_wh": e.energy_wh,
                         "current_l1_a": current[0], "current_l2_a": current[1], "current_l3_a": current[2],
                         "offered_current_a": e.offered_current_a, "soc_percent": e.soc_percent})
    return rows
