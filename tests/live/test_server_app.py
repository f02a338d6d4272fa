"""The tick loop over real websockets: shadow records and sends nothing; active sends the safe
default at boot and the controller's profiles at ticks, as tasks outside the handlers; every
outcome (accepted, rejected, not implemented, timeout) is recorded and fed back; a restart
re-applies the stored events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from sim.live.app import LiveApp
from sim.live.events import ChargerDisconnected
from sim.live.site_file import load_site
from sim.live.store import LiveStore
from tests.live.server_helpers import (
    T0_S,
    Charger16,
    Charger201,
    Clock,
    boot16,
    boot201,
    connected,
    live_server,
    run,
    until,
    write_site,
)


async def _session16(cp: Charger16, current_a: float = 10.0) -> int:
    started = await cp.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0,
                                                    timestamp="2027-01-15T08:00:00Z"))
    await cp.call(call16.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[{
        "timestamp": "2027-01-15T08:01:00Z", "sampledValue": [
            {"value": str(current_a), "measurand": "Current.Import", "phase": p, "unit": "A"} for p in ("L1", "L2", "L3")]
    }]))
    return int(started.transaction_id)


async def _session201(cs: Charger201, current_a: float = 12.0) -> None:
    await cs.call(call201.TransactionEvent(
        event_type="Started", timestamp="2027-01-15T08:00:00Z", trigger_reason="CablePluggedIn", seq_no=0,
        transaction_info={"transaction_id": "TX-1"}, evse={"id": 1, "connector_id": 1},
        meter_value=[{"timestamp": "2027-01-15T08:00:00Z", "sampled_value": [
            {"value": current_a, "measurand": "Current.Import", "phase": p} for p in ("L1", "L2", "L3")]}]))


def _profiles(charger: Any) -> list[dict[str, Any]]:
    return [payload for action, payload in charger.received if action == "SetChargingProfile"]


def test_shadow_records_setpoints_beside_measured_currents_and_sends_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = Clock()
        async with live_server(write_site(tmp_path), "shadow", clock=clock) as (app, server):
            async with connected(server, "CP-16", Charger16) as cp, connected(server, "CP-201", Charger201) as cs:
                await cp.call(boot16())
                await cs.call(boot201())
                await until(lambda: not app._tasks)  # the capability reads are done
                await _session16(cp, 10.0)
                await _session201(cs, 12.0)
                first = app.tick()
                clock.t_s += 30
                app.tick()
                assert not app._tasks  # no call was even started
                await cp.call(call16.Heartbeat())
                assert cp.actions() == ["GetConfiguration"] and cs.actions() == ["GetVariables"]
            assert first.commands == ()
            assert app.store.commands() == []
            assert not any("SetChargingProfile" in f for _, d, f in app.store.frames() if d == "out")
            decisions = app.store.decisions()
            assert [d["mode"] for d in decisions] == ["shadow", "shadow"]
            assert [d["t_s"] for d in decisions] == [T0_S, T0_S + 30]
            # equal_share under the 22 kW import limit: 22000 / (2 x 3 x 230 V) = 15.94 A each.
            rows = app.store.setpoints()[:2]
            assert [(r[1], r[3]) for r in rows] == [("CP-16", 10.0), ("CP-201", 12.0)]
            assert rows[0][2] == pytest.approx(22000 / (6 * 230), rel=1e-3)
            assert any("shadow mode: not sent" in m for _, _, m in app.store.log_lines())

    run(scenario())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_active_installs_the_safe_default_at_boot_and_sends_tx_profiles_at_ticks(tmp_path: Path, version: str) -> None:
    async def scenario() -> None:
        clock = Clock()
        async with live_server(write_site(tmp_path), "active", clock=clock) as (app, server):
            identity, cls = ("CP-16", Charger16) if version == "1.6" else ("CP-201", Charger201)
            async with connected(server, identity, cls) as charger:
                await charger.call(boot16() if version == "1.6" else boot201())
                await until(lambda: len(_profiles(charger)) == 1 and not app._tasks)
                default = _profiles(charger)[0]["profile"]
                assert default["charging_profile_purpose"] == "TxDefaultProfile"
                assert _profiles(charger)[0].get("connector_id", _profiles(charger)[0].get("evse_id")) == 0
                schedule = default["charging_schedule"]
                schedule = schedule[0] if isinstance(schedule, list) else schedule
                assert (schedule["charging_rate_unit"], schedule["charging_schedule_period"][0]["limit"]) == ("A", 6.0)
                if version == "1.6":
                    await _session16(charger)
                else:
                    await _session201(charger)
                app.tick()
                await until(lambda: len(_profiles(charger)) == 2 and not app._tasks)
                tx_profile = _profiles(charger)[1]["profile"]
                assert tx_profile["charging_profile_purpose"] == "TxProfile"
                assert str(tx_profile["transaction_id"]) in ("1", "TX-1")
                clock.t_s += 30
                app.tick()  # nothing changed: within the deadband, nothing is sent
                assert not app._tasks
            commands = app.store.commands()
            assert [(c["action"], c["outcome"]) for c in commands] == [("SetChargingProfile", "accepted")] * 2
            sent = [json.loads(f) for _, d, f in app.store.frames(identity) if d == "out" and "SetChargingProfile" in f]
            assert [frame[3] for frame in sent] == [c["payload"] for c in commands]

    run(scenario())


class RejectsTxProfile(Charger16):
    @on("SetChargingProfile")
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any) -> Any:
        self.profile_status = "Rejected" if cs_charging_profiles["charging_profile_purpose"] == "TxProfile" else "Accepted"
        return super().on_set_charging_profile(connector_id, cs_charging_profiles)


class WithoutSmartCharging(Charger16):
    """Answers GetConfiguration but has no SetChargingProfile handler: the library says NotImplemented."""

    configuration = {"NumberOfConnectors": "1"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.route_map["SetChargingProfile"]


class SwallowsFirstProfile(Charger16):
    """Never answers its first SetChargingProfile (a lost frame), answers the rest."""

    swallowed = 0

    async def route_message(self, raw_msg: str) -> None:
        if '"SetChargingProfile"' in raw_msg and self.swallowed == 0:
            self.swallowed += 1
            return
        await super().route_message(raw_msg)


def test_a_rejected_tx_profile_is_recorded_and_the_fallback_default_profile_goes_out(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path), "active") as (app, server):
            async with connected(server, "CP-16", RejectsTxProfile) as cp:
                await cp.call(boot16())
                await until(lambda: len(_profiles(cp)) == 1 and not app._tasks)
                await _session16(cp)
                app.tick()
                await until(lambda: len(_profiles(cp)) == 3 and not app._tasks)
                purposes = [(p["profile"]["charging_profile_purpose"], p["connector_id"]) for p in _profiles(cp)]
                assert purposes == [("TxDefaultProfile", 0), ("TxProfile", 1), ("TxDefaultProfile", 1)]
            assert [c["outcome"] for c in app.store.commands()] == ["accepted", "rejected", "accepted"]
            assert any("rejected" in m and "falling back" in m for level, _, m in app.store.log_lines()
                       if level == "warning")

    run(scenario())


def test_not_implemented_marks_the_charger_uncontrollable_and_a_timeout_is_an_outcome(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path), "active", call_timeout_s=0.3) as (app, server):
            async with connected(server, "CP-16", WithoutSmartCharging) as cp, \
                    connected(server, "CP-201", SwallowsFirstProfile, subprotocols=("ocpp1.6",)) as lossy:
                await cp.call(boot16())
                await lossy.call(boot16())
                await until(lambda: len(app.store.commands()) >= 3 and not app._tasks)
                # CP-16: the boot default got NotImplemented; nothing more is tried.
                await _session16(cp)
                app.tick()
                assert not any(c["charger_id"] == "CP-16" for c in app.store.commands()[3:])
                # The connection survived the CALLERROR and the lost frame.
                await cp.call(call16.Heartbeat())
                await lossy.call(call16.Heartbeat())
            outcomes = {(c["charger_id"], c["outcome"]) for c in app.store.commands()}
            assert ("CP-16", "not_implemented") in outcomes
            assert ("CP-201", "timeout") in outcomes and ("CP-201", "accepted") in outcomes
            timeout_detail = next(c["detail"] for c in app.store.commands() if c["outcome"] == "timeout")
            assert "no reply to SetChargingProfile within 0.3 s" in timeout_detail

    run(scenario())


def test_a_restart_reapplies_the_stored_events_to_a_new_twin(tmp_path: Path) -> None:
    site_path = write_site(tmp_path)

    async def scenario() -> None:
        clock = Clock()
        async with live_server(site_path, "shadow", clock=clock) as (app, server):
            async with connected(server, "CP-16", Charger16) as cp:
                await cp.call(boot16())
                await until(lambda: not app._tasks)
                await _session16(cp, 9.0)
                before = app.tracker.view(T0_S + 60, 30.0)
                # A second process opens the same store while the first still holds the charger: as
                # after a kill -9, the first one's link is gone.
                site = load_site(site_path)
                with LiveStore(site.store_path) as store:
                    clock.t_s += 5
                    again = LiveApp(site, "shadow", store, clock=clock)
                    after = again.tracker.view(T0_S + 60, 30.0)
                    assert after.sessions.session_ids == before.sessions.session_ids == ("CP-16:1",)
                    assert after.sessions.arrival_s.tolist() == before.sessions.arrival_s.tolist()
                    assert again.tracker.measured_current_a().tolist() == app.tracker.measured_current_a().tolist()
                    assert again.tracker.capabilities("CP-16") == app.tracker.capabilities("CP-16")
                    assert not again.tracker.is_connected("CP-16")
                    assert isinstance(list(store.events())[-1], ChargerDisconnected)
                    assert again.next_transaction_id() == 2
                    assert again.connector_of("CP-16", "1") == 1

    run(scenario())


def test_the_tick_loop_runs_every_period_and_a_failing_strategy_never_stops_it(tmp_path: Path) -> None:
    site_path = write_site(tmp_path)
    site_path.write_text(site_path.read_text().replace("period_s = 30", "period_s = 0.25"))

    async def scenario() -> None:
        async with live_server(site_path, "shadow") as (app, _):
            stop = asyncio.Event()
            loop = asyncio.create_task(app.run(stop))
            await until(lambda: len(app.store.decisions()) >= 2)

            def broken(*_: Any) -> Any:
                raise RuntimeError("strategy exploded")

            app.controller.decide = broken  # type: ignore[method-assign]
            await until(lambda: sum("strategy exploded" in m for _, _, m in app.store.log_lines()) >= 2)
            stop.set()
            await loop
            assert loop.exception() is None

    run(scenario())


def test_with_a_grid_each_tick_solves_the_live_load_flow_with_the_measured_charging(tmp_path: Path) -> None:
    site_path = write_site(tmp_path)
    site_path.write_text(site_path.read_text().replace("bus = 1", "bus = 36") + '\n[grid]\nnetwork = "cigre_lv"\n')

    async def scenario() -> None:
        clock = Clock()
        async with live_server(site_path, "shadow", clock=clock) as (app, server):
            app.tick()  # nobody charges
            async with connected(server, "CP-16", Charger16) as cp:
                await _session16(cp, 16.0)
            clock.t_s += 30
            app.tick()  # 3 x 16 A x 230 V = 11 kW at bus 36
            idle, busy = app.store.grid_states()
        assert busy[1] < idle[1]  # the lowest voltage sags
        assert busy[5] == pytest.approx(idle[5] + 11.04, abs=1.0)  # the import grows by the charging (+ losses)

    run(scenario())


class SwallowsEveryProfile(Charger16):
    async def route_message(self, raw_msg: str) -> None:
        if '"SetChargingProfile"' not in raw_msg:
            await super().route_message(raw_msg)


def test_a_charger_leaving_while_a_call_is_outstanding_ends_the_call_at_once(tmp_path: Path) -> None:
    # The call timeout is the default 30 s: the outcome comes from the closed connection, not the clock.
    async def scenario() -> None:
        async with live_server(write_site(tmp_path), "active", call_timeout_s=30.0) as (app, server):
            async with connected(server, "CP-16", SwallowsEveryProfile) as cp:
                await cp.call(boot16())
                await until(lambda: len(app.store.commands()) == 1)
            await until(lambda: app.store.commands()[0]["outcome"] is not None)
            command = app.store.commands()[0]
            assert command["outcome"] == "error"
            assert "connection closed before SetChargingProfile was answered" in command["detail"]

    run(scenario())
