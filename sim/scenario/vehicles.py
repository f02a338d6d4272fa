"""The built-in vehicle catalogue: battery size and on-board (AC) charger limit of common EVs.

The stochastic session generator draws a vehicle per session from this catalogue, weighted by
``share`` (or from the subset named in ``[fleet] vehicles``). Figures are usable battery capacity
and the on-board charger's AC limit, rounded; shares are rough European registration weights
(c. 2021-2023), meant to give a plausible mix, not a market study. They sum to 1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.errors import ScenarioError


@dataclass(frozen=True)
class Vehicle:
    """One vehicle model.

    ``max_ac_kw`` is what the on-board charger draws at most from an AC charge point (grid side);
    a single-phase car (Nissan Leaf) is limited to 3.7 kW (16 A on one phase) even on a
    three-phase charger.
    """

    name: str
    battery_kwh: float
    max_ac_kw: float
    share: float


VEHICLES: tuple[Vehicle, ...] = (
    Vehicle("VW ID.3", battery_kwh=58.0, max_ac_kw=11.0, share=0.18),
    Vehicle("Tesla Model 3", battery_kwh=60.0, max_ac_kw=11.0, share=0.20),
    Vehicle("Renault Zoe", battery_kwh=52.0, max_ac_kw=22.0, share=0.12),
    Vehicle("Nissan Leaf", battery_kwh=40.0, max_ac_kw=3.7, share=0.08),
    Vehicle("Hyundai Kona", battery_kwh=64.0, max_ac_kw=11.0, share=0.12),
    Vehicle("BMW i3", battery_kwh=42.0, max_ac_kw=11.0, share=0.07),
    Vehicle("Fiat 500e", battery_kwh=42.0, max_ac_kw=11.0, share=0.10),
    Vehicle("Skoda Enyaq", battery_kwh=77.0, max_ac_kw=11.0, share=0.13),
)

VEHICLE_NAMES: tuple[str, ...] = tuple(v.name for v in VEHICLES)


def vehicle_key(name: str) -> str:
    """A name reduced to lower-case letters and digits: ``"VW ID.3"``, ``"vw_id3"`` and ``"vw-id.3"`` match."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def get_vehicles(names: Sequence[str], file: str | Path | None = None) -> tuple[Vehicle, ...]:
    """The catalogue entries called ``names``, in the given order; all of them when ``names`` is empty.

    Names match ignoring case, spaces and punctuation (``vehicle_key``), so a scenario file may say
    ``"VW ID.3"`` or ``"vw_id3"``. ``file`` is the scenario file, named in the error for an unknown
    or repeated name (key ``fleet.vehicles[i]``).
    """
    if not names:
        return VEHICLES
    by_key = {vehicle_key(v.name): v for v in VEHICLES}
    where = str(file) if file is not None else "<scenario>"
    chosen: list[Vehicle] = []
    for i, name in enumerate(names):
        key = f"fleet.vehicles[{i}]"
        vehicle = by_key.get(vehicle_key(name))
        if vehicle is None:
            raise ScenarioError(
                where,
                key,
                "unknown vehicle",
                value=name,
                expected="one of "
                + ", ".join(repr(n) for n in VEHICLE_NAMES)
                + " (case and punctuation ignored)",
            )
        if vehicle in chosen:
            raise ScenarioError(where, key, "vehicle listed twice", value=name, expected="each vehicle once")
        chosen.append(vehicle)
    return tuple(chosen)


def vehicle_weights(vehicles: Sequence[Vehicle]) -> list[float]:
    """Draw probabilities for ``vehicles``: their shares renormalised to sum to 1."""
    total = sum(v.share for v in vehicles)
    return [v.share / total for v in vehicles]
