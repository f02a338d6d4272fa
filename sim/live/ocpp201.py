"""OCPP 2.0.1 handlers: translate each message into ``sim.live.events`` and reply.

As for 1.6 (``sim.live.ocpp16``), the handlers call nothing on the charger; the capability read
(GetVariables of ``SmartChargingCtrlr``) runs after the BootNotification reply as a task.

Mapping notes: an EVSE id is the event's ``connector_id`` (the limit of a 2.0.1 charging profile
is per EVSE). A TransactionEvent ``Updated`` for a transaction the twin never saw start (the
charger was offline, or feedertwin started mid-session) starts the session at that event, so the
twin still sees the vehicle. ``chargingState`` Charging / SuspendedEV / SuspendedEVSE is reported
as a ``StatusChanged`` of the EVSE. Every id token is accepted (authorisation is the back office's).
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from sim.live.events import (
    Capabilities,
    ChargerBooted,
    ChargingNeeds,
    SessionEnded,
    SessionStarted,
    StatusChanged,
)
from sim.live.meter import energy_register_wh, iso_utc, parse_time_s
from sim.live.rpc import ChargerLink

HEARTBEAT_INTERVAL_S = 300

SMART_CHARGING_VARIABLES = ("Available", "Enabled", "RateUnit", "ProfileStackLevel", "PeriodsPerSchedule")
"""The ``SmartChargingCtrlr`` variables read at boot (GetVariables)."""

_CHARGING_STATES = ("Charging", "SuspendedEV", "SuspendedEVSE")
_ACCEPTED = {"status": "Accepted"}


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _bool_or_none(text: str | None) -> bool | None:
    return None if text is None else text.strip().lower() == "true"


def capabilities_from_variables(charger_id: str, t_s: float, results: list[dict[str, Any]]) -> Capabilities:
    """A ``Capabilities`` event from a GetVariables reply's ``get_variable_result`` list."""
    values: dict[str, str] = {}
    for result in results:
        if result.get("attribute_status") == "Accepted" and result.get("attribute_value") is not None:
            values[result.get("variable", {}).get("name", "")] = result["attribute_value"]
    enabled = _bool_or_none(values.get("Enabled"))
    units_text = values.get("RateUnit")
    units = None if units_text is None else tuple(sorted({u.strip() for u in units_text.split(",")} & {"A", "W"}))
    return Capabilities(
        charger_id=charger_id, t_s=t_s,
        smart_charging=enabled if enabled is not None else _bool_or_none(values.get("Available")),
        rate_units=units,
        max_stack_level=_int_or_none(values.get("ProfileStackLevel")),
        max_periods_per_schedule=_int_or_none(values.get("PeriodsPerSchedule")))


class Ocpp201Link(ChargerLink, ChargePoint):
    """One connected OCPP 2.0.1 charging station."""

    ocpp_version = "2.0.1"

    async def read_capabilities(self) -> Capabilities:
        """GetVariables of the SmartChargingCtrlr; ``None`` fields where the station did not say."""
        wanted = [{"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": name}}
                  for name in SMART_CHARGING_VARIABLES]
        outcome = await self.request("GetVariables", {"getVariableData": wanted})
        if outcome.outcome != "accepted":
            self.hub.log("warning", f"capability read (GetVariables) gave {outcome.outcome}: {outcome.detail}", self.id)
        results = (outcome.response or {}).get("get_variable_result") or []
        return capabilities_from_variables(self.id, self.hub.now_s(), results)

    @on(Action.boot_notification)
    def on_boot_notification(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        now_s = self.hub.now_s()
        self.hub.emit(ChargerBooted(self.id, now_s, vendor=charging_station.get("vendor_name", ""),
                                    model=charging_station.get("model", ""),
                                    firmware_version=charging_station.get("firmware_version"),
                                    serial_number=charging_station.get("serial_number")))
        return call_result.BootNotification(current_time=iso_utc(now_s), interval=HEARTBEAT_INTERVAL_S,
                                            status="Accepted")

    @after(Action.boot_notification)
    def after_boot_notification(self, **_: Any) -> None:
        self.hub.booted(self)

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=iso_utc(self.hub.now_s()))

    @on(Action.status_notification)
    def on_status_notification(self, timestamp: str, connector_status: str, evse_id: int, connector_id: int,
                               **_: Any) -> Any:
        self.hub.emit(StatusChanged(self.id, evse_id, parse_time_s(timestamp, self.hub.now_s()), connector_status))
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        return call_result.Authorize(id_token_info=_ACCEPTED)

    @on(Action.transaction_event)
    def on_transaction_event(self, event_type: str, timestamp: str, transaction_info: dict[str, Any],
                             **extra: Any) -> Any:
        t_s = parse_time_s(timestamp, self.hub.now_s())
        tx = str(transaction_info["transaction_id"])
        evse = extra.get("evse") or {}
        known_on = self.hub.connector_of(self.id, tx)
        evse_id = int(evse.get("id", known_on if known_on is not None else 0))
        meter_value = extra.get("meter_value") or []
        id_token = (extra.get("id_token") or {}).get("id_token")
        if event_type in ("Started", "Updated") and known_on is None:
            self.hub.emit(SessionStarted(self.id, evse_id, tx, t_s, id_tag=id_token,
                                         meter_start_wh=energy_register_wh(meter_value)))
        self._emit_meter_values(evse_id, tx, meter_value)
        state = transaction_info.get("charging_state")
        if state in _CHARGING_STATES:
            self.hub.emit(StatusChanged(self.id, evse_id, t_s, state))
        if event_type == "Ended":
            self.hub.emit(SessionEnded(self.id, tx, t_s, meter_stop_wh=energy_register_wh(meter_value),
                                       reason=transaction_info.get("stopped_reason")))
        return call_result.TransactionEvent(id_token_info=_ACCEPTED if id_token is not None else None)

    @on(Action.meter_values)
    def on_meter_values(self, evse_id: int, meter_value: list[dict[str, Any]], **_: Any) -> Any:
        tx = self.hub.transaction_on(self.id, evse_id)
        self._emit_meter_values(evse_id, tx, meter_value)
        return call_result.MeterValues()

    @on(Action.notify_ev_charging_needs)
    def on_notify_ev_charging_needs(self, charging_needs: dict[str, Any], evse_id: int, **_: Any) -> Any:
        now_s = self.hub.now_s()
        tx = self.hub.transaction_on(self.id, evse_id)
        if tx is None:
            self.hub.log("warning", f"NotifyEVChargingNeeds for EVSE {evse_id} without a transaction: ignored",
                         self.id)
            return call_result.NotifyEVChargingNeeds(status="Rejected")
        parameters = charging_needs.get("ac_charging_parameters") or charging_needs.get("dc_charging_parameters") or {}
        departure = charging_needs.get("departure_time")
        self.hub.emit(ChargingNeeds(self.id, tx, now_s,
                                    departure_t_s=None if departure is None else parse_time_s(departure, now_s),
                                    energy_requested_wh=parameters.get("energy_amount")))
        return call_result.NotifyEVChargingNeeds(status="Accepted")
