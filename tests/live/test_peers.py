"""An independent peer: the npm package ocpp-rpc in strict mode (schemas checked both ways).

- ocpp-rpc chargers (1.6 and 2.0.1) play a session against ``feedertwin live`` in shadow and in
  active mode: every frame the server sends them must satisfy the OCPP schemas, the server reads
  their capabilities at boot, writes nothing in shadow mode and installs profiles in active mode;
- the simulated chargers (``sim.live.chargepoint``) play a session against an ocpp-rpc central
  system that calls them (configuration, profiles, composite schedule, clear, trigger): every
  frame they send must satisfy the schemas too.

The fixture installs ocpp-rpc with ``npm ci`` (see ``tests/live/ocpp_peers.py``) and skips with the
reason when npm is not installed. Waits are for events (a call seen), bounded by safety timeouts.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sim.domain import BatteryModel, Charger, Session
from sim.live.chargepoint import ChargerConfig, SimClock, build_fleet, run_fleet
from tests.live.ocpp_peers import Peers, ocpp_rpc  # noqa: F401  (the fixture)

SITE = """
name = "peer-site"
store = "{store}"
accept_unknown_chargers = false

[control]
period_s = 0.5
deadband_a = 0.5
min_send_interval_s = 0
safe_limit_a = 6

[site]
import_limit_kw = 30

[[chargers]]
id = "RPC-16"
bus = 1
max_current_a = 16

[[chargers]]
id = "RPC-201"
bus = 1
max_current_a = 16

[strategy]
name = "equal_share"
"""
CAPABILITY_READ = {"ocpp1.6": "GetConfiguration", "ocpp2.0.1": "GetVariables"}


@contextmanager
def feedertwin_live(tmp_path: Path, mode: str) -> Iterator[str]:
    """``feedertwin live`` as a subprocess on a free port; yields the URL it printed."""
    site = tmp_path / "site.toml"
    site.write_text(SITE.format(store=(tmp_path / "store.sqlite").as_posix()))
    log = tmp_path / "live.log"
    process = subprocess.Popen([sys.executable, "-m", "sim", "live", str(site), "--mode", mode, "--listen",
                                "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
                               env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on ws://"), (line, log.read_text())
        yield line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=30)


def calls_in(lines: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    return [line["params"] for line in lines if line["event"] == "call-in" and line["method"] == method]


@pytest.mark.parametrize("mode", ["shadow", "active"])
def test_strict_ocpp_rpc_chargers_against_feedertwin_live(ocpp_rpc: Peers, tmp_path: Path, mode: str) -> None:  # noqa: F811
    with feedertwin_live(tmp_path, mode) as url:
        for identity, protocol in (("RPC-16", "ocpp1.6"), ("RPC-201", "ocpp2.0.1")):
            # active: the safe default at boot, then the strategy's TxProfile during the transaction
            wait_for = CAPABILITY_READ[protocol] + (",SetChargingProfile:2" if mode == "active" else "")
            lines = ocpp_rpc.charger(url, identity, protocol, wait_for=wait_for)
            done = lines[-1]
            failures = [line for line in lines if line["event"] in ("strict-failure", "call-error", "fatal")]
            assert done["ok"] and not failures, (protocol, failures, done)
            boot = [line for line in lines if line["event"] == "result" and line["method"] == "BootNotification"]
            assert boot[0]["result"]["status"] == "Accepted"
            profiles = calls_in(lines, "SetChargingProfile")
            if mode == "shadow":
                assert profiles == [], f"shadow mode wrote to {identity}: {profiles}"
            else:
                purposes = [(p.get("csChargingProfiles") or p.get("chargingProfile"))["chargingProfilePurpose"]
                            for p in profiles]
                assert purposes[0] == "TxDefaultProfile" and "TxProfile" in purposes, purposes


CSMS_CALLS: dict[str, list[dict[str, Any]]] = {
    "ocpp1.6": [
        {"method": "GetConfiguration", "params": {}},
        {"method": "SetChargingProfile", "params": {"connectorId": 0, "csChargingProfiles": {
            "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Relative", "chargingSchedule": {
                "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}}}},
        {"method": "GetCompositeSchedule", "params": {"connectorId": 1, "duration": 600}},
        {"method": "ClearChargingProfile", "params": {"id": 1}},
        {"method": "ChangeConfiguration", "params": {"key": "MeterValueSampleInterval", "value": "120"}},
        {"method": "TriggerMessage", "params": {"requestedMessage": "StatusNotification", "connectorId": 1}},
    ],
    "ocpp2.0.1": [
        {"method": "GetVariables", "params": {"getVariableData": [
            {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "RateUnit"}},
            {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "ProfileStackLevel"}}]}},
        {"method": "SetChargingProfile", "params": {"evseId": 0, "chargingProfile": {
            "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Relative",
            "chargingSchedule": [{"id": 1, "chargingRateUnit": "A",
                                  "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}]}}},
        {"method": "GetCompositeSchedule", "params": {"duration": 600, "evseId": 1}},
        {"method": "ClearChargingProfile", "params": {"chargingProfileId": 1}},
        {"method": "SetVariables", "params": {"setVariableData": [
            {"attributeValue": "120", "component": {"name": "SampledDataCtrlr"},
             "variable": {"name": "TxUpdatedInterval"}}]}},
        {"method": "TriggerMessage", "params": {"requestedMessage": "StatusNotification"}},
    ],
}


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_simulated_chargers_against_a_strict_ocpp_rpc_csms(ocpp_rpc: Peers, tmp_path: Path,  # noqa: F811
                                                           version: str) -> None:
    protocol = "ocpp1.6" if version == "1.6" else "ocpp2.0.1"
    expected = len(CSMS_CALLS[protocol])
    charger = Charger("SIM-1", bus=1, phases=3, max_current_a=16.0)
    session = Session("s1", "SIM-1", 0.0, 3600.0, 8.0, battery_kwh=60.0, soc_arrival=0.3)

    async def play(url: str) -> Any:
        fleet = build_fleet([charger], [session], BatteryModel("taper"), SimClock(speed=3600.0), ocpp=version,
                            config=ChargerConfig(meter_interval_s=300.0))
        task = asyncio.create_task(run_fleet(fleet, url, linger=True))
        sim = fleet[0]
        while not (sim.done.is_set() and len(sim.stats.received) >= expected and not sim.outbox):
            await asyncio.sleep(0.05)  # polls a condition the charger reaches by itself
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return sim

    with ocpp_rpc.csms(CSMS_CALLS, workdir=tmp_path) as (url, lines):
        sim = asyncio.run(asyncio.wait_for(play(url), 60))
    failures = [line for line in lines if line["event"] in ("strict-failure", "call-error")]
    assert not failures, failures
    results = {line["method"]: line["result"] for line in lines if line["event"] == "result"}
    assert set(results) == {c["method"] for c in CSMS_CALLS[protocol]}
    assert results["SetChargingProfile"]["status"] == "Accepted"
    assert results["ClearChargingProfile"]["status"] == "Accepted"
    assert results["GetCompositeSchedule"]["status"] == "Accepted"
    assert results["TriggerMessage"]["status"] == "Accepted"
    assert sim.stats.call_errors == 0 and sim.meter_interval_s == 120.0
    methods = {line["method"] for line in lines if line["event"] == "call-in"}
    assert {"BootNotification", "StatusNotification", "Authorize"} <= methods
    assert ("StartTransaction" in methods) if version == "1.6" else ({"TransactionEvent", "NotifyEVChargingNeeds"}
                                                                       <= methods)
