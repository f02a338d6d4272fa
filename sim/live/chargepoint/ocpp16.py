# mypy: disable-error-code="untyped-decorator"
"""OCPP 1.6J for the simulated charger: the messages it sends and the handlers that answer the CSMS.

Sends BootNotification, Heartbeat, StatusNotification, Authorize, StartTransaction, MeterValues
(``Energy.Active.Import.Register``, ``Power.Active.Import``, ``Current.Import`` per phase,
``Current.Offered``, ``SoC``) and StopTransaction (with the final reading as ``transactionData``).

Answers SetChargingProfile (``NotSupported`` CALLERROR when the charger has no SmartCharging
profile, ``Rejected`` with the reason logged when ``ProfileSet.install`` refuses),
ClearChargingProfile, GetCompositeSchedule, GetConfiguration, ChangeConfiguration,
RemoteStart/StopTransaction, ReserveNow, CancelReservation, Reset (after its reply:
``sim.live.chargepoint.reservation``) and TriggerMessage. Every CSMS call is recorded in ``stats.received``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import NotSupportedError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result

from sim.live.chargepoint.outbox import Outgoing, TxRecord
from sim.live.chargepoint.profiles import ProfileError, epoch_s, iso, parse_profile_16
from sim.live.chargepoint.station import CONNECTOR_ID, MeterReading

if TYPE_CHECKING:
    from sim.live.chargepoint.charger import SimulatedCharger

LOG = logging.getLogger("sim.live.chargepoint")
UNIT_NAMES = {"A": "Current", "W": "Power"}
MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Current.Offered,SoC"
WRITABLE = ("MeterValueSampleInterval", "HeartbeatInterval")


def sampled_values(reading: MeterReading, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    """A 1.6 ``sampledValue`` list (values are strings in 1.6)."""
    values: list[dict[str, Any]] = [
        {"value": f"{reading.energy_wh:.1f}", "context": context, "measurand": "Energy.Active.Import.Register",
         "unit": "Wh"},
        {"value": f"{reading.power_w:.1f}", "context": context, "measurand": "Power.Active.Import", "unit": "W"},
    ]
    for phase, current_a in zip(("L1", "L2", "L3"), reading.current_a, strict=True):
        values.append({"value": f"{current_a:.2f}", "context": context, "measurand": "Current.Import",
                       "phase": phase, "unit": "A"})
    values.append({"value": f"{reading.offered_a:.1f}", "context": context, "measurand": "Current.Offered",
                   "unit": "A"})
    if reading.soc_percent is not None:
        values.append({"value": f"{reading.soc_percent:.1f}", "context": context, "measurand": "SoC",
                       "location": "EV", "unit": "Percent"})
    return values


def _tx_id(tx: TxRecord | None) -> int | None:
    return int(tx.csms_id) if tx is not None and tx.csms_id is not None else None


class Protocol16:
    """The 1.6 side of one ``SimulatedCharger`` (see ``sim.live.chargepoint.charger.OcppProtocol``)."""

    def __init__(self, charger: SimulatedCharger) -> None:
        self.charger = charger

    def charge_point(self, connection: Any) -> ChargePoint16:
        return ChargePoint16(self.charger, connection)

    def boot(self) -> Any:
        cfg = self.charger.config
        return call.BootNotification(charge_point_model=cfg.model, charge_point_vendor=cfg.vendor,
                                     charge_point_serial_number=self.charger.charger_id[:25],
                                     firmware_version="feedertwin-sim")

    def heartbeat(self) -> Any:
        return call.Heartbeat()

    def on_boot(self, result: Any) -> tuple[bool, float]:
        return result.status == "Accepted", float(result.interval)

    def status(self, t_s: float, connector_id: int, status: str) -> Outgoing:
        return Outgoing(lambda: call.StatusNotification(connector_id=connector_id, error_code="NoError", status=status,
                                                        timestamp=iso(t_s)))

    def transaction_started(self, tx: TxRecord, reading: MeterReading) -> list[Outgoing]:
        charger = self.charger

        def authorized(result: Any) -> None:
            if result.id_tag_info.get("status") != "Accepted":
                charger.deauthorize(tx)

        def started(result: Any) -> None:
            charger.assign_transaction_id(tx, str(result.transaction_id))
            authorized(result)

        return [
            Outgoing(lambda: call.Authorize(id_tag=tx.id_tag), authorized),
            Outgoing(lambda: call.StartTransaction(connector_id=CONNECTOR_ID, id_tag=tx.id_tag,
                                                   meter_start=round(reading.energy_wh), timestamp=iso(reading.t_s),
                                                   reservation_id=tx.reservation_id),
                     started),
        ]

    def meter(self, tx: TxRecord | None, reading: MeterReading) -> Outgoing:
        value = [{"timestamp": iso(reading.t_s), "sampledValue": sampled_values(reading)}]
        return Outgoing(lambda: call.MeterValues(connector_id=CONNECTOR_ID, meter_value=value, transaction_id=_tx_id(tx)))

    def charging_state(self, tx: TxRecord, t_s: float, status: str) -> Outgoing | None:
        return None  # 1.6 says it with StatusNotification

    def transaction_ended(self, tx: TxRecord, reading: MeterReading, reason: str) -> list[Outgoing]:
        data = [{"timestamp": iso(reading.t_s), "sampledValue": sampled_values(reading, "Transaction.End")}]

        def build() -> Any:
            if tx.csms_id is None:  # the CSMS never answered StartTransaction: nothing to stop
                LOG.warning("%s: StopTransaction of %s dropped: no transaction id", self.charger.charger_id,
                            tx.local_id)
                return None
            return call.StopTransaction(meter_stop=round(reading.energy_wh), timestamp=iso(reading.t_s),
                                        transaction_id=int(tx.csms_id), reason=reason, id_tag=tx.id_tag,
                                        transaction_data=data)
        return [Outgoing(build)]

    def configuration(self) -> dict[str, tuple[str, bool]]:
        """GetConfiguration keys: key -> (value, readonly)."""
        caps = self.charger.station.profiles.caps
        keys = {
            "SupportedFeatureProfiles": ("Core,SmartCharging,RemoteTrigger,Reservation" if caps.enabled
                                         else "Core,RemoteTrigger,Reservation", True),
            "ReserveConnectorZeroSupported": ("false", True),
            "NumberOfConnectors": (str(caps.connectors), True),
            "MeterValueSampleInterval": (str(round(self.charger.meter_interval_s)), False),
            "MeterValuesSampledData": (MEASURANDS, True),
            "HeartbeatInterval": (str(round(self.charger.heartbeat_s)), False),
        }
        if caps.enabled:
            keys |= {
                "ChargeProfileMaxStackLevel": (str(caps.max_stack_level), True),
                "ChargingScheduleAllowedChargingRateUnit": (",".join(UNIT_NAMES[u] for u in caps.rate_units), True),
                "ChargingScheduleMaxPeriods": (str(caps.max_periods), True),
                "MaxChargingProfilesInstalled": (str(caps.max_profiles), True),
            }
        return keys


class ChargePoint16(ChargePoint):  # type: ignore[misc]
    """The library's 1.6 charge point with the simulated charger's handlers."""

    def __init__(self, charger: SimulatedCharger, connection: Any) -> None:
        super().__init__(charger.charger_id, connection, response_timeout=charger.config.call_timeout_s)
        self.charger = charger

    def _received(self, action: str, payload: dict[str, Any]) -> None:
        self.charger.stats.received.append((action, payload))

    @on("SetChargingProfile")
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any) -> Any:
        self._received("SetChargingProfile", {"connector_id": connector_id, "cs_charging_profiles": cs_charging_profiles})
        if not self.charger.station.profiles.caps.enabled:
            raise NotSupportedError(details={"cause": "this charger has no SmartCharging feature profile"})
        try:
            profile = parse_profile_16(connector_id, cs_charging_profiles, self.charger.clock.now_s())
            self.charger.install_profile(profile)
        except (ProfileError, KeyError, ValueError) as error:
            LOG.info("%s: SetChargingProfile rejected: %s", self.charger.charger_id, error)
            return call_result.SetChargingProfile(status="Rejected")
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, id: int | None = None, connector_id: int | None = None,  # noqa: A002
                                  charging_profile_purpose: str | None = None, stack_level: int | None = None,
                                  **_: Any) -> Any:
        self._received("ClearChargingProfile", {"id": id, "connector_id": connector_id,
                                                "charging_profile_purpose": charging_profile_purpose,
                                                "stack_level": stack_level})
        removed = self.charger.clear_profiles(profile_id=id, connector_id=connector_id,
                                              purpose=charging_profile_purpose, stack_level=stack_level)
        return call_result.ClearChargingProfile(status="Accepted" if removed else "Unknown")

    @on("GetCompositeSchedule")
    def on_get_composite_schedule(self, connector_id: int, duration: int, charging_rate_unit: str | None = None,
                                  **_: Any) -> Any:
        self._received("GetCompositeSchedule", {"connector_id": connector_id, "duration": duration})
        unit = charging_rate_unit or "A"
        start_s, periods = self.charger.composite(float(duration), connector_id, unit)
        schedule = {"duration": duration, "startSchedule": iso(start_s), "chargingRateUnit": unit,
                    "chargingSchedulePeriod": [{"startPeriod": round(offset_s), "limit": limit, "numberPhases": phases}
                                               for offset_s, limit, phases in periods]}
        return call_result.GetCompositeSchedule(status="Accepted", connector_id=connector_id,
                                                schedule_start=iso(start_s), charging_schedule=schedule)

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        self._received("GetConfiguration", {"key": key})
        config = Protocol16(self.charger).configuration()
        wanted = key if key else list(config)
        known = [{"key": k, "readonly": config[k][1], "value": config[k][0]} for k in wanted if k in config]
        unknown = [k for k in wanted if k not in config]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        self._received("ChangeConfiguration", {"key": key, "value": value})
        config = Protocol16(self.charger).configuration()
        if key not in config:
            return call_result.ChangeConfiguration(status="NotSupported")
        if key not in WRITABLE or not value.isdigit() or int(value) <= 0:
            return call_result.ChangeConfiguration(status="Rejected")
        if key == "MeterValueSampleInterval":
            self.charger.meter_interval_s = float(value)
        else:
            self.charger.heartbeat_s = float(value)
        return call_result.ChangeConfiguration(status="Accepted")

    @on("RemoteStartTransaction")
    def on_remote_start_transaction(self, id_tag: str, connector_id: int | None = None,
                                    charging_profile: dict[str, Any] | None = None, **_: Any) -> Any:
        self._received("RemoteStartTransaction", {"id_tag": id_tag, "connector_id": connector_id})
        profile = None
        try:
            if charging_profile is not None:
                profile = parse_profile_16(CONNECTOR_ID, charging_profile, self.charger.clock.now_s())
        except (ProfileError, KeyError, ValueError):
            return call_result.RemoteStartTransaction(status="Rejected")
        accepted = connector_id in (None, CONNECTOR_ID) and self.charger.request_start(id_tag, profile)
        return call_result.RemoteStartTransaction(status="Accepted" if accepted else "Rejected")

    @on("RemoteStopTransaction")
    def on_remote_stop_transaction(self, transaction_id: int, **_: Any) -> Any:
        self._received("RemoteStopTransaction", {"transaction_id": transaction_id})
        accepted = self.charger.request_stop(str(transaction_id))
        return call_result.RemoteStopTransaction(status="Accepted" if accepted else "Rejected")

    @on("ReserveNow")
    def on_reserve_now(self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int,
                       **_: Any) -> Any:
        self._received("ReserveNow", {"connector_id": connector_id, "expiry_date": expiry_date, "id_tag": id_tag,
                                      "reservation_id": reservation_id})
        status = self.charger.reserve(reservation_id, connector_id, id_tag, epoch_s(expiry_date))
        return call_result.ReserveNow(status=status)

    @on("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        self._received("CancelReservation", {"reservation_id": reservation_id})
        accepted = self.charger.cancel_reservation(reservation_id)
        return call_result.CancelReservation(status="Accepted" if accepted else "Rejected")

    @on("Reset")
    def on_reset(self, type: str, **_: Any) -> Any:  # noqa: A002
        self._received("Reset", {"type": type})
        return call_result.Reset(status=self.charger.reset_status(type))

    @after("Reset")
    def after_reset(self, type: str, **_: Any) -> None:  # noqa: A002
        self.charger.reset(type)  # after the reply: the reboot closes the connection

    @on("TriggerMessage")
    def on_trigger_message(self, requested_message: str, connector_id: int | None = None, **_: Any) -> Any:
        self._received("TriggerMessage", {"requested_message": requested_message, "connector_id": connector_id})
        ok = requested_message in ("StatusNotification", "MeterValues", "Heartbeat")
        return call_result.TriggerMessage(status="Accepted" if ok else "NotImplemented")

    @after("TriggerMessage")
    def after_trigger_message(self, requested_message: str, connector_id: int | None = None, **_: Any) -> None:
        charger, protocol = self.charger, Protocol16(self.charger)
        t_s = charger.clock.now_s()
        if requested_message == "StatusNotification":
            charger.send(protocol.status(t_s, connector_id or CONNECTOR_ID, charger.connector_status()))
        elif requested_message == "MeterValues":
            charger.send(protocol.meter(charger.tx, charger.station.latest_reading(t_s)))
        elif requested_message == "Heartbeat":
                charger.send(Outgoing(protocol.heartbeat))
