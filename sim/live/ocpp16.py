"""OCPP 1.6J handlers: translate each message into ``sim.live.events`` and reply.

The handlers call nothing on the charger (that would deadlock the ocpp library: the reply to such
a call can only arrive through the loop the handler is blocking). The boot-time capability read
runs after the BootNotification reply, as a task the hub starts (``Hub.booted``).

Authorisation is not feedertwin's business: every id tag is accepted (the operator's back office,
or the charger's local list, decides who may charge). Transaction ids are integers handed out by the
hub, unique across restarts.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from sim.live.events import Capabilities, ChargerBooted, SessionEnded, SessionStarted, StatusChanged
from sim.live.meter import iso_utc, parse_time_s
from sim.live.rpc import ChargerLink

HEARTBEAT_INTERVAL_S = 300

CAPABILITY_KEYS = ("SupportedFeatureProfiles", "ChargingScheduleAllowedChargingRateUnit",
                   "ChargeProfileMaxStackLevel", "ChargingScheduleMaxPeriods", "NumberOfConnectors")
"""The configuration keys read at boot (GetConfiguration)."""

_RATE_UNITS = {"Current": "A", "Power": "W", "A": "A", "W": "W"}
_ACCEPTED = {"status": "Accepted"}


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def capabilities_from_configuration(charger_id: str, t_s: float, keys: list[dict[str, Any]]) -> Capabilities:
    """A ``Capabilities`` event from a GetConfiguration reply's ``configuration_key`` list."""
    values = {k.get("key"): k.get("value") for k in keys if isinstance(k, dict)}
    profiles = values.get("SupportedFeatureProfiles")
    units_text = values.get("ChargingScheduleAllowedChargingRateUnit")
    units = None
    if units_text is not None:
        found = [_RATE_UNITS[u.strip()] for u in units_text.split(",") if u.strip() in _RATE_UNITS]
        units = tuple(sorted(set(found)))
    return Capabilities(
        charger_id=charger_id, t_s=t_s,
        smart_charging=None if profiles is None else "SmartCharging" in [p.strip() for p in profiles.split(",")],
        rate_units=units,
        max_stack_level=_int_or_none(values.get("ChargeProfileMaxStackLevel")),
        max_periods_per_schedule=_int_or_none(values.get("ChargingScheduleMaxPeriods")),
        number_of_connectors=_int_or_none(values.get("NumberOfConnectors")))


class Ocpp16Link(ChargerLink, ChargePoint):
    """One connected OCPP 1.6J charger."""

    ocpp_version = "1.6"

    async def read_capabilities(self) -> Capabilities:
        """GetConfiguration of the smart-charging keys; ``None`` fields where the charger did not say."""
        outcome = await self.request("GetConfiguration", {"key": list(CAPABILITY_KEYS)})
        if outcome.outcome != "accepted":
            self.hub.log("warning", f"capability read (GetConfiguration) gave {outcome.outcome}: {outcome.detail}",
                         self.id)
        keys = (outcome.response or {}).get("configuration_key") or []
        return capabilities_from_configuration(self.id, self.hub.now_s(), keys)

    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **extra: Any) -> Any:
        now_s = self.hub.now_s()
        serial = extra.get("charge_point_serial_number") or extra.get("charge_box_serial_number")
        self.hub.emit(ChargerBooted(self.id, now_s, vendor=charge_point_vendor, model=charge_point_model,
                                    firmware_version=extra.get("firmware_version"), serial_number=serial))
        return call_result.BootNotification(current_time=iso_utc(now_s), interval=HEARTBEAT_INTERVAL_S,
                                            status="Accepted")

    @after(Action.boot_notification)
    def after_boot_notification(self, **_: Any) -> None:
        self.hub.booted(self)

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=iso_utc(self.hub.now_s()))

    @on(Action.status_notification)
    def on_status_notification(self, connector_id: int, error_code: str, status: str, **extra: Any) -> Any:
        t_s = parse_time_s(extra.get("timestamp"), self.hub.now_s())
        self.hub.emit(StatusChanged(self.id, connector_id, t_s, status,
                                    error_code=None if error_code == "NoError" else error_code))
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str, **_: Any) -> Any:
        return call_result.Authorize(id_tag_info=_ACCEPTED)

    @on(Action.start_transaction)
    def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str,
                             **_: Any) -> Any:
        transaction_id = self.hub.next_transaction_id()
        self.hub.emit(SessionStarted(self.id, connector_id, str(transaction_id),
                                     parse_time_s(timestamp, self.hub.now_s()), id_tag=id_tag,
                                     meter_start_wh=float(meter_start)))
        return call_result.StartTransaction(transaction_id=transaction_id, id_tag_info=_ACCEPTED)

    @on(Action.stop_transaction)
    def on_stop_transaction(self, meter_stop: int, timestamp: str, transaction_id: int, **extra: Any) -> Any:
        now_s = self.hub.now_s()
        tx = str(transaction_id)
        connector_id = self.hub.connector_of(self.id, tx)
        self._emit_meter_values(connector_id or 0, tx, extra.get("transaction_data") or [])
        self.hub.emit(SessionEnded(self.id, tx, parse_time_s(timestamp, now_s), meter_stop_wh=float(meter_stop),
                                   reason=extra.get("reason")))
        return call_result.StopTransaction(id_tag_info=_ACCEPTED if extra.get("id_tag") else None)

    @on(Action.meter_values)
    def on_meter_values(self, connector_id: int, meter_value: list[dict[str, Any]], **extra: Any) -> Any:
        tx = extra.get("transaction_id")
        self._emit_meter_values(connector_id, None if tx is None else str(tx), meter_value)
        return call_result.MeterValues()
