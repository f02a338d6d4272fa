"""SetChargingProfile payloads (OCPP JSON, camelCase) for 1.6 and 2.0.1, from a current per phase.

Two kinds, both one schedule period from ``startPeriod`` 0 with the charger's ``numberPhases``:

- ``TxProfile``: the limit of one running transaction (1.6: ``connectorId`` + ``transactionId``,
  an integer; 2.0.1: ``evseId`` + ``transactionId``, a string);
- ``TxDefaultProfile``: the limit of every transaction that has no TxProfile, on one connector or,
  at connector/EVSE 0, on all of them. feedertwin installs one at boot: the fallback that stays in
  force if feedertwin goes away.

``chargingProfileKind`` is ``Relative`` (periods counted from the start of charging): no time
reference, so a charger whose clock is off cannot postpone a limit. A profile replaces the one with
the same ``chargingProfileId`` (1.6 3.13.3; 2.0.1 K01.FR.05), and ids are fixed per connector and
purpose (``profile_id``), so a charger holds at most one of each from feedertwin: sending again
overwrites rather than fills its flash.

The limit (``sendable_current_a``): clamped to [0, the charger's maximum]; below what a charger may
offer (its ``min_current_a``, and never below the IEC 61851 minimum of 6 A) it is 0, a pause, never
1-5 A; then rounded *down* to 0.1 A (the 1.6 schema's ``multipleOf 0.1``; the same rule in 2.0.1),
so it never exceeds what the strategy set. In W it is that current times phases times the
phase voltage, rounded down to a whole W.
"""

from __future__ import annotations

import math
from typing import Any

from sim.domain import Charger
from sim.live.site_file import IEC_MIN_CURRENT_A

OCPP_VERSIONS = ("1.6", "2.0.1")
TX_PROFILE = "TxProfile"
TX_DEFAULT_PROFILE = "TxDefaultProfile"
PURPOSES = (TX_PROFILE, TX_DEFAULT_PROFILE)
RATE_UNITS = ("A", "W")
STEP_A = 0.1
PROFILE_ID_BASE = {TX_DEFAULT_PROFILE: 1000, TX_PROFILE: 2000}
"""``chargingProfileId`` = base + connector id: one fixed id per purpose and connector."""


def profile_id(purpose: str, connector_id: int) -> int:
    """The fixed ``chargingProfileId`` of feedertwin's ``purpose`` profile on ``connector_id``."""
    return PROFILE_ID_BASE[purpose] + connector_id


def sendable_current_a(charger: Charger, current_a: float) -> float:
    """The current per phase a profile carries for a setpoint: 0 or in [max(min, 6 A), max], on the
    0.1 A grid, never above ``current_a`` (nor above the charger's maximum)."""
    if not math.isfinite(current_a) or current_a < 0.0:
        raise ValueError(f"current for charger '{charger.charger_id}' must be a finite number >= 0, got {current_a!r}")
    limit = min(current_a, charger.max_current_a)
    limit = math.floor(limit / STEP_A + 1e-9) * STEP_A
    if limit < max(charger.min_current_a, IEC_MIN_CURRENT_A) - 1e-9:
        return 0.0
    return round(limit, 1)


def limit_in_unit(charger: Charger, limit_a: float, unit: str) -> float:
    """``limit_a`` (already sendable) as the schedule's ``limit`` in ``unit``: A as it is, W rounded down."""
    if unit == "A":
        return round(limit_a, 1)
    if unit == "W":
        return float(math.floor(limit_a * charger.phases * charger.v_ln_v + 1e-6))
    raise ValueError(f"chargingRateUnit must be one of {', '.join(RATE_UNITS)}, got {unit!r}")


def set_charging_profile(ocpp_version: str, charger: Charger, *, purpose: str, connector_id: int, limit_a: float,
                         unit: str, stack_level: int, transaction_id: str | None = None) -> dict[str, Any]:
    """The SetChargingProfile request payload (camelCase JSON) for one limit of ``limit_a`` per phase.

    ``limit_a`` must be sendable (``sendable_current_a``); a TxProfile needs ``transaction_id``.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")
    if purpose == TX_PROFILE and (transaction_id is None or connector_id < 1):
        raise ValueError(f"a TxProfile needs a transaction id and a connector >= 1, got {transaction_id!r} "
                         f"on connector {connector_id}")
    if sendable_current_a(charger, limit_a) != limit_a:
        raise ValueError(f"limit {limit_a!r} A for charger '{charger.charger_id}' is not sendable; "
                         f"expected sendable_current_a(...) = {sendable_current_a(charger, limit_a)!r}")
    pid = profile_id(purpose, connector_id)
    period = {"startPeriod": 0, "limit": limit_in_unit(charger, limit_a, unit), "numberPhases": charger.phases}
    if ocpp_version == "1.6":
        profile: dict[str, Any] = {"chargingProfileId": pid, "stackLevel": stack_level,
                                   "chargingProfilePurpose": purpose, "chargingProfileKind": "Relative",
                                   "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod": [period]}}
        tx_int = _int_or_none(transaction_id)
        if purpose == TX_PROFILE and tx_int is not None:
            profile["transactionId"] = tx_int
        return {"connectorId": connector_id, "csChargingProfiles": profile}
    if ocpp_version == "2.0.1":
        profile = {"id": pid, "stackLevel": stack_level, "chargingProfilePurpose": purpose,
                   "chargingProfileKind": "Relative",
                   "chargingSchedule": [{"id": pid, "chargingRateUnit": unit, "chargingSchedulePeriod": [period]}]}
        if purpose == TX_PROFILE:
            profile["transactionId"] = transaction_id
        return {"evseId": connector_id, "chargingProfile": profile}
    raise ValueError(f"ocpp_version must be one of {', '.join(OCPP_VERSIONS)}, got {ocpp_version!r}")


def _int_or_none(text: str | None) -> int | None:
    """A 1.6 transaction id (an integer carried as text by the events)."""
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
