"""OCPP 2.0.1 over real websockets on 127.0.0.1: boot, GetVariables capability read, status,
authorize, TransactionEvent Started/Updated/Ended, MeterValues and NotifyEVChargingNeeds become
the right events, in the store and in the twin."""

from __future__ import annotations

from pathlib import Path

import pytest
from ocpp.v201 import call as call201

from sim.live.events import (
    Capabilities,
    ChargerConnected,
    ChargingNeeds,
    MeterSample,
    SessionEnded,
    SessionStarted,
    StatusChanged,
)
from tests.live.server_helpers import (
    T0_S,
    Charger201,
    boot201,
    connected,
    live_server,
    run,
    until,
    write_site,
)


def _events_of(app, cls):  # noqa: ANN001, ANN202
    return [e for e in app.store.events() if isinstance(e, cls)]


def _transaction_event(event_type: str, seq_no: int, timestamp: str, **extra: object) -> call201.TransactionEvent:
    info = {"transaction_id": "TX-9", **extra.pop("info", {})}  # type: ignore[dict-item]
    return call201.TransactionEvent(event_type=event_type, timestamp=timestamp, trigger_reason="MeterValuePeriodic",
                                    seq_no=seq_no, transaction_info=info, **extra)  # type: ignore[arg-type]


def _meter(timestamp: str, energy_wh: float, current_a: float | None = None) -> list[dict[str, object]]:
    values: list[dict[str, object]] = [{"value": energy_wh / 1000, "measurand": "Energy.Active.Import.Register",
                                        "unit_of_measure": {"unit": "kWh"}}]
    if current_a is not None:
        values += [{"value": current_a, "measurand": "Current.Import", "phase": p} for p in ("L1", "L2", "L3")]
        values.append({"value": 11.0, "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "W",
                                                                                             "multiplier": 3}})
    return [{"timestamp": timestamp, "sampled_value": values}]


def test_a_201_session_end_to_end_becomes_events_in_store_and_twin(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (app, server):
            async with connected(server, "CP-201", Charger201) as cs:
                assert (await cs.call(boot201())).status == "Accepted"
                await until(lambda: app.tracker.capabilities("CP-201") is not None)
                assert cs.actions() == ["GetVariables"]
                assert cs.received[0][1]["data"][0]["component"] == {"name": "SmartChargingCtrlr"}
                await cs.call(call201.StatusNotification(timestamp="2027-01-15T08:00:00Z", connector_status="Occupied",
                                                         evse_id=1, connector_id=1))
                auth = await cs.call(call201.Authorize(id_token={"id_token": "TAG-2", "type": "ISO14443"}))
                assert auth.id_token_info["status"] == "Accepted"
                started = await cs.call(_transaction_event(
                    "Started", 0, "2027-01-15T08:00:10Z", evse={"id": 1, "connector_id": 1},
                    id_token={"id_token": "TAG-2", "type": "ISO14443"}, meter_value=_meter("2027-01-15T08:00:10Z", 2000),
                    info={"charging_state": "EVConnected"}))
                assert started.id_token_info["status"] == "Accepted"
                needs = await cs.call(call201.NotifyEVChargingNeeds(
                    evse_id=1, charging_needs={"requested_energy_transfer": "AC_three_phase",
                                               "departure_time": "2027-01-15T12:00:00Z",
                                               "ac_charging_parameters": {"energy_amount": 20000, "ev_min_current": 6,
                                                                          "ev_max_current": 16,
                                                                          "ev_max_voltage": 400}}))
                assert needs.status == "Accepted"
                # Updated names no EVSE: the server knows the transaction's EVSE from Started.
                await cs.call(_transaction_event("Updated", 1, "2027-01-15T08:10:00Z",
                                                 meter_value=_meter("2027-01-15T08:10:00Z", 3800, 15.8),
                                                 info={"charging_state": "Charging"}))
                await cs.call(call201.MeterValues(evse_id=1, meter_value=_meter("2027-01-15T08:11:00Z", 4000, 15.9)))
                view = app.tracker.view(T0_S + 660, 30.0)
                assert view.sessions.session_ids == ("CP-201:TX-9",)
                assert view.sessions.departure_s[0] == T0_S + 4 * 3600
                assert view.sessions.energy_requested_kwh[0] == pytest.approx(20.0)
                assert app.tracker.measured_current_a()[1] == pytest.approx(15.9)
                await cs.call(_transaction_event("Ended", 2, "2027-01-15T09:00:00Z",
                                                 meter_value=_meter("2027-01-15T09:00:00Z", 12000),
                                                 info={"stopped_reason": "EVDisconnected"}))
                assert len(app.tracker.view(T0_S + 3600, 30.0).sessions) == 0

            assert _events_of(app, ChargerConnected)[0].ocpp_version == "2.0.1"
            assert _events_of(app, Capabilities)[0] == Capabilities(
                "CP-201", app.now_s(), smart_charging=True, rate_units=("A", "W"), max_stack_level=5,
                max_periods_per_schedule=12)
            statuses = [(e.connector_id, e.status) for e in _events_of(app, StatusChanged)]
            assert statuses == [(1, "Occupied"), (1, "Charging")]
            start = _events_of(app, SessionStarted)[0]
            assert (start.connector_id, start.transaction_id, start.id_tag, start.meter_start_wh) == (
                1, "TX-9", "TAG-2", 2000.0)
            samples = _events_of(app, MeterSample)
            assert [s.energy_wh for s in samples] == [2000.0, 3800.0, 4000.0, 12000.0]
            assert samples[1].current_a == (15.8, 15.8, 15.8) and samples[1].power_w == 11000.0
            assert samples[2].transaction_id == "TX-9"  # MeterValues names only the EVSE
            assert _events_of(app, ChargingNeeds)[0].energy_requested_wh == 20000
            end = _events_of(app, SessionEnded)[0]
            assert (end.meter_stop_wh, end.reason) == (12000.0, "EVDisconnected")

    run(scenario())


def test_an_updated_event_for_a_transaction_never_seen_starting_starts_the_session(tmp_path: Path) -> None:
    # feedertwin started mid-session (or the station was offline): the vehicle must still be seen.
    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (app, server):
            async with connected(server, "CP-201", Charger201) as cs:
                await cs.call(_transaction_event("Updated", 7, "2027-01-15T08:30:00Z", evse={"id": 1},
                                                 meter_value=_meter("2027-01-15T08:30:00Z", 5000, 10.0)))
                assert app.tracker.view(T0_S + 1800, 30.0).sessions.session_ids == ("CP-201:TX-9",)
                assert _events_of(app, SessionStarted)[0].meter_start_wh == 5000.0

    run(scenario())


def test_a_201_station_may_also_offer_16_and_gets_201(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with live_server(write_site(tmp_path)) as (app, server):
            async with connected(server, "CP-201", Charger201, subprotocols=("ocpp2.0.1", "ocpp1.6")) as cs:
                assert cs._connection.subprotocol == "ocpp2.0.1"
                assert (await cs.call(boot201())).status == "Accepted"
                assert app.links["CP-201"].ocpp_version == "2.0.1"

    run(scenario())
