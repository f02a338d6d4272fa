# mypy: disable-error-code="untyped-decorator"
"""OCPP 2.0.1 for the simulated charger: the messages it sends and the handlers that answer the CSMS.

Sends BootNotification, Heartbeat, StatusNotification (Available / Occupied), Authorize,
TransactionEvent (Started at plug-in, Updated on a charging-state change and every meter interval,
Ended at departure, each with its ``seqNo``), NotifyEVChargingNeeds after the start (departure time
and energy of the session, as an ISO 15118 vehicle says them; ``send_charging_needs``), and
MeterValues outside transactions. The charger makes the transaction id: the session id.

Answers SetChargingProfile, ClearChargingProfile, GetCompositeSchedule, GetVariables, SetVariables,
RequestStart/StopTransaction, ReserveNow, CancelReservation, Reset (after its reply:
``sim.live.chargepoint.reservation``) and TriggerMessage. The variables it knows are in ``variables``
(SmartChargingCtrlr: Enabled, Available, RateUnit, ProfileStackLevel, PeriodsPerSchedule,
Entries[ChargingProfiles]; SampledDataCtrlr.TxUpdatedInterval; OCPPCommCtrlr.HeartbeatInterval ...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import NotSupportedError
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result

from sim.live.chargepoint.outbox import Outgoing, TxRecord
from sim.live.chargepoint.profiles import MAX_PROFILE, ProfileError, epoch_s, iso, parse_profile_201
from sim.live.chargepoint.station import CONNECTOR_ID, MeterReading

if TYPE_CHECKING:
    from sim.live.chargepoint.charger import SimulatedCharger

LOG = logging.getLogger("sim.live.chargepoint")
EVSE = {"id": CONNECTOR_ID, "connectorId": CONNECTOR_ID}
CHARGING_STATE = {"Charging": "Charging", "SuspendedEV": "SuspendedEV", "SuspendedEVSE": "SuspendedEVSE",
                  "Preparing": "EVConnected", "Finishing": "EVConnected"}
TRIGGER_OF_REASON = {"EVDisconnected": "EVCommunicationLost", "Remote": "RemoteStop", "DeAuthorized": "Deauthorized",
                     "ImmediateReset": "ResetCommand"}


def sampled_values(reading: MeterReading, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    """A 2.0.1 ``sampledValue`` list (numbers, with ``unitOfMeasure``)."""
    values: list[dict[str, Any]] = [
        {"value": round(reading.energy_wh, 1), "context": context, "measurand": "Energy.Active.Import.Register",
         "unitOfMeasure": {"unit": "Wh"}},
        {"value": round(reading.power_w, 1), "context": context, "measurand": "Power.Active.Import",
         "unitOfMeasure": {"unit": "W"}},
    ]
    for phase, current_a in zip(("L1", "L2", "L3"), reading.current_a, strict=True):
        values.append({"value": round(current_a, 2), "context": context, "measurand": "Current.Import",
                       "phase": phase, "unitOfMeasure": {"unit": "A"}})
    values.append({"value": round(reading.offered_a, 1), "context": context, "measurand": "Current.Offered",
                   "unitOfMeasure": {"unit": "A"}})
    if reading.soc_percent is not None:
        values.append({"value": round(reading.soc_percent, 1), "context": context, "measurand": "SoC",
                       "location": "EV", "unitOfMeasure": {"unit": "Percent"}})
    return values


def _meter_value(reading: MeterReading, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    return [{"timestamp": iso(reading.t_s), "sampledValue": sampled_values(reading, context)}]


class Protocol201:
    """The 2.0.1 side of one ``SimulatedCharger`` (see ``sim.live.chargepoint.charger.OcppProtocol``)."""

    def __init__(self, charger: SimulatedCharger) -> None:
        self.charger = charger
        self._connector_status = ""  # the last one queued on this connection (Occupied repeats are dropped)

    def charge_point(self, connection: Any) -> ChargePoint201:
        self._connector_status = ""
        return ChargePoint201(self.charger, connection)

    def boot(self) -> Any:
        cfg = self.charger.config
        station = {"model": cfg.model, "vendorName": cfg.vendor, "serialNumber": self.charger.charger_id[:25],
                   "firmwareVersion": "feedertwin-sim"}
        return call.BootNotification(charging_station=station, reason=self.charger.boot_reason)

    def heartbeat(self) -> Any:
        return call.Heartbeat()

    def on_boot(self, result: Any) -> tuple[bool, float]:
        return result.status == "Accepted", float(result.interval)

    def status(self, t_s: float, connector_id: int, status: str) -> Outgoing:
        if connector_id == 0:  # 2.0.1 reports connectors only
            return Outgoing(lambda: None)
        connector_status = status if status in ("Available", "Reserved") else "Occupied"
        if connector_status == self._connector_status:
            return Outgoing(lambda: None)
        self._connector_status = connector_status
        return Outgoing(lambda: call.StatusNotification(timestamp=iso(t_s), connector_status=connector_status,
                                                        evse_id=CONNECTOR_ID, connector_id=CONNECTOR_ID))

    def _event(self, tx: TxRecord, event_type: str, trigger: str, t_s: float, charging_state: str | None = None,
               meter: list[dict[str, Any]] | None = None, **extra: Any) -> Outgoing:
        info: dict[str, Any] = {"transactionId": tx.local_id}
        if charging_state is not None:
            info["chargingState"] = charging_state
        if "stopped_reason" in extra:
            info["stoppedReason"] = extra.pop("stopped_reason")
        payload = call.TransactionEvent(event_type=event_type, timestamp=iso(t_s), trigger_reason=trigger,
                                        seq_no=tx.next_seq(), transaction_info=info, meter_value=meter, **extra)
        return Outgoing(lambda: payload, self._check_token(tx))

    def _check_token(self, tx: TxRecord) -> Callable[[Any], None]:
        def check(result: Any) -> None:
            info = getattr(result, "id_token_info", None)
            if info is not None and info.get("status") != "Accepted":
                self.charger.deauthorize(tx)
        return check

    def transaction_started(self, tx: TxRecord, reading: MeterReading) -> list[Outgoing]:
        tx.csms_id = tx.local_id
        token = {"idToken": tx.id_tag, "type": "ISO14443"}
        items = [
            Outgoing(lambda: call.Authorize(id_token=token), self._check_token(tx)),
            self._event(tx, "Started", "Authorized", reading.t_s, "EVConnected",
                        _meter_value(reading, "Transaction.Begin"), evse=EVSE, id_token=token,
                        reservation_id=tx.reservation_id),
        ]
        if self.charger.config.send_charging_needs:
            items.append(Outgoing(lambda: call.NotifyEVChargingNeeds(charging_needs=self._needs(tx),
                                                                     evse_id=CONNECTOR_ID)))
        return items

    def _needs(self, tx: TxRecord) -> dict[str, Any]:
        charger = self.charger.station.charger
        session = tx.session
        max_a = charger.max_current_a
        if session.max_power_kw < charger.max_power_kw:
            max_a = session.max_power_kw * 1000.0 / (charger.phases * charger.v_ln_v)
        return {
            "requestedEnergyTransfer": "AC_three_phase" if charger.phases == 3 else "AC_single_phase",
            "departureTime": iso(self.charger.clock.at(session.departure_s)),
            "acChargingParameters": {"energyAmount": round(session.energy_kwh * 1000.0),
                                     "evMinCurrent": round(charger.min_current_a), "evMaxCurrent": round(max_a),
                                     "evMaxVoltage": round(charger.v_ln_v * (3 ** 0.5 if charger.phases == 3 else 1))},
        }

    def meter(self, tx: TxRecord | None, reading: MeterReading) -> Outgoing:
        if tx is None:
            value = _meter_value(reading)
            return Outgoing(lambda: call.MeterValues(evse_id=CONNECTOR_ID, meter_value=value))
        return self._event(tx, "Updated", "MeterValuePeriodic", reading.t_s, meter=_meter_value(reading))

    def charging_state(self, tx: TxRecord, t_s: float, status: str) -> Outgoing | None:
        return self._event(tx, "Updated", "ChargingStateChanged", t_s, CHARGING_STATE.get(status, "Idle"))

    def transaction_ended(self, tx: TxRecord, reading: MeterReading, reason: str) -> list[Outgoing]:
        return [self._event(tx, "Ended", TRIGGER_OF_REASON.get(reason, "StopAuthorized"), reading.t_s,
                            "EVConnected" if reason != "EVDisconnected" else "Idle",
                            _meter_value(reading, "Transaction.End"), stopped_reason=reason)]

    def variables(self) -> dict[tuple[str, str, str | None], tuple[str, bool]]:
        """(component, variable, instance) -> (value, read-only)."""
        charger = self.charger
        caps = charger.station.profiles.caps
        flag = "true" if caps.enabled else "false"
        return {
            ("SmartChargingCtrlr", "Enabled", None): (flag, True),
            ("SmartChargingCtrlr", "Available", None): (flag, True),
            ("SmartChargingCtrlr", "RateUnit", None): (",".join(caps.rate_units), True),
            ("SmartChargingCtrlr", "ProfileStackLevel", None): (str(caps.max_stack_level), True),
            ("SmartChargingCtrlr", "PeriodsPerSchedule", None): (str(caps.max_periods), True),
            ("SmartChargingCtrlr", "Entries", "ChargingProfiles"): (str(caps.max_profiles), True),
            ("SmartChargingCtrlr", "ExternalControlSignalsEnabled", None): ("false", True),
            ("SmartChargingCtrlr", "Phases3to1", None): ("false", True),
            ("SampledDataCtrlr", "TxUpdatedInterval", None): (str(round(charger.meter_interval_s)), False),
            ("OCPPCommCtrlr", "HeartbeatInterval", None): (str(round(charger.heartbeat_s)), False),
            ("ChargingStation", "Model", None): (charger.config.model, True),
            ("ChargingStation", "VendorName", None): (charger.config.vendor, True),
        }


def _key(item: dict[str, Any]) -> tuple[str, str, str | None]:
    return item["component"]["name"], item["variable"]["name"], item["variable"].get("instance")


class ChargePoint201(ChargePoint):  # type: ignore[misc]
    """The library's 2.0.1 charging station with the simulated charger's handlers."""

    def __init__(self, charger: SimulatedCharger, connection: Any) -> None:
        super().__init__(charger.charger_id, connection, response_timeout=charger.config.call_timeout_s)
        self.charger = charger

    def _received(self, action: str, payload: dict[str, Any]) -> None:
        self.charger.stats.received.append((action, payload))

    @on("SetChargingProfile")
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict[str, Any], **_: Any) -> Any:
        self._received("SetChargingProfile", {"evse_id": evse_id, "charging_profile": charging_profile})
        if not self.charger.station.profiles.caps.enabled:
            raise NotSupportedError(details={"cause": "smart charging is not enabled on this charging station"})
        try:
            profile = parse_profile_201(evse_id, charging_profile, self.charger.clock.now_s())
            self.charger.install_profile(profile)
        except (ProfileError, KeyError, ValueError, IndexError) as error:
            LOG.info("%s: SetChargingProfile rejected: %s", self.charger.charger_id, error)
            return call_result.SetChargingProfile(status="Rejected",
                                                  status_info={"reasonCode": "InvalidProfile",
                                                               "additionalInfo": str(error)[:512]})
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, charging_profile_id: int | None = None,
                                  charging_profile_criteria: dict[str, Any] | None = None, **_: Any) -> Any:
        self._received("ClearChargingProfile", {"charging_profile_id": charging_profile_id,
                                                "charging_profile_criteria": charging_profile_criteria})
        criteria = charging_profile_criteria or {}
        purpose = criteria.get("charging_profile_purpose")
        removed = self.charger.clear_profiles(
            profile_id=charging_profile_id, connector_id=criteria.get("evse_id"),
            purpose=MAX_PROFILE if purpose == "ChargingStationMaxProfile" else purpose,
            stack_level=criteria.get("stack_level"))
        return call_result.ClearChargingProfile(status="Accepted" if removed else "Unknown")

    @on("GetCompositeSchedule")
    def on_get_composite_schedule(self, duration: int, evse_id: int, charging_rate_unit: str | None = None,
                                  **_: Any) -> Any:
        self._received("GetCompositeSchedule", {"duration": duration, "evse_id": evse_id})
        unit = charging_rate_unit or "A"
        start_s, periods = self.charger.composite(float(duration), evse_id, unit)
        schedule = {"evseId": evse_id, "duration": duration, "scheduleStart": iso(start_s), "chargingRateUnit": unit,
                    "chargingSchedulePeriod": [{"startPeriod": round(offset_s), "limit": limit, "numberPhases": phases}
                                               for offset_s, limit, phases in periods]}
        return call_result.GetCompositeSchedule(status="Accepted", schedule=schedule)

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self._received("GetVariables", {"get_variable_data": get_variable_data})
        known = Protocol201(self.charger).variables()
        components = {k[0] for k in known}
        results = []
        for item in get_variable_data:
            key = _key(item)
            result: dict[str, Any] = {"component": item["component"], "variable": item["variable"]}
            if key in known and item.get("attribute_type", "Actual") == "Actual":
                result |= {"attributeStatus": "Accepted", "attributeValue": known[key][0]}
            elif key in known:
                result["attributeStatus"] = "NotSupportedAttributeType"
            else:
                result["attributeStatus"] = "UnknownVariable" if key[0] in components else "UnknownComponent"
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self._received("SetVariables", {"set_variable_data": set_variable_data})
        known = Protocol201(self.charger).variables()
        components = {k[0] for k in known}
        results = []
        for item in set_variable_data:
            key, value = _key(item), str(item["attribute_value"])
            status = "Accepted"
            if key not in known:
                status = "UnknownVariable" if key[0] in components else "UnknownComponent"
            elif known[key][1] or not value.isdigit() or int(value) <= 0:
                status = "Rejected"
            elif key[1] == "TxUpdatedInterval":
                self.charger.meter_interval_s = float(value)
            else:
                self.charger.heartbeat_s = float(value)
            results.append({"attributeStatus": status, "component": item["component"], "variable": item["variable"]})
        return call_result.SetVariables(set_variable_result=results)

    @on("RequestStartTransaction")
    def on_request_start_transaction(self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None,
                                     charging_profile: dict[str, Any] | None = None, **_: Any) -> Any:
        self._received("RequestStartTransaction", {"id_token": id_token, "remote_start_id": remote_start_id})
        profile = None
        try:
            if charging_profile is not None:
                profile = parse_profile_201(CONNECTOR_ID, charging_profile, self.charger.clock.now_s())
        except (ProfileError, KeyError, ValueError, IndexError):
            return call_result.RequestStartTransaction(status="Rejected")
        ok = evse_id in (None, CONNECTOR_ID) and self.charger.request_start(str(id_token["id_token"]), profile)
        return call_result.RequestStartTransaction(status="Accepted" if ok else "Rejected")

    @on("RequestStopTransaction")
    def on_request_stop_transaction(self, transaction_id: str, **_: Any) -> Any:
        self._received("RequestStopTransaction", {"transaction_id": transaction_id})
        ok = self.charger.request_stop(transaction_id)
        return call_result.RequestStopTransaction(status="Accepted" if ok else "Rejected")

    @on("ReserveNow")
    def on_reserve_now(self, id: int, expiry_date_time: str, id_token: dict[str, Any],  # noqa: A002
                       evse_id: int | None = None, **_: Any) -> Any:
        self._received("ReserveNow", {"id": id, "expiry_date_time": expiry_date_time, "id_token": id_token,
                                      "evse_id": evse_id})
        status = self.charger.reserve(id, evse_id, str(id_token["id_token"]), epoch_s(expiry_date_time))
        return call_result.ReserveNow(status=status)

    @on("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        self._received("CancelReservation", {"reservation_id": reservation_id})
        accepted = self.charger.cancel_reservation(reservation_id)
        return call_result.CancelReservation(status="Accepted" if accepted else "Rejected")

    @on("Reset")
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> Any:  # noqa: A002
        self._received("Reset", {"type": type, "evse_id": evse_id})
        if evse_id is not None:  # resetting one EVSE is not supported (the whole station resets)
            return call_result.Reset(status="Rejected")
        return call_result.Reset(status=self.charger.reset_status(type))

    @after("Reset")
    def after_reset(self, type: str, evse_id: int | None = None, **_: Any) -> None:  # noqa: A002
        if evse_id is None:
            self.charger.reset(type)  # after the reply: the reboot closes the connection

    @on("TriggerMessage")
    def on_trigger_message(self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any) -> Any:
        self._received("TriggerMessage", {"requested_message": requested_message, "evse": evse})
        ok = requested_message in ("StatusNotification", "MeterValues", "Heartbeat")
        return call_result.TriggerMessage(status="Accepted" if ok else "NotImplemented")

    @after("TriggerMessage")
    def after_trigger_message(self, requested_message: str, **_: Any) -> None:
        charger, protocol = self.charger, Protocol201(self.charger)
        t_s = charger.clock.now_s()
        if requested_message == "StatusNotification":
            charger.send(protocol.status(t_s, CONNECTOR_ID, charger.connector_status()))
        elif requested_message == "MeterValues":
            value = _meter_value(charger.station.latest_reading(t_s), "Trigger")
            charger.send(Outgoing(lambda: call.MeterValues(evse_id=CONNECTOR_ID, meter_value=value)))
        elif requested_message == "Heartbeat":
            charger.send(Outgoing(protocol.heartbeat))
