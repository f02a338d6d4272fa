"""Charging profiles as a simulated charger stores them, parsed from OCPP 1.6 or 2.0.1 payloads.

A ``ChargingProfile`` is version-free: the OCPP handlers parse the ``SetChargingProfile`` payload
(the snake_case dict the ocpp library hands them) with ``parse_profile_16`` / ``parse_profile_201``
and the composite schedule (``sim.live.chargepoint.composite``) never sees an OCPP type. Times are
seconds since the Unix epoch (UTC) on the charger's clock.

2.0.1 names map onto 1.6 ones: ``ChargingStationMaxProfile`` is ``ChargePointMaxProfile`` here, and
``ChargingStationExternalConstraints`` is kept as its own purpose and acts as a maximum (it limits
the whole charger, as a max profile does). A 2.0.1 profile may carry up to three schedules; the
first one is used (the others are alternatives offered to an ISO 15118 vehicle).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_PROFILE = "ChargePointMaxProfile"
EXTERNAL = "ChargingStationExternalConstraints"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
PURPOSES = (MAX_PROFILE, EXTERNAL, TX_DEFAULT, TX)
KINDS = ("Absolute", "Recurring", "Relative")
RECURRENCY_S = {"Daily": 86_400.0, "Weekly": 7 * 86_400.0}
RATE_UNITS = ("A", "W")


class ProfileError(ValueError):
    """A profile the charger refuses (it answers ``Rejected``); the message says why."""


@dataclass(frozen=True)
class Period:
    """From ``start_s`` after the schedule start: at most ``limit`` (A per phase or W) on ``phases``."""

    start_s: float
    limit: float
    phases: int | None = None  # None: the charger's own number of phases


@dataclass(frozen=True)
class ChargingProfile:
    profile_id: int
    stack_level: int
    purpose: str  # one of PURPOSES
    kind: str  # one of KINDS
    rate_unit: str  # "A" or "W"
    periods: tuple[Period, ...]
    connector_id: int = 0  # 1.6 connectorId / 2.0.1 evseId; 0 = the whole charger
    recurrency: str | None = None  # "Daily" | "Weekly" for Recurring
    valid_from_s: float = -math.inf
    valid_to_s: float = math.inf
    transaction_id: str | None = None  # TxProfile only
    start_schedule_s: float | None = None
    duration_s: float | None = None
    installed_s: float = 0.0  # when the charger received it (the start of an Absolute one without a start)

    def __post_init__(self) -> None:
        if self.purpose not in PURPOSES:
            raise ProfileError(f"chargingProfilePurpose {self.purpose!r} is not one of {', '.join(PURPOSES)}")
        if self.kind not in KINDS:
            raise ProfileError(f"chargingProfileKind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "Recurring" and self.recurrency not in RECURRENCY_S:
            raise ProfileError(f"recurrencyKind {self.recurrency!r} of a Recurring profile is not Daily or Weekly")
        if self.kind == "Recurring" and self.start_schedule_s is None:
            raise ProfileError("a Recurring profile needs startSchedule")
        if self.rate_unit not in RATE_UNITS:
            raise ProfileError(f"chargingRateUnit {self.rate_unit!r} is not A or W")
        if not self.periods:
            raise ProfileError("chargingSchedulePeriod is empty")
        starts = [p.start_s for p in self.periods]
        if starts[0] != 0.0 or any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
            raise ProfileError(f"startPeriod values {starts} must begin at 0 and increase")
        if any(p.limit < 0 or not math.isfinite(p.limit) for p in self.periods):
            raise ProfileError(f"limits {[p.limit for p in self.periods]} must be finite and >= 0")
        if self.stack_level < 0:
            raise ProfileError(f"stackLevel {self.stack_level} is negative")


def epoch_s(text: str | None) -> float | None:
    """An OCPP dateTime (ISO 8601; naive ones are UTC) as seconds since the epoch."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ProfileError(f"{text!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def iso(t_s: float) -> str:
    """Seconds since the epoch as an OCPP dateTime (UTC, millisecond precision, ``Z``)."""
    return datetime.fromtimestamp(t_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _periods(raw: list[Mapping[str, Any]]) -> tuple[Period, ...]:
    return tuple(Period(float(p["start_period"]), float(p["limit"]),
                        int(p["number_phases"]) if p.get("number_phases") is not None else None) for p in raw)


def _profile(p: Mapping[str, Any], profile_id: int, schedule: Mapping[str, Any], purpose: str,
             connector_id: int, now_s: float) -> ChargingProfile:
    tx = p.get("transaction_id")
    return ChargingProfile(
        profile_id=profile_id,
        stack_level=int(p["stack_level"]),
        purpose=purpose,
        kind=str(p["charging_profile_kind"]),
        rate_unit=str(schedule["charging_rate_unit"]),
        periods=_periods(schedule["charging_schedule_period"]),
        connector_id=connector_id,
        recurrency=p.get("recurrency_kind"),
        valid_from_s=epoch_s(p.get("valid_from")) or -math.inf,
        valid_to_s=epoch_s(p.get("valid_to")) or math.inf,
        transaction_id=None if tx is None else str(tx),
        start_schedule_s=epoch_s(schedule.get("start_schedule")),
        duration_s=float(schedule["duration"]) if schedule.get("duration") is not None else None,
        installed_s=now_s,
    )


def parse_profile_16(connector_id: int, cs_charging_profiles: Mapping[str, Any], now_s: float) -> ChargingProfile:
    """The ``csChargingProfiles`` of a 1.6 SetChargingProfile (snake_case keys, as the ocpp library gives)."""
    p = cs_charging_profiles
    return _profile(p, int(p["charging_profile_id"]), p["charging_schedule"], str(p["charging_profile_purpose"]),
                    connector_id, now_s)


_PURPOSE_201 = {"ChargingStationMaxProfile": MAX_PROFILE}


def parse_profile_201(evse_id: int, charging_profile: Mapping[str, Any], now_s: float) -> ChargingProfile:
    """The ``chargingProfile`` of a 2.0.1 SetChargingProfile (snake_case keys); its first schedule."""
    p = charging_profile
    purpose = str(p["charging_profile_purpose"])
    return _profile(p, int(p["id"]), p["charging_schedule"][0], _PURPOSE_201.get(purpose, purpose), evse_id, now_s)
