"""OCPP 1.6J over real websockets on 127.0.0.1: boot, capability read, status, authorize,
start/stop transaction and meter values become the right events, in the store and in the twin;
subprotocol choice, identities and unknown chargers."""

from __future__ import annotations

from pathlib import Path

import pytest
import websockets
from ocpp.v16 import call as call16
from websockets.exceptions import InvalidStatus

from sim.live.events import (
    Capabilities,
    ChargerBooted,
    ChargerConnected,
    MeterSample,
    SessionEnded,
    SessionStarted,
    StatusChanged,
)
from tests.live.server_helpers import Charger16, boot16, connected, live_server, run, until, write_site


def _events_of(app, cls):  # noqa: ANN001, ANN202
    return [e for e in app.store.events() if isinstance(e, cls)]


def test_a_16_session_end_to_end_becomes_events_in_store_and_twin(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (app, server):
            async with connected(server, "CP-16", Charger16) as cp:
                boot = await cp.call(boot16())
                assert boot.status == "Accepted" and boot.interval > 0
                await until(lambda: app.tracker.capabilities("CP-16") is not None)
                assert cp.actions() == ["GetConfiguration"]  # the read ran after the reply, as a task
                assert (await cp.call(call16.Heartbeat())).current_time.endswith("Z")
                await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Preparing",
                                                        timestamp="2027-01-15T08:00:00Z"))
                assert (await cp.call(call16.Authorize(id_tag="TAG-1"))).id_tag_info["status"] == "Accepted"
                started = await cp.call(call16.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=1000,
                                                                timestamp="2027-01-15T08:00:05Z"))
                tx = started.transaction_id
                await cp.call(call16.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{
                    "timestamp": "2027-01-15T08:01:00Z", "sampledValue": [
                        {"value": "3.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                        {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                        {"value": "10.5", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                        {"value": "10.4", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
                        {"value": "10.6", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
                        {"value": "16", "measurand": "Current.Offered", "unit": "A"},
                        {"value": "55", "measurand": "SoC", "unit": "Percent", "location": "EV"}]}]))
                assert app.tracker.measured_current_a()[0] == pytest.approx(10.6)
                assert len(app.tracker.view(app.now_s(), 30.0).sessions) == 1
                stopped = await cp.call(call16.StopTransaction(meter_stop=9000, timestamp="2027-01-15T09:00:00Z",
                                                               transaction_id=tx, reason="EVDisconnected"))
                assert stopped.id_tag_info is None
                assert len(app.tracker.view(app.now_s(), 30.0).sessions) == 0

            assert _events_of(app, ChargerConnected)[0].ocpp_version == "1.6"
            booted = _events_of(app, ChargerBooted)[0]
            assert (booted.vendor, booted.model, booted.firmware_version, booted.serial_number) == (
                "TestVendor", "T16", "1.2.3", "SN16")
            assert _events_of(app, Capabilities)[0] == Capabilities(
                "CP-16", app.now_s(), smart_charging=True, rate_units=("A",), max_stack_level=3,
                max_periods_per_schedule=24, number_of_connectors=1)
            assert _events_of(app, StatusChanged)[0].status == "Preparing"
            assert _events_of(app, StatusChanged)[0].error_code is None
            start = _events_of(app, SessionStarted)[0]
            assert (start.connector_id, start.transaction_id, start.id_tag, start.meter_start_wh) == (
                1, str(tx), "TAG-1", 1000.0)
            sample = _events_of(app, MeterSample)[0]
            assert sample.energy_wh == 3500.0 and sample.power_w == 7200.0
            assert sample.current_a == (10.5, 10.4, 10.6)
            assert (sample.offered_current_a, sample.soc_percent, sample.transaction_id) == (16.0, 55.0, str(tx))
            assert sample.t_s == 1_800_000_060.0  # the charger's timestamp, not the server clock
            end = _events_of(app, SessionEnded)[0]
            assert (end.transaction_id, end.meter_stop_wh, end.reason) == (str(tx), 9000.0, "EVDisconnected")
            # Every frame both ways is in the store, raw and in order: 7 calls + their replies, and
            # the GetConfiguration call with its reply.
            frames = app.store.frames("CP-16")
            assert len(frames) == 2 * 7 + 2
            assert frames[0][1] == "in" and '"BootNotification"' in frames[0][2]
            assert frames[1][1] == "out" and '"Accepted"' in frames[1][2]

    run(scenario())


def test_a_charger_offering_no_subprotocol_speaks_16_and_the_identity_is_the_last_path_segment(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (app, server):
            async with connected(server, "CP-16", Charger16, subprotocols=(), path="ocpp/site-a/") as cp:
                assert cp._connection.subprotocol is None
                assert (await cp.call(boot16())).status == "Accepted"
                assert app.links["CP-16"].ocpp_version == "1.6"

    run(scenario())


def test_transaction_ids_continue_after_a_restart(tmp_path: Path) -> None:
    site = write_site(tmp_path)

    async def one_session() -> int:
        async with live_server(site) as (_, server), connected(server, "CP-16", Charger16) as cp:
            started = await cp.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0,
                                                            timestamp="2027-01-15T08:00:00Z"))
            return int(started.transaction_id)

    assert run(one_session()) == 1
    assert run(one_session()) == 2  # a new process (a new LiveApp on the same store) never reuses an id


def test_an_unknown_charger_is_refused_at_the_handshake_and_the_server_keeps_serving(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (app, server):
            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(f"{server.url}CP-UNKNOWN", subprotocols=["ocpp1.6"])
            assert refused.value.response.status_code == 404
            assert any("CP-UNKNOWN" in message for _, _, message in app.store.log_lines())
            with pytest.raises(InvalidStatus) as no_id:
                await websockets.connect(server.url, subprotocols=["ocpp1.6"])
            assert no_id.value.response.status_code == 404
            with pytest.raises(InvalidStatus) as bad_protocol:
                await websockets.connect(f"{server.url}CP-16", subprotocols=["ocpp2.1"])
            assert bad_protocol.value.response.status_code == 400
            async with connected(server, "CP-16", Charger16) as cp:
                assert (await cp.call(boot16())).status == "Accepted"

    run(scenario())


def test_an_unknown_charger_connects_when_the_site_accepts_unknown_ones(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path, accept_unknown=True)) as (app, server):
            async with connected(server, "CP-NEW", Charger16) as cp:
                assert (await cp.call(boot16())).status == "Accepted"
                await until(lambda: app.tracker.capabilities("CP-NEW") is not None)
                assert "CP-NEW" in app.tracker.chargers.ids

    run(scenario())


def test_a_reconnect_replaces_the_old_link_and_keeps_the_open_session(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (app, server):
            async with connected(server, "CP-16", Charger16) as first:
                started = await first.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0,
                                                                   timestamp="2027-01-15T08:00:00Z"))
                async with connected(server, "CP-16", Charger16) as second:
                    await until(lambda: first._connection.state.name == "CLOSED")
                    assert app.links["CP-16"].id == "CP-16" and app.tracker.is_connected("CP-16")
                    await second.call(call16.MeterValues(connector_id=1, transaction_id=started.transaction_id,
                                                         meter_value=[{"timestamp": "2027-01-15T08:05:00Z",
                                                                       "sampledValue": [{"value": "500"}]}]))
                    view = app.tracker.view(app.now_s(), 30.0)
                    assert view.sessions.session_ids == (f"CP-16:{started.transaction_id}",)
                    assert view.sessions.energy_delivered_kwh[0] > 0

    run(scenario())
