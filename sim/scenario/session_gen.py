"""The stochastic session generator (``[fleet] source = "generate"``).

Per charger and per local calendar day that overlaps the window, a Poisson number of sessions
with mean ``sessions_per_day`` (times ``weekend_factor`` on Saturday and Sunday) for the charger's
kind. Each draw: arrival hour ~ Normal(``arrival_h_mean``, ``arrival_h_std``) wrapped into the day;
dwell ~ lognormal with the kind's mean and std, at least 15 min; a vehicle from the catalogue by
share; ``soc_arrival`` ~ U(0.1, 0.7); energy ~ Normal(``energy_kwh_mean``, ``energy_kwh_std``)
truncated to [0.5 kWh, battery * (0.95 - soc_arrival)] (redrawn, then clipped as a last resort).

A charger holds one vehicle at a time: draws are taken in arrival order and a draw that arrives
before the previous kept session has left is *dropped* (not shifted), so the realised rate is
below ``sessions_per_day`` when dwell times are long. Draws arriving outside [0, duration) are
dropped too (the window starts with no vehicle plugged in; start the simulation earlier to warm
up). Departures after the window end are clipped to it and counted as truncated. This is
generation, not data loss: nothing of a file is dropped here.

Determinism: the draws consume ``rng`` charger by charger, in charger order, in a fixed order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime, time, timedelta

import numpy as np
from numpy.typing import NDArray

from sim.domain.chargers import ChargerTable
from sim.domain.sessions import Session
from sim.errors import ScenarioError
from sim.scenario.schema import BUILTIN_KINDS, KindProfile, Scenario
from sim.scenario.vehicles import Vehicle, get_vehicles, vehicle_weights

MIN_DWELL_H = 0.25
MIN_ENERGY_KWH = 0.5
SOC_ARRIVAL_RANGE = (0.1, 0.7)
SOC_TARGET = 0.95
_REDRAWS = 20


def generate_sessions(
    scenario: Scenario,
    chargers: ChargerTable,
    kinds_by_charger: Sequence[str],
    rng: np.random.Generator,
) -> tuple[list[Session], int]:
    """Draw sessions for every charger; returns them (charger order) and the count clipped at the end."""
    file = str(scenario.path) if scenario.path is not None else "<scenario>"
    if len(kinds_by_charger) != len(chargers):
        raise ValueError(f"kinds_by_charger has {len(kinds_by_charger)} entries for {len(chargers)} chargers")
    kinds = {**BUILTIN_KINDS, **scenario.fleet.kinds}
    for kind, profile in scenario.fleet.kinds.items():
        _check_kind(kind, profile, file)
    vehicles = get_vehicles(scenario.fleet.vehicles, scenario.path)
    midnight_s, weekend = _local_days(scenario.simulation.start, scenario.simulation.duration_s)
    sessions: list[Session] = []
    truncated = 0
    for charger_id, kind in zip(chargers.ids, kinds_by_charger, strict=True):
        if kind not in kinds:
            raise ScenarioError(
                file,
                f"chargers ({charger_id!r}).kind",
                "unknown charger kind",
                value=kind,
                expected="one of " + ", ".join(sorted(kinds)),
            )
        draws = _draw(kinds[kind], midnight_s, weekend, vehicles, rng)
        placed, clipped = _place(charger_id, draws, vehicles, scenario.simulation.duration_s)
        sessions.extend(placed)
        truncated += clipped
    return sessions, truncated


def _check_kind(kind: str, profile: KindProfile, file: str) -> None:
    """Parameters the draws need: finite, non-negative, positive means for dwell and energy."""
    for f in fields(profile):
        value = getattr(profile, f.name)
        positive = f.name in ("dwell_h_mean", "energy_kwh_mean")
        if not np.isfinite(value) or value < 0 or (positive and value == 0):
            raise ScenarioError(
                file,
                f"fleet.kinds.{kind}.{f.name}",
                "bad session parameter",
                value=value,
                expected="a number > 0" if positive else "a number >= 0",
            )


def _local_days(start: datetime, duration_s: float) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Model time of each local midnight (start's zone) from the start's date to the window end's, and
    whether that day is a Saturday or Sunday."""
    zone = start.tzinfo
    end = (start.astimezone(UTC) + timedelta(seconds=duration_s)).astimezone(zone)
    n_days = (end.date() - start.date()).days + 1
    dates = [start.date() + timedelta(days=d) for d in range(n_days)]
    t0 = start.timestamp()
    midnight_s = np.array([datetime.combine(d, time(0), tzinfo=zone).timestamp() - t0 for d in dates])
    weekend = np.array([d.weekday() >= 5 for d in dates], dtype=bool)
    return midnight_s, weekend


