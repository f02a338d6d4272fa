"""The live store: WAL mode, every event kind round-trips exactly, writes are invisible to other
readers until ``commit()`` (the point the OCPP layer commits before a reply), and the questions a
restart asks (which links a crash left open, the last transaction id)."""

from __future__ import annotations

import sqlite3
import typing
from pathlib import Path

import pytest

from sim.live.events import (
    Capabilities,
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ChargingNeeds,
    LiveEvent,
    MeterSample,
    SessionEnded,
    SessionStarted,
    StatusChanged,
)
from sim.live.store import EVENT_TYPES, LiveStore, StoreError, event_from_json

ONE_OF_EACH: list[LiveEvent] = [
    ChargerConnected("A", 1.0, "2.0.1"),
    ChargerBooted("A", 2.0, vendor="V", model="M", firmware_version=None, serial_number="S"),
    Capabilities("A", 3.0, smart_charging=True, rate_units=("A", "W"), max_stack_level=3, max_periods_per_schedule=None,
                 number_of_connectors=2),
    StatusChanged("A", 1, 4.0, "Charging", error_code=None),
    SessionStarted("A", 1, "TX-1", 5.0, id_tag="tag", meter_start_wh=12.5),
    MeterSample("A", 1, 6.0, transaction_id="TX-1", power_w=7200.0, energy_wh=100.0, current_a=(10.0, None, 10.5),
                offered_current_a=16.0, soc_percent=None),
    ChargingNeeds("A", "TX-1", 7.0, departure_t_s=9000.0, energy_requested_wh=None),
    SessionEnded("A", "TX-1", 8.0, meter_stop_wh=None, reason="Local"),
    ChargerDisconnected("A", 9.0),
    ChargerConnected("B", 10.0, "1.6"),
    SessionStarted("B", 1, "41", 11.0),
]


def test_every_event_kind_round_trips_exactly_in_order(tmp_path: Path) -> None:
    assert set(EVENT_TYPES) == {cls.__name__ for cls in typing.get_args(LiveEvent)}
    assert {type(e).__name__ for e in ONE_OF_EACH} == set(EVENT_TYPES)
    with LiveStore(tmp_path / "s.sqlite") as store:
        for event in ONE_OF_EACH:
            store.record_event(event)
        store.commit()
    with LiveStore(tmp_path / "s.sqlite") as store:
        assert list(store.events()) == ONE_OF_EACH
        assert store.still_connected() == ["B"]
        assert store.max_transaction_id() == 41


def test_the_store_is_in_wal_mode_and_writes_are_durable_only_after_commit(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with LiveStore(path) as store:
        reader = sqlite3.connect(path)
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.record_frame(1.0, "A", "in", '[2,"1","Heartbeat",{}]')
        store.record_event(ChargerDisconnected("A", 1.0))
        assert reader.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 0  # pending
        store.commit()
        assert reader.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 1
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
        store.commit()  # nothing pending: a no-op
        reader.close()


def test_commands_outcomes_decisions_and_log_are_recorded(tmp_path: Path) -> None:
    import numpy as np

    with LiveStore(tmp_path / "s.sqlite") as store:
        command_id = store.record_command(1.0, "A", "SetChargingProfile", {"connectorId": 0})
        store.record_outcome(command_id, 2.0, "rejected", "Rejected")
        decision_id = store.record_decision(3.0, "shadow", {"setpoints_a": np.array([6.0, 0.0])},
                                            [("A", 6.0, 5.5), ("B", 0.0, 0.0)])
        store.record_log(4.0, "warning", "fell back", "A")
        store.commit()
        assert store.commands() == [{"id": command_id, "t_s": 1.0, "charger_id": "A", "action": "SetChargingProfile",
                                     "payload": {"connectorId": 0}, "outcome": "rejected", "detail": "Rejected"}]
        assert store.decisions() == [{"id": decision_id, "t_s": 3.0, "mode": "shadow",
                                      "data": {"setpoints_a": [6.0, 0.0]}}]
        assert store.setpoints() == [(decision_id, "A", 6.0, 5.5), (decision_id, "B", 0.0, 0.0)]
        assert store.log_lines() == [("warning", "A", "fell back")]


def test_bad_store_settings_and_contents_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"synchronous mode: got 'FAST'; expected one of \('FULL', 'NORMAL'\)"):
        LiveStore(tmp_path / "s.sqlite", synchronous="FAST")
    not_a_db = tmp_path / "notes.sqlite"
    not_a_db.write_text("these are not the droids you are looking for" * 100)
    with pytest.raises(StoreError, match="notes.sqlite: cannot open it as a SQLite database"):
        LiveStore(not_a_db)
    with pytest.raises(StoreError, match="unknown event kind 'Teleported'"):
        event_from_json("Teleported", "{}")
