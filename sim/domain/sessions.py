"""A charging session: one vehicle plugged into one charger for a time window."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Session:
    """One plug-in event.

    Times are seconds since the scenario start. ``energy_kwh`` is what the vehicle asks for,
    measured into the vehicle (after charger losses). ``max_power_kw`` is the vehicle's on-board
    charger limit (AC, grid side); ``math.inf`` when unknown. ``battery_kwh`` and ``soc_arrival``
    feed the taper battery model; when a session file does not give them the scenario loader
    fills them in (see ``sim.scenario.sessions``).
    """

    session_id: str
    charger_id: str
    arrival_s: float
    departure_s: float
    energy_kwh: float
    max_power_kw: float = math.inf
    battery_kwh: float = math.nan
    soc_arrival: float = math.nan

    @property
    def duration_s(self) -> float:
        return self.departure_s - self.arrival_s