def _lognormal(rng: np.random.Generator, mean: float, std: float, n: int) -> NDArray[np.float64]:
    """Lognormal draws with the given (arithmetic) mean and standard deviation."""
    sigma2 = np.log1p((std / mean) ** 2)
    return rng.lognormal(np.log(mean) - sigma2 / 2.0, np.sqrt(sigma2), n)


def _truncated_normal(
    rng: np.random.Generator, mean: float, std: float, lo: float, hi: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Normal draws redrawn (up to ``_REDRAWS`` times) until inside [lo, hi], then clipped."""
    x = rng.normal(mean, std, hi.size)
    for _ in range(_REDRAWS):
        bad = (x < lo) | (x > hi)
        if not bad.any():
            break
        x[bad] = rng.normal(mean, std, int(bad.sum()))
    return np.clip(x, lo, hi)


def _draw(
    kp: KindProfile,
    midnight_s: NDArray[np.float64],
    weekend: NDArray[np.bool_],
    vehicles: Sequence[Vehicle],
    rng: np.random.Generator,
) -> dict[str, NDArray[np.float64] | NDArray[np.int64]]:
    """All draws of one charger, as columns (arrival and departure in model seconds)."""
    counts = rng.poisson(kp.sessions_per_day * np.where(weekend, kp.weekend_factor, 1.0))
    n = int(counts.sum())
    day = np.repeat(np.arange(midnight_s.size), counts)
    hour = np.mod(rng.normal(kp.arrival_h_mean, kp.arrival_h_std, n), 24.0)
    dwell_h = np.maximum(_lognormal(rng, kp.dwell_h_mean, kp.dwell_h_std, n), MIN_DWELL_H)
    vehicle = rng.choice(len(vehicles), size=n, p=vehicle_weights(vehicles))
    soc = rng.uniform(*SOC_ARRIVAL_RANGE, n)
    capacity = np.array([v.battery_kwh for v in vehicles])[vehicle]
    energy = _truncated_normal(
        rng, kp.energy_kwh_mean, kp.energy_kwh_std, MIN_ENERGY_KWH, capacity * (SOC_TARGET - soc)
    )
    arrival = midnight_s[day] + hour * 3600.0
    return {
        "arrival": arrival,
        "departure": arrival + dwell_h * 3600.0,
        "vehicle": vehicle,
        "soc": soc,
        "energy": energy,
    }


def _place(
    charger_id: str, draws: dict[str, NDArray], vehicles: Sequence[Vehicle], duration_s: float
) -> tuple[list[Session], int]:
    """Keep draws inside the window, one vehicle at a time (a later overlapping draw is dropped)."""
    order = np.argsort(draws["arrival"], kind="stable")
    # Plain Python numbers in arrival order: indexing numpy arrays element by element in this loop
    # cost more than building the sessions (a year of 55 chargers draws ~18,000).
    columns = zip(*(draws[key][order].tolist() for key in ("arrival", "departure", "vehicle", "energy", "soc")),
                  strict=True)
    sessions: list[Session] = []
    clipped = 0
    free_at = -np.inf
    for arrival, departure, vehicle_index, energy_kwh, soc in columns:
        if arrival < 0.0 or arrival >= duration_s or arrival < free_at:
            continue
        free_at = departure
        if departure > duration_s:
            departure, clipped = duration_s, clipped + 1
        vehicle = vehicles[vehicle_index]
        sessions.append(
            Session(
                session_id=f"{charger_id}-{len(sessions) + 1:05d}",
                charger_id=charger_id,
                arrival_s=arrival,
                departure_s=departure,
                energy_kwh=energy_kwh,
                max_power_kw=vehicle.max_ac_kw,
                battery_kwh=vehicle.battery_kwh,
                soc_arrival=soc,
            )
        )
    return sessions, clipped
