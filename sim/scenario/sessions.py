"""Session sources: one entry point, ``build_sessions``, for ``[fleet] source`` = generate | csv | acn.

All times are seconds since ``scenario.simulation.start``; the window is [0, duration_s).
File sessions that lie wholly outside the window are excluded and counted (``outside_window``);
sessions cut by the window are clipped to it and counted (``truncated``; a session that arrived
before the start gets ``arrival_s = 0`` with its full request, one that leaves after the end
gets ``departure_s = duration_s``). Nothing is dropped silently.

File sessions without battery data get ``battery_kwh = max(default_capacity_kwh, energy / 0.9)``
and ``soc_arrival = max(0, (0.95 * battery_kwh - energy) / battery_kwh)``: the request fills the
battery to 95 %, so a taper battery model slows the end of the session as real ones do (the
assumption acnportal makes for data-driven sessions). A file's ``battery_kwh``/``soc_arrival``
are kept; a request larger than such a battery can take is an error.

Charger assignment: ``by_id`` - the file's charger ids (ACN: ``spaceID``) must be the scenario's;
``in_order`` - distinct ids, in order of first appearance in the file, go to the chargers in
charger order. A charger holds one vehicle at a time: overlapping sessions on one charger are an
error naming both (touching ones, departure == next arrival, are fine).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.domain.chargers import ChargerTable
from sim.domain.sessions import Session
from sim.errors import DataError, ScenarioError
from sim.scenario.schema import FLEET_SOURCES, SESSION_ASSIGN, Scenario
from sim.scenario.session_files import (
    ACN_FIELDS,
    CSV_FIELDS,
    FieldNames,
    RawSession,
    read_sessions_acn,
    read_sessions_csv,
)
from sim.scenario.session_gen import generate_sessions

SOC_TARGET = 0.95
FILL_FACTOR = 0.9  # an unknown battery is at least energy / 0.9
_TOLERANCE_KWH = 1e-6


@dataclass(frozen=True)
class SessionSet:
    """The sessions of a run, sorted by (arrival_s, session_id), and what the window did to the source.

    ``outside_window``: file sessions wholly outside [0, duration_s), excluded. ``truncated``:
    sessions clipped to the window. ``source`` says where they came from (``generate``,
    ``csv:<path>``, ``acn:<path>``).
    """

    sessions: tuple[Session, ...]
    outside_window: int
    truncated: int
    source: str

    def __len__(self) -> int:
        return len(self.sessions)


def build_sessions(
    scenario: Scenario,
    chargers: ChargerTable,
    kinds_by_charger: Sequence[str],
    rng: np.random.Generator,
) -> SessionSet:
    """The sessions of ``scenario`` on ``chargers``.

    ``kinds_by_charger`` gives each charger's kind (home/work/public, aligned with ``chargers``);
    only the generator uses it and ``rng``. File sources raise ``DataError`` for bad rows and
    ``ScenarioError`` for a bad ``[fleet]`` table.
    """
    fleet = scenario.fleet
    file = str(scenario.path) if scenario.path is not None else "<scenario>"
    if fleet.source == "generate":
        generated, truncated = generate_sessions(scenario, chargers, kinds_by_charger, rng)
        return SessionSet(_sorted(generated), outside_window=0, truncated=truncated, source="generate")
    if fleet.source not in ("csv", "acn"):
        raise ScenarioError(
            file,
            "fleet.source",
            "unknown session source",
            value=fleet.source,
            expected="one of " + ", ".join(FLEET_SOURCES),
        )
    if fleet.assign not in SESSION_ASSIGN:
        raise ScenarioError(
            file,
            "fleet.assign",
            "unknown assignment",
            value=fleet.assign,
            expected="one of " + ", ".join(SESSION_ASSIGN),
        )
    path = _session_path(scenario, file)
    zone = scenario.simulation.start.tzinfo
    if zone is None:
        raise ScenarioError(
            file,
            "simulation.start",
            "start time has no time zone",
            value=scenario.simulation.start.isoformat(),
            expected="a time with an offset",
        )
    if fleet.source == "csv":
        raws, names = read_sessions_csv(path, zone), CSV_FIELDS
    else:
        raws, names = read_sessions_acn(path, zone), ACN_FIELDS
    return sessions_from_records(raws, names, scenario, chargers, path, source=f"{fleet.source}:{path}")


def _session_path(scenario: Scenario, file: str) -> Path:
    if scenario.fleet.file is None:
        raise ScenarioError(
            file,
            "fleet.file",
            f"source {scenario.fleet.source!r} needs a session file",
            expected="a path to the session file",
        )
    path = Path(scenario.fleet.file)
    path = path if path.is_absolute() else scenario.base_dir / path
    if not path.is_file():
        raise ScenarioError(
            file,
            "fleet.file",
            "session file not found",
            value=str(path),
            expected="an existing file (relative paths are read from the scenario's folder)",
        )
    return path


def sessions_from_records(
    raws: Sequence[RawSession],
    names: FieldNames,
    scenario: Scenario,
    chargers: ChargerTable,
    path: Path,
    *,
    source: str,
) -> SessionSet:
    """Check ids, assign chargers, check overlaps, convert to model time, window and fill battery data."""
    _check_unique_ids(raws, names, path)
    charger_ids = _assign(raws, names, chargers, scenario.fleet.assign, path)
    _check_overlaps(raws, charger_ids, names, path)
    t0 = scenario.simulation.start.timestamp()
    duration_s = scenario.simulation.duration_s
    sessions: list[Session] = []
    outside = truncated = 0
    for raw, charger_id in zip(raws, charger_ids, strict=True):
        battery_kwh, soc = _battery(raw, names, scenario.battery.default_capacity_kwh, path)  # every row
        arrival_s, departure_s = raw.arrival.timestamp() - t0, raw.departure.timestamp() - t0
        if departure_s <= 0.0 or arrival_s >= duration_s:
            outside += 1
            continue
        if arrival_s < 0.0 or departure_s > duration_s:
            truncated += 1
            arrival_s, departure_s = max(arrival_s, 0.0), min(departure_s, duration_s)
        sessions.append(
            Session(
                session_id=raw.session_id,
                charger_id=charger_id,
                arrival_s=arrival_s,
                departure_s=departure_s,
                energy_kwh=raw.energy_kwh,
                max_power_kw=raw.max_power_kw if raw.max_power_kw is not None else math.inf,
                battery_kwh=battery_kwh,
                soc_arrival=soc,
            )
        )
    return SessionSet(_sorted(sessions), outside_window=outside, truncated=truncated, source=source)


def _sorted(sessions: Sequence[Session]) -> tuple[Session, ...]:
    return tuple(sorted(sessions, key=lambda s: (s.arrival_s, s.session_id)))


def _check_unique_ids(raws: Sequence[RawSession], names: FieldNames, path: Path) -> None:
    first: dict[str, RawSession] = {}
    for raw in raws:
        if raw.session_id in first:
            raise DataError(
                str(path),
                f"{raw.where}, {_kind(names)} '{names.session_id}'",
                f"duplicate session id, first used in {first[raw.session_id].where}",
                value=raw.session_id,
                expected="a unique session id per session",
            )
        first[raw.session_id] = raw


def _kind(names: FieldNames) -> str:
    return "column" if names is CSV_FIELDS else "field"


def _assign(
    raws: Sequence[RawSession], names: FieldNames, chargers: ChargerTable, assign: str, path: Path
) -> list[str]:
    """The scenario charger id of each raw session."""
    ids = chargers.ids
    where_field = f"{_kind(names)} '{names.charger}'"
    if assign == "by_id":
        known = set(ids)
        for raw in raws:
            if raw.charger_key not in known:
                shown = ", ".join(repr(c) for c in ids[:10]) + (", ..." if len(ids) > 10 else "")
                raise DataError(
                    str(path),
                    f"{raw.where}, {where_field}",
                    "unknown charger id",
                    value=raw.charger_key,
                    expected=f"one of the scenario's {len(ids)} charger ids: {shown}"
                    + ' (or [fleet] assign = "in_order")',
                )
        return [raw.charger_key for raw in raws]
    mapping: dict[str, str] = {}
    for raw in raws:
        if raw.charger_key not in mapping:
            if len(mapping) == len(ids):
                raise DataError(
                    str(path),
                    f"{raw.where}, {where_field}",
                    f"more distinct charger ids than the scenario's {len(ids)} chargers",
                    value=raw.charger_key,
                    expected=f'at most {len(ids)} distinct ids with assign = "in_order"',
                )
            mapping[raw.charger_key] = ids[len(mapping)]
    return [mapping[raw.charger_key] for raw in raws]


def _check_overlaps(
    raws: Sequence[RawSession], charger_ids: Sequence[str], names: FieldNames, path: Path
) -> None:
    """One vehicle per charger at a time; name the first overlapping pair found in arrival order."""
    by_charger: dict[str, list[RawSession]] = {}
    for raw, charger_id in zip(raws, charger_ids, strict=True):
        by_charger.setdefault(charger_id, []).append(raw)
    for charger_id, group in by_charger.items():
        group.sort(key=lambda r: r.arrival)
        holder = group[0]
        for raw in group[1:]:
            if raw.arrival < holder.departure:
                raise DataError(
                    str(path),
                    f"{raw.where}, {_kind(names)} '{names.arrival}'",
                    f"session {raw.session_id!r} overlaps session {holder.session_id!r} ({holder.where}) "
                    f"on charger {charger_id!r}: it arrives before {holder.session_id!r} departs at "
                    f"{holder.departure.isoformat()}",
                    value=raw.arrival.isoformat(),
                    expected="one vehicle at a time per charger",
                )
            if raw.departure > holder.departure:
                holder = raw


def _battery(raw: RawSession, names: FieldNames, default_kwh: float, path: Path) -> tuple[float, float]:
    """Battery size and arrival state of charge: the file's, else filled so the request ends at 95 %."""
    energy = raw.energy_kwh
    battery = raw.battery_kwh
    if battery is None:
        battery = max(default_kwh, energy / FILL_FACTOR)
        if raw.soc_arrival is not None and raw.soc_arrival < SOC_TARGET:
            battery = max(battery, energy / (SOC_TARGET - raw.soc_arrival))
    soc = raw.soc_arrival
    if soc is None:
        soc = max(0.0, (SOC_TARGET * battery - energy) / battery)
    room_kwh = battery * (1.0 - soc)
    if energy > room_kwh + _TOLERANCE_KWH:
        raise DataError(
            str(path),
            f"{raw.where}, {_kind(names)} '{names.energy}'",
            f"the request does not fit the battery ({battery:g} kWh at state of charge {soc:g})",
            value=energy,
            expected=f"at most {room_kwh:g} kWh",
        )
    return battery, soc
