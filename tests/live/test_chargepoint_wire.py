"""Simulated chargers (1.6 and 2.0.1) against a minimal CSMS written with the ocpp library, over
real websockets on 127.0.0.1. The clock runs fast; nothing waits for a fixed time: every wait is
for a message the charger sends by itself (``Csms.until``), bounded by a safety timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from sim.domain import BatteryModel, Charger, Session
from sim.live.chargepoint import ChargerConfig, SimClock, SmartChargingCaps, build_fleet, run_fleet
from sim.live.chargepoint.profiles import iso
from tests.live.chargepoint_csms import Csms, serve_csms

VERSIONS = ["1.6", "2.0.1"]
CHARGER = Charger("CP1", bus=1, phases=3, max_current_a=16.0, min_current_a=6.0, efficiency=0.95)
SAFETY_S = 60.0


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, SAFETY_S))


def values(payload: dict[str, Any], measurand: str) -> list[float]:
    return [float(v["value"]) for mv in payload["meter_value"] for v in mv["sampled_value"]
            if v.get("measurand") == measurand]


def tx_events(csms: Csms, event_type: str) -> list[dict[str, Any]]:
    return [p for p in csms.of("CP1", "TransactionEvent") if p["event_type"] == event_type]


def meter_payloads(csms: Csms, version: str) -> list[dict[str, Any]]:
    if version == "1.6":
        return csms.of("CP1", "MeterValues")
    return [p for p in csms.of("CP1", "TransactionEvent") if p.get("meter_value")]


def stopped(csms: Csms, version: str) -> bool:
    return bool(csms.of("CP1", "StopTransaction") if version == "1.6" else tx_events(csms, "Ended"))


def fleet_of(version: str, speed: float, hours: float, caps: SmartChargingCaps | None = None,
             meter_s: float = 300.0) -> list[Any]:
    clock = SimClock(speed=speed)
    s = Session("s1", "CP1", 0.0, hours * 3600.0, 10.0, battery_kwh=60.0, soc_arrival=0.2)
    return build_fleet([CHARGER], [s], BatteryModel("ideal"), clock, ocpp=version,
                       config=ChargerConfig(meter_interval_s=meter_s, reconnect_delay_s=0.05), caps=caps)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_whole_session_over_the_wire(version: str) -> None:
    async def scenario() -> tuple[Csms, Any]:
        csms = Csms()
        async with serve_csms(csms) as url:
            fleet = fleet_of(version, speed=3600.0, hours=1.0)
            await run_fleet(fleet, url)
        return csms, fleet[0]

    csms, charger = run(scenario())
    actions = [a for _, a, _ in csms.log]
    assert actions[0] == "BootNotification" and "Authorize" in actions
    assert charger.station.energy_wh == pytest.approx(10_000 / 0.95)
    meters = meter_payloads(csms, version)
    assert len(meters) >= 11
    for measurand in ("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Current.Offered",
                      "SoC"):
        assert values(meters[1], measurand), measurand
    assert values(meters[1], "Power.Active.Import") == [pytest.approx(16 * 3 * 230.0)]
    assert values(meters[1], "Current.Import") == [16.0, 16.0, 16.0]
    last = csms.of("CP1", "StatusNotification")[-1]
    assert last.get("status", last.get("connector_status")) == "Available"
    if version == "1.6":
        start, stop = csms.of("CP1", "StartTransaction")[0], csms.of("CP1", "StopTransaction")[0]
        assert (start["meter_start"], stop["meter_stop"], stop["reason"]) == (0, round(10_000 / 0.95), "EVDisconnected")
        assert stop["transaction_id"] == 100  # the CSMS's id, learnt from StartTransaction.conf
        assert all(m["transaction_id"] == 100 for m in meters)
    else:
        events = csms.of("CP1", "TransactionEvent")
        assert [e["seq_no"] for e in events] == list(range(len(events)))
        assert (events[0]["event_type"], events[-1]["event_type"]) == ("Started", "Ended")
        assert events[-1]["transaction_info"]["stopped_reason"] == "EVDisconnected"
        assert values(events[-1], "Energy.Active.Import.Register") == [pytest.approx(10_000 / 0.95, abs=0.1)]
        needs = csms.of("CP1", "NotifyEVChargingNeeds")[0]["charging_needs"]
        assert needs["departure_time"] == iso(charger.clock.at(3600.0))
        assert needs["ac_charging_parameters"]["energy_amount"] == 10_000


def test_capabilities_are_answered_in_both_versions() -> None:
    caps = SmartChargingCaps(rate_units=("A",), max_stack_level=3, max_periods=10)

    async def scenario() -> tuple[Any, Any]:
        csms = Csms()
        async with serve_csms(csms) as url:
            f16, f201 = fleet_of("1.6", 1.0, 1.0, caps), fleet_of("2.0.1", 1.0, 1.0, caps)
            f201[0].charger_id = "CP2"
            tasks = [asyncio.create_task(run_fleet(f, url, linger=True)) for f in (f16, f201)]
            await csms.until(lambda: {"CP1", "CP2"} <= set(csms.connections) and len(csms.of("CP2", "StatusNotification")) > 0)
            conf = await csms.connections["CP1"].call(call16.GetConfiguration(key=[
                "ChargeProfileMaxStackLevel", "ChargingScheduleAllowedChargingRateUnit", "SupportedFeatureProfiles",
                "NoSuchKey"]), suppress=False)
            wanted = [("SmartChargingCtrlr", "RateUnit"), ("SmartChargingCtrlr", "ProfileStackLevel"),
                      ("SmartChargingCtrlr", "PeriodsPerSchedule"), ("SmartChargingCtrlr", "Nope"), ("NoCtrlr", "X")]
            got = await csms.connections["CP2"].call(call201.GetVariables(get_variable_data=[
                {"component": {"name": c}, "variable": {"name": v}} for c, v in wanted]), suppress=False)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return conf, got

    conf, got = run(scenario())
    keys = {k["key"]: k["value"] for k in conf.configuration_key}
    assert keys == {"ChargeProfileMaxStackLevel": "3", "ChargingScheduleAllowedChargingRateUnit": "Current",
                    "SupportedFeatureProfiles": "Core,SmartCharging,RemoteTrigger,Reservation"}
    assert conf.unknown_key == ["NoSuchKey"]
    assert [(r["attribute_status"], r.get("attribute_value")) for r in got.get_variable_result] == [
        ("Accepted", "A"), ("Accepted", "3"), ("Accepted", "10"), ("UnknownVariable", None),
        ("UnknownComponent", None)]


def _tx_profile(version: str, tx_id: Any, limit: float, unit: str = "A", profile_id: int = 1) -> Any:
    schedule = {"chargingRateUnit": unit, "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}
    body = {"stackLevel": 1, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
            "transactionId": tx_id}
    if version == "1.6":
        return call16.SetChargingProfile(connector_id=1, cs_charging_profiles={
            "chargingProfileId": profile_id, **body, "chargingSchedule": schedule})
    return call201.SetChargingProfile(evse_id=1, charging_profile={
        "id": profile_id, **body, "chargingSchedule": [{"id": 1, **schedule}]})


@pytest.mark.parametrize("version", VERSIONS)
def test_profiles_are_obeyed_refused_cleared_and_the_remote_stop(version: str) -> None:
    caps = SmartChargingCaps(rate_units=("A",))

    async def scenario() -> tuple[Csms, list[Any], Any]:
        csms = Csms()
        async with serve_csms(csms) as url:
            fleet = fleet_of(version, speed=600.0, hours=10.0, caps=caps, meter_s=60.0)
            task = asyncio.create_task(run_fleet(fleet, url))
            if version == "1.6":
                await csms.until(lambda: csms.of("CP1", "StartTransaction") and fleet[0].tx.csms_id is not None)
                tx_id: Any = 100
            else:
                await csms.until(lambda: tx_events(csms, "Started"))
                tx_id = "s1"
            cp = csms.connections["CP1"]
            answers = [await cp.call(_tx_profile(version, tx_id, 8.0), suppress=False)]
            await csms.until(lambda: any(values(m, "Current.Offered") == [8.0] for m in meter_payloads(csms, version)))
            answers.append(await cp.call(_tx_profile(version, tx_id, 5000.0, unit="W", profile_id=2), suppress=False))
            answers.append(await cp.call(_tx_profile(version, "other", 8.0, profile_id=3) if version == "2.0.1"
                                         else _tx_profile(version, 999, 8.0, profile_id=3), suppress=False))
            if version == "1.6":
                answers.append(await cp.call(call16.GetCompositeSchedule(connector_id=1, duration=600), suppress=False))
                answers.append(await cp.call(call16.ClearChargingProfile(id=1), suppress=False))
                answers.append(await cp.call(call16.ClearChargingProfile(id=1), suppress=False))
                answers.append(await cp.call(call16.RemoteStopTransaction(transaction_id=100), suppress=False))
            else:
                answers.append(await cp.call(call201.GetCompositeSchedule(duration=600, evse_id=1), suppress=False))
                answers.append(await cp.call(call201.ClearChargingProfile(charging_profile_id=1), suppress=False))
                answers.append(await cp.call(call201.ClearChargingProfile(charging_profile_id=1), suppress=False))
                answers.append(await cp.call(call201.RequestStopTransaction(transaction_id="s1"), suppress=False))
            await csms.until(lambda: stopped(csms, version))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return csms, answers, fleet[0]

    csms, answers, charger = run(scenario())
    assert [a.status for a in answers] == ["Accepted", "Rejected", "Rejected", "Accepted", "Accepted", "Unknown",
                                           "Accepted"]
    composite = answers[3].charging_schedule if version == "1.6" else answers[3].schedule
    assert composite["charging_schedule_period"][0]["limit"] == 8.0
    if version == "1.6":
        assert csms.of("CP1", "StopTransaction")[0]["reason"] == "Remote"
    else:
        assert tx_events(csms, "Ended")[0]["transaction_info"]["stopped_reason"] == "Remote"
    assert [a for a, _ in charger.stats.received][:3] == ["SetChargingProfile"] * 3


@pytest.mark.parametrize("version", VERSIONS)
def test_a_charger_without_smart_charging_answers_not_supported(version: str) -> None:
    async def scenario() -> None:
        csms = Csms()
        async with serve_csms(csms) as url:
            fleet = fleet_of(version, speed=600.0, hours=10.0, caps=SmartChargingCaps(enabled=False))
            task = asyncio.create_task(run_fleet(fleet, url))
            await csms.until(lambda: "CP1" in csms.connections and csms.of("CP1", "StatusNotification"))
            try:
                with pytest.raises(NotSupportedError):
                    await csms.connections["CP1"].call(_tx_profile(version, None, 8.0), suppress=False)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_refused_id_tag_stops_the_transaction(version: str) -> None:
    async def scenario() -> Csms:
        csms = Csms(reject_tags=("tag-s1",))
        async with serve_csms(csms) as url:
            fleet = fleet_of(version, speed=600.0, hours=10.0)
            task = asyncio.create_task(run_fleet(fleet, url))
            await csms.until(lambda: stopped(csms, version))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return csms

    csms = run(scenario())
    if version == "1.6":
        assert csms.of("CP1", "StopTransaction")[0]["reason"] == "DeAuthorized"
    else:
        assert tx_events(csms, "Ended")[0]["transaction_info"]["stopped_reason"] == "DeAuthorized"


@pytest.mark.parametrize("version", VERSIONS)
def test_reconnect_mid_session_keeps_the_session(version: str) -> None:
    async def scenario() -> tuple[Csms, Any]:
        csms = Csms()
        async with serve_csms(csms) as url:
            fleet = fleet_of(version, speed=3600.0, hours=1.0, meter_s=60.0)
            task = asyncio.create_task(run_fleet(fleet, url))
            await csms.until(lambda: len(meter_payloads(csms, version)) >= 3)
            await csms.connections["CP1"]._connection.close()
            await task
        return csms, fleet[0]

    csms, charger = run(scenario())
    assert charger.stats.connects == 2
    assert len(csms.of("CP1", "BootNotification")) == 2
    assert len(charger.transactions) == 1
    registers = [values(m, "Energy.Active.Import.Register")[0] for m in meter_payloads(csms, version)]
    assert registers == sorted(registers)  # nothing lost or reordered across the reconnect
    assert registers[-1] == pytest.approx(10_000 / 0.95, abs=0.1)
    if version == "1.6":
        assert len(csms.of("CP1", "StartTransaction")) == 1
        assert csms.of("CP1", "StopTransaction")[0]["transaction_id"] == 100
    else:
        assert len(tx_events(csms, "Started")) == 1 and len(tx_events(csms, "Ended")) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_remote_stop_then_remote_start_of_the_plugged_in_vehicle(version: str) -> None:
    async def scenario() -> Csms:
        csms = Csms()
        async with serve_csms(csms) as url:
            fleet = fleet_of(version, speed=600.0, hours=10.0, meter_s=60.0)
            task = asyncio.create_task(run_fleet(fleet, url))
            await csms.until(lambda: fleet[0].tx is not None and fleet[0].tx.csms_id is not None
                             and len(meter_payloads(csms, version)) > 0)
            cp = csms.connections["CP1"]
            if version == "1.6":
                stop = await cp.call(call16.RemoteStopTransaction(transaction_id=100), suppress=False)
                await csms.until(lambda: stopped(csms, version))
                start = await cp.call(call16.RemoteStartTransaction(id_tag="REMOTE", connector_id=1), suppress=False)
                await csms.until(lambda: len(csms.of("CP1", "StartTransaction")) == 2)
            else:
                stop = await cp.call(call201.RequestStopTransaction(transaction_id="s1"), suppress=False)
                await csms.until(lambda: stopped(csms, version))
                start = await cp.call(call201.RequestStartTransaction(
                    id_token={"idToken": "REMOTE", "type": "Central"}, remote_start_id=7, evse_id=1), suppress=False)
                await csms.until(lambda: len(tx_events(csms, "Started")) == 2)
            again = fleet[0].request_start("OTHER")  # a transaction runs: no second one
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert (stop.status, start.status, again) == ("Accepted", "Accepted", False)
        return csms

    csms = run(scenario())
    if version == "1.6":
        assert csms.of("CP1", "StartTransaction")[1]["id_tag"] == "REMOTE"
        assert any(p["status"] == "Finishing" for p in csms.of("CP1", "StatusNotification"))
    else:
        second = tx_events(csms, "Started")[1]
        assert (second["transaction_info"]["transaction_id"], second["id_token"]["id_token"]) == ("s1-2", "REMOTE")
