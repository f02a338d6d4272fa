"""What the chargers tell the twin, as frozen domain events, whatever the OCPP version.

The OCPP handlers (``sim.live.ocpp16``, ``sim.live.ocpp201``) only translate payloads into these
events; the tracker (``sim.live.tracker``) is the one place that turns them into site state and a
``SiteView``; the store records them. No event carries an OCPP type, so the tracker and the
controller never depend on the protocol version.

Conventions: ``t_s`` is seconds since the Unix epoch (UTC, float), taken from the charger's own
timestamp where the message has one and from the server clock otherwise; energies are Wh as the
chargers report them (``Energy.Active.Import.Register``); currents are A per phase; powers are W.
A ``None`` field means the charger did not report it (never a made-up zero).
"""

from __future__ import annotations

from dataclasses import dataclass

CONNECTOR_STATUSES = ("Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing",
                      "Reserved", "Unavailable", "Faulted", "Occupied")
"""Connector states after normalisation (2.0.1 ``Occupied`` stays ``Occupied``; 1.6 states as they are)."""


@dataclass(frozen=True)
class ChargerConnected:
    """A websocket from ``charger_id`` was accepted, speaking ``ocpp_version`` ("1.6" or "2.0.1")."""

    charger_id: str
    t_s: float
    ocpp_version: str


@dataclass(frozen=True)
class ChargerDisconnected:
    charger_id: str
    t_s: float


@dataclass(frozen=True)
class ChargerBooted:
    """BootNotification: who the charger says it is."""

    charger_id: str
    t_s: float
    vendor: str
    model: str
    firmware_version: str | None = None
    serial_number: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What the charger supports for smart charging, read at boot (1.6 GetConfiguration keys,
    2.0.1 SmartChargingCtrlr variables). ``None`` where the charger did not say."""

    charger_id: str
    t_s: float
    smart_charging: bool | None
    rate_units: tuple[str, ...] | None  # ("A",), ("W",) or ("A", "W")
    max_stack_level: int | None
    max_periods_per_schedule: int | None = None
    number_of_connectors: int | None = None


@dataclass(frozen=True)
class StatusChanged:
    charger_id: str
    connector_id: int  # 1.6 connectorId; 2.0.1 evseId (connector 0 = the charger as a whole)
    t_s: float
    status: str  # one of CONNECTOR_STATUSES
    error_code: str | None = None


@dataclass(frozen=True)
class SessionStarted:
    """StartTransaction (1.6) or TransactionEvent Started (2.0.1)."""

    charger_id: str
    connector_id: int
    transaction_id: str  # 1.6 integers as text, so both versions share one type
    t_s: float
    id_tag: str | None = None
    meter_start_wh: float | None = None


@dataclass(frozen=True)
class SessionEnded:
    """StopTransaction (1.6) or TransactionEvent Ended (2.0.1)."""

    charger_id: str
    transaction_id: str
    t_s: float
    meter_stop_wh: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class MeterSample:
    """One sampled value set of MeterValues or a TransactionEvent's meterValue."""

    charger_id: str
    connector_id: int
    t_s: float
    transaction_id: str | None = None
    power_w: float | None = None  # Power.Active.Import, all phases
    energy_wh: float | None = None  # Energy.Active.Import.Register
    current_a: tuple[float | None, float | None, float | None] | None = None  # Current.Import per phase L1..L3
    offered_current_a: float | None = None  # Current.Offered
    soc_percent: float | None = None  # SoC


@dataclass(frozen=True)
class ChargingNeeds:
    """What is known of a session's goal: a departure time and energy, from the charger
    (2.0.1 NotifyEVChargingNeeds) or from a user input (the API). Either may be ``None``."""

    charger_id: str
    transaction_id: str
    t_s: float
    departure_t_s: float | None = None
    energy_requested_wh: float | None = None


LiveEvent = (ChargerConnected | ChargerDisconnected | ChargerBooted | Capabilities | StatusChanged
             | SessionStarted | SessionEnded | MeterSample | ChargingNeeds)
"""Every event the tracker and the store accept."""
