"""Operator actions (``sim.live.actions``) over real websockets on 127.0.0.1.

Charger calls go to simulated chargers (``sim.live.chargepoint``, 1.6 and 2.0.1) connected to a
``LiveApp``: each arrives as the right OCPP call with the right payload, the charger answers as a
real one does (reservations, remote start of the next session, remote stop, reset and reboot) and
the outcome comes back, audited. Local actions (mode, limits) are checked on the next tick's
decision. Nothing waits for a fixed time: ``until`` waits for what the server or charger does next.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import call_result as result16

from sim.domain import BatteryModel, Charger, Session
from sim.live.actions import ActionError, UnknownTargetError
from sim.live.app import LiveApp
from sim.live.chargepoint import ChargerConfig, SimulatedCharger, build_fleet, run_fleet
from sim.live.clock import SimClock
from sim.live.events import ChargerBooted, SessionEnded, SessionStarted
from sim.live.site_file import load_site
from sim.live.store import LiveStore
from tests.live.server_helpers import (
    SITE_TOML,
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
)
from tests.live.test_server_app import _profiles, _session16, _session201

LIMITS_TOML = """
[[site.limits]]
id = "car-park"
max_current_a = 30
"""
WHO = "alice@operator"


def write_site(directory: Path) -> Path:
    path = directory / "site.toml"
    path.write_text(SITE_TOML.format(accept_unknown="false") + LIMITS_TOML)
    return path


def identity(version: str) -> str:
    return "CP-16" if version == "1.6" else "CP-201"


def fleet_of(version: str, clock: SimClock) -> SimulatedCharger:
    """One simulated charger with one session that arrives an hour from now (so it sits idle)."""
    charger = Charger(identity(version), bus=1, phases=3, max_current_a=16.0)
    session = Session("s1", charger.charger_id, 3600.0, 5 * 3600.0, 20.0, battery_kwh=60.0, soc_arrival=0.2)
    config = ChargerConfig(reconnect_delay_s=0.01, meter_interval_s=60.0)
    return build_fleet([charger], [session], BatteryModel("ideal"), clock, ocpp=version, config=config)[0]


def received(charger: SimulatedCharger, action: str) -> list[dict[str, Any]]:
    return [payload for name, payload in charger.stats.received if name == action]


def sent_calls(app: LiveApp, charger_id: str, action: str) -> list[dict[str, Any]]:
    """The payloads of the calls ``action`` the server sent (frames out, as they went on the wire)."""
    frames = [json.loads(f) for _, d, f in app.store.frames(charger_id) if d == "out"]
    return [frame[3] for frame in frames if frame[0] == 2 and frame[2] == action]


def events(app: LiveApp, cls: type) -> list[Any]:
    return list(app.store.events_of(cls))


async def stored(read: Callable[[], list[Any]], n: int) -> list[Any]:
    """The rows ``read`` gives once there are ``n``: the store's reader flushes what is pending, but a
    group commit may still be on its way to the writer thread."""
    await until(lambda: len(read()) >= n)
    return read()


async def audited(app: LiveApp, n: int) -> list[dict[str, Any]]:
    """The audit rows, once ``n`` have their outcome."""
    return await stored(lambda: [row for row in app.store.audit() if row["outcome"] is not None], n)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_charger_actions_reach_a_simulated_charger_and_come_back_audited(tmp_path: Path, version: str) -> None:
    cid = identity(version)

    async def scenario() -> None:
        clock = SimClock(speed=1.0, origin_s=T0_S)
        async with live_server(write_site(tmp_path), "shadow", clock=clock) as (app, server):  # type: ignore[arg-type]
            charger = fleet_of(version, clock)
            fleet = asyncio.create_task(run_fleet([charger], server.url, linger=True))
            try:
                await until(lambda: app.tracker.capabilities(cid) is not None and not app._tasks)
                operator = app.operator
                # ReserveNow: accepted; the connector reports Reserved
                expiry_s = clock.now_s() + 600.0
                reserved = await operator.reserve(cid, 1, expiry_s, "DRIVER-1", WHO)
                assert reserved.outcome == "accepted" and reserved.reservation_id == reserved.audit_id
                payload = sent_calls(app, cid, "ReserveNow")[0]
                if version == "1.6":
                    assert payload == {"connectorId": 1, "expiryDate": payload["expiryDate"], "idTag": "DRIVER-1",
                                       "reservationId": reserved.reservation_id}
                else:
                    assert payload == {"id": reserved.reservation_id, "expiryDateTime": payload["expiryDateTime"],
                                       "evseId": 1, "idToken": {"idToken": "DRIVER-1", "type": "Central"}}
                assert charger.reservation is not None and charger.reservation.id_tag == "DRIVER-1"
                await until(lambda: charger.connector_status() == "Reserved")
                # another reservation, or a remote start with another tag: refused, as outcomes
                other = await operator.reserve(cid, 1, expiry_s, "DRIVER-2", WHO)
                assert (other.outcome, other.detail, other.reservation_id) == ("rejected", "Occupied", None)
                refused = await operator.remote_start(cid, 1, "DRIVER-2", WHO)
                assert (refused.outcome, refused.detail) == ("rejected", "Rejected")
                # CancelReservation: accepted once, then the charger knows no such reservation
                cancelled = await operator.cancel_reservation(cid, reserved.reservation_id or 0, WHO)
                again = await operator.cancel_reservation(cid, reserved.reservation_id or 0, WHO)
                assert (cancelled.outcome, again.outcome) == ("accepted", "rejected")
                assert sent_calls(app, cid, "CancelReservation")[0] == {"reservationId": reserved.reservation_id}
                assert charger.reservation is None and charger.connector_status() == "Available"
                # reserved for DRIVER-3, a remote start with that tag brings the next session's vehicle now
                second = await operator.reserve(cid, 1, clock.now_s() + 600.0, "DRIVER-3", WHO)
                started = await operator.remote_start(cid, 1, "DRIVER-3", WHO)
                assert (second.outcome, started.outcome) == ("accepted", "accepted")
                start_call = sent_calls(app, cid, "RemoteStartTransaction" if version == "1.6"
                                        else "RequestStartTransaction")[-1]
                if version == "1.6":
                    assert start_call == {"connectorId": 1, "idTag": "DRIVER-3"}
                else:
                    assert start_call == {"idToken": {"idToken": "DRIVER-3", "type": "Central"},
                                          "remoteStartId": started.audit_id, "evseId": 1}
                await until(lambda: app.transaction_on(cid, 1) is not None)
                tx = app.transaction_on(cid, 1)
                assert tx is not None
                assert [e.id_tag for e in await stored(lambda: events(app, SessionStarted), 1)] == ["DRIVER-3"]
                assert charger.transactions[0].reservation_id == second.reservation_id and charger.reservation is None
                # remote stop ends it; the vehicle stays plugged in, so a remote start starts again
                stopped = await operator.remote_stop(cid, tx, WHO)
                assert stopped.outcome == "accepted"
                stop_call = sent_calls(app, cid, "RemoteStopTransaction" if version == "1.6"
                                       else "RequestStopTransaction")[-1]
                assert stop_call == {"transactionId": int(tx) if version == "1.6" else tx}
                await until(lambda: app.transaction_on(cid, 1) is None)
                assert (await stored(lambda: events(app, SessionEnded), 1))[-1].reason == "Remote"
                restarted = await operator.remote_start(cid, 1, "DRIVER-4", WHO)
                assert restarted.outcome == "accepted"
                await until(lambda: app.transaction_on(cid, 1) is not None)
                tx = app.transaction_on(cid, 1)
                assert tx is not None
                # soft reset: 1.6 stops the transaction (SoftReset) and reboots; 2.0.1 OnIdle is
                # Scheduled and reboots when the transaction ends (here: a remote stop)
                reset = await operator.reset(cid, "soft", WHO)
                assert reset.outcome == "accepted"
                assert sent_calls(app, cid, "Reset")[0] == {"type": "Soft" if version == "1.6" else "OnIdle"}
                if version == "2.0.1":
                    assert reset.detail == "scheduled: the charger resets when its transactions end"
                    assert charger.stats.reboots == 0 and app.transaction_on(cid, 1) == tx
                    assert (await operator.remote_stop(cid, tx, WHO)).outcome == "accepted"
                await until(lambda: charger.stats.reboots == 1 and len(events(app, ChargerBooted)) == 2
                            and app.transaction_on(cid, 1) is None and not app._tasks)
                assert charger.stats.connects == 2
                ended = await stored(lambda: events(app, SessionEnded), 2)
                assert ended[-1].reason == ("SoftReset" if version == "1.6" else "Remote")
            finally:
                fleet.cancel()
                await asyncio.gather(fleet, return_exceptions=True)
            audit = await audited(app, 10 if version == "1.6" else 11)
            assert {row["who"] for row in audit} == {WHO}
            assert [(row["action"], row["outcome"]) for row in audit][:6] == [
                ("reserve", "accepted"), ("reserve", "rejected"), ("remote_start", "rejected"),
                ("cancel_reservation", "accepted"), ("cancel_reservation", "rejected"), ("reserve", "accepted")]
            assert audit[0]["target"] == f"charger/{cid}"
            assert audit[0]["parameters"] == {"connector_id": 1, "expiry_s": expiry_s, "id_tag": "DRIVER-1"}
            assert audit[1]["detail"] == "Occupied"
            # every call is a command row too, with the same payload and outcome
            commands = [c for c in app.store.commands() if c["action"] != "GetConfiguration"
                        and c["action"] != "GetVariables"]
            assert [c["outcome"] for c in commands] == [row["outcome"] for row in audit]

    run(scenario())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_hard_reset_reboots_at_once_and_ends_the_session_after_the_new_boot(tmp_path: Path, version: str) -> None:
    cid = identity(version)

    async def scenario() -> None:
        clock = SimClock(speed=1.0, origin_s=T0_S)
        async with live_server(write_site(tmp_path), "shadow", clock=clock) as (app, server):  # type: ignore[arg-type]
            charger = fleet_of(version, clock)
            fleet = asyncio.create_task(run_fleet([charger], server.url, linger=True))
            try:
                await until(lambda: app.tracker.capabilities(cid) is not None and not app._tasks)
                assert (await app.operator.remote_start(cid, 1, "DRIVER", WHO)).outcome == "accepted"
                await until(lambda: app.transaction_on(cid, 1) is not None)
                reset = await app.operator.reset(cid, "hard", WHO)
                assert (reset.outcome, sent_calls(app, cid, "Reset")[0]) == (
                    "accepted", {"type": "Hard" if version == "1.6" else "Immediate"})
                await until(lambda: app.transaction_on(cid, 1) is None and len(events(app, ChargerBooted)) == 2)
                assert charger.stats.reboots == 1
                ended = await stored(lambda: events(app, SessionEnded), 1)
                assert ended[-1].reason == ("HardReset" if version == "1.6" else "ImmediateReset")
                if version == "2.0.1":  # the boot after a reset says why
                    boots = [json.loads(f)[3] for _, d, f in app.store.frames(cid)
                             if d == "in" and '"BootNotification"' in f]
                    assert [b["reason"] for b in boots] == ["PowerUp", "RemoteReset"]
            finally:
                fleet.cancel()
                await asyncio.gather(fleet, return_exceptions=True)

    run(scenario())


class Refusing16(Charger16):
    """A 1.6 charger that refuses every reset and has no reservation feature (NotImplemented)."""

    @on("Reset")  # type: ignore[untyped-decorator]
    def on_reset(self, **payload: Any) -> Any:
        self.received.append(("Reset", payload))
        return result16.Reset(status="Rejected")


def test_a_refusal_is_an_outcome_not_an_exception(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path), "shadow") as (app, server):
            async with connected(server, "CP-16", Refusing16) as cp:
                await cp.call(boot16())
                await until(lambda: not app._tasks)
                reset = await app.operator.reset("CP-16", "hard", WHO)
                missing = await app.operator.reserve("CP-16", 1, T0_S + 60, "TAG", WHO)
                assert cp.received[-1] == ("Reset", {"type": "Hard"})
            offline = await app.operator.reset("CP-16", "soft", WHO)
            assert (reset.outcome, reset.detail) == ("rejected", "Rejected")
            assert missing.outcome == "not_implemented" and missing.reservation_id is None
            assert offline.outcome == "not_connected"
            assert [(r["action"], r["outcome"]) for r in await audited(app, 3)] == [
                ("reset", "rejected"), ("reserve", "not_implemented"), ("reset", "not_connected")]

    run(scenario())


def test_unknown_targets_and_bad_values_raise_naming_what_is_valid(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path), "shadow") as (app, _):
            op = app.operator
            unknown: list[tuple[Callable[[], Awaitable[Any]], str]] = [
                (lambda: op.set_charger_limit("CP-9", 10.0, WHO), "unknown charger 'CP-9'; valid: CP-16, CP-201"),
                (lambda: op.set_site_limit("fuse", 10.0, WHO), "unknown limit 'fuse'; valid: car-park"),
                (lambda: op.reserve("CP-16", 2, T0_S + 60, "TAG", WHO), "unknown connector 2 on charger 'CP-16'; valid: 1"),
                (lambda: op.remote_stop("CP-16", "7", WHO), "unknown transaction '7' open on charger 'CP-16'; valid: none"),
                (lambda: op.reset("CP-9", "soft", WHO), "unknown charger 'CP-9'"),
            ]
            for action, message in unknown:
                with pytest.raises(UnknownTargetError, match=message):
                    await action()
            bad: list[tuple[Callable[[], Awaitable[Any]], str]] = [
                (lambda: op.set_mode("auto", WHO), "mode: got 'auto'; expected one of shadow, active"),
                (lambda: op.set_charger_limit("CP-16", -1.0, WHO), "max_current_a: got -1.0; expected 0 .* from the "
                                                           "charger's minimum 6 to its rating 16"),
                (lambda: op.set_charger_limit("CP-16", 3.0, WHO), "max_current_a: got 3.0"),
                (lambda: op.set_charger_limit("CP-16", 17.0, WHO), "max_current_a: got 17.0"),
                (lambda: op.set_site_limit("car-park", 31.0, WHO), "max_current_a: got 31.0; expected a number of A from 0 "
                                                           "to 30 .the site file's value for 'car-park'"),
                (lambda: op.reserve("CP-16", 1, T0_S - 1, "TAG", WHO), "expiry_s: got 1799999999.0; expected epoch seconds "
                                                               "after now"),
                (lambda: op.reserve("CP-16", 1, T0_S + 60, "", WHO), "id_tag: got ''"),
                (lambda: op.reset("CP-16", "warm", WHO), "kind: got 'warm'; expected one of soft, hard"),
                (lambda: op.cancel_reservation("CP-16", -3, WHO), "reservation_id: got -3"),
            ]
            for action, message in bad:
                with pytest.raises(ActionError, match=message):
                    await action()
            assert app.store.audit() == []  # nothing was done: nothing is audited

    run(scenario())


def test_a_mode_switch_changes_what_is_sent_at_the_next_tick(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = Clock()
        async with live_server(write_site(tmp_path), "shadow", clock=clock) as (app, server):
            subscription = app.feed.subscribe()
            async with connected(server, "CP-16", Charger16) as cp:
                await cp.call(boot16())
                await until(lambda: not app._tasks)
                await _session16(cp)
                assert app.tick().commands == () and _profiles(cp) == []
                # active: the safe default the boot did not send goes at once, the TxProfile at the tick
                switched = await app.operator.set_mode("active", WHO)
                assert (switched.outcome, app.mode) == ("done", "active")
                await until(lambda: len(_profiles(cp)) == 1 and not app._tasks)
                assert _profiles(cp)[0]["profile"]["charging_profile_purpose"] == "TxDefaultProfile"
                clock.t_s += 30
                assert [c.purpose for c in app.tick().commands] == ["TxProfile"]
                await until(lambda: len(_profiles(cp)) == 2 and not app._tasks)
                # shadow again: the next tick sends nothing, even where the setpoint moves
                assert (await app.operator.set_mode("shadow", WHO)).outcome == "done"
                await app.operator.set_charger_limit("CP-16", 8.0, WHO)
                clock.t_s += 30
                decision = app.tick()
                assert decision.commands == () and decision.limits_a[0] == 8.0
                assert not app._tasks and len(_profiles(cp)) == 2
                again = await app.operator.set_mode("shadow", WHO)
                assert (again.outcome, again.detail) == ("done", "already in shadow mode")
            audit = await audited(app, 4)
            assert [(r["action"], r["parameters"], r["outcome"]) for r in audit] == [
                ("set_mode", {"mode": "active", "previous": "shadow"}, "done"),
                ("set_mode", {"mode": "shadow", "previous": "active"}, "done"),
                ("set_charger_limit", {"max_current_a": 8.0}, "done"),
                ("set_mode", {"mode": "shadow"}, "done")]
            updates = []
            while not subscription.queue.empty():
                updates.append(subscription.queue.get_nowait())
            actions = [u.data for u in updates if u.kind == "action"]
            assert [(a["action"], a["who"], a["outcome"]) for a in actions] == [
                (r["action"], WHO, "done") for r in audit]

    run(scenario())


def _setpoints(app: LiveApp) -> dict[str, float]:
    decision = app.tick()
    return {cid: round(float(a), 2) for cid, a in zip(decision.charger_ids, decision.setpoints_a, strict=True)}


def test_limit_changes_change_the_next_decision_and_survive_a_restart(tmp_path: Path) -> None:
    site_path = write_site(tmp_path)

    async def scenario() -> None:
        clock = Clock()
        async with live_server(site_path, "shadow", clock=clock) as (app, server):
            async with connected(server, "CP-16", Charger16) as cp, connected(server, "CP-201", Charger16) as cs:
                await cp.call(boot16())
                await cs.call(boot16())
                await until(lambda: not app._tasks)
                await _session16(cp)
                await _session16(cs)
                share = 15.0  # equal_share under the car park's 30 A (the 22 kW import allows 15.94 A each)
                assert _setpoints(app) == {"CP-16": share, "CP-201": share}
                await app.operator.set_charger_limit("CP-16", 6.0, WHO)
                assert _setpoints(app) == {"CP-16": 6.0, "CP-201": 16.0}
                await app.operator.set_site_limit("car-park", 20.0, WHO)
                assert _setpoints(app) == {"CP-16": 6.0, "CP-201": 14.0}
                await app.operator.set_charger_limit("CP-16", 0.0, WHO)  # 0 pauses the charger
                assert _setpoints(app) == {"CP-16": 0.0, "CP-201": 16.0}
                await app.operator.set_charger_limit("CP-16", None, WHO)  # back to its rating
                assert _setpoints(app) == {"CP-16": 10.0, "CP-201": 10.0}
        # a restart on the same store re-applies the operator's limits (site limit 20 A)
        site = load_site(site_path)
        with LiveStore(site.store_path) as store:
            app = LiveApp(site, "shadow", store, clock=clock)
            assert _setpoints(app) == {"CP-16": 10.0, "CP-201": 10.0}
            await app.operator.set_site_limit("car-park", None, WHO)  # back to the file's 30 A
            assert _setpoints(app) == {"CP-16": share, "CP-201": share}

    run(scenario())


def test_a_charger_limit_holds_for_a_2_0_1_session(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path), "shadow") as (app, server):
            async with connected(server, "CP-201", Charger201) as cs:
                await cs.call(boot201())
                await until(lambda: not app._tasks)
                await _session201(cs)
                await app.operator.set_charger_limit("CP-201", 12.5, WHO)
                assert _setpoints(app) == {"CP-16": 0.0, "CP-201": 12.5}

    run(scenario())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_reservation_holds_off_another_vehicle_until_it_expires(tmp_path: Path, version: str) -> None:
    """A vehicle with another id tag arrives at a reserved connector: it is plugged in but its
    transaction starts only when the reservation expires (the clock runs 60 times real time)."""
    cid = identity(version)

    async def scenario() -> None:
        clock = SimClock(speed=60.0, origin_s=T0_S)
        async with live_server(write_site(tmp_path), "shadow", clock=clock) as (app, server):  # type: ignore[arg-type]
            charger = Charger(cid, bus=1, phases=3, max_current_a=16.0)
            session = Session("s1", cid, 120.0, 7200.0, 20.0, battery_kwh=60.0, soc_arrival=0.2)
            fleet = build_fleet([charger], [session], BatteryModel("ideal"), clock, ocpp=version,
                                config=ChargerConfig(reconnect_delay_s=0.01))
            running = asyncio.create_task(run_fleet(fleet, server.url, linger=True))
            try:
                await until(lambda: app.tracker.capabilities(cid) is not None)
                expiry_s = fleet[0].clock.at(300.0)
                reserved = await app.operator.reserve(cid, 1, expiry_s, "SOMEONE-ELSE", WHO)
                assert reserved.outcome == "accepted"
                await until(lambda: fleet[0].station.vehicle is not None)  # the vehicle came at 120 s
                assert fleet[0].tx is None and fleet[0].connector_status() == "Preparing"
                started = await stored(lambda: events(app, SessionStarted), 1)
                assert started[0].id_tag == "tag-s1" and started[0].t_s == pytest.approx(expiry_s, abs=1e-3)
                assert fleet[0].reservation is None
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)

    run(scenario())
