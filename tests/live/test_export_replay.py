"""Export and replay of a live store.

The store is filled by a real live run: two simulated chargers (one 1.6, one 2.0.1, sped up) play
their sessions over websockets against ``LiveApp`` in shadow mode, so they charge uncontrolled and
the store holds what they really sent. Then ``feedertwin export`` must give those sessions and
meter values as Parquet, and ``feedertwin replay`` must run them through the simulator:
``uncontrolled`` delivers what was measured at the measured peak; a limiting strategy keeps the
site limit the measured run broke; the report shows that comparison (table and figure), read back
from the HTML and checked against ``summary.json``. ``recorded_sessions`` is also checked on hand-written events
(a charger without an energy register, a sample without a transaction id, a session still open).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.domain import BatteryModel, Session
from sim.live.app import LiveApp
from sim.live.chargepoint import ChargerConfig, SimClock, run_fleet
from sim.live.chargepoint.fleet import build_fleet
from sim.live.events import MeterSample, SessionEnded, SessionStarted
from sim.live.recorded import metered_power_kw, recorded_sessions, to_domain_sessions
from sim.live.server import LiveServer
from sim.live.site_file import load_site
from sim.live.store import LiveStore, record_site_file
from sim.report.replay_section import MEASURED_POWER_COLUMN
from tests.live.server_helpers import T0_S, run
from tests.report.replay_html import check_replay_section, number

SITE_TOML = """
name = "replay-site"
store = "store.sqlite"

[control]
period_s = 300

[site]
import_limit_kw = 16

[[chargers]]
id = "CP-A"
bus = 1
phases = 3
max_current_a = 16

[[chargers]]
id = "CP-B"
bus = 1
phases = 3
max_current_a = 16

[strategy]
name = "equal_share"
"""

SESSIONS = (  # seconds after T0_S; the two overlap, so together they break the 16 kW limit uncontrolled
    Session("s1", "CP-A", 600.0, 3 * 3600.0, 20.0, battery_kwh=60.0, soc_arrival=0.2),
    Session("s2", "CP-B", 1200.0, 4 * 3600.0, 15.0, battery_kwh=60.0, soc_arrival=0.3),
)


@pytest.fixture(scope="module")
def recorded_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site file whose store holds a real shadow-mode live run of ``SESSIONS``."""
    directory = tmp_path_factory.mktemp("replay")
    site_path = directory / "site.toml"
    site_path.write_text(SITE_TOML)
    site = load_site(site_path)

    async def play() -> None:
        clock = SimClock(speed=20_000.0, origin_s=T0_S)
        with LiveStore(site.store_path) as store:
            app = LiveApp(site, "shadow", store, clock=clock.now_s)
            record_site_file(store, site_path, app.now_s())  # as `feedertwin live` does at its start
            server = LiveServer(app, "127.0.0.1", 0)
            await server.start()
            try:
                fleet = build_fleet(site.chargers.chargers, SESSIONS, BatteryModel("ideal", 0.8), clock, ocpp="mixed",
                                    config=ChargerConfig(meter_interval_s=300.0, update_interval_s=300.0))
                await run_fleet(fleet, server.url)
                assert all(c.stats.call_errors == 0 for c in fleet)
            finally:
                await server.close()
                await app.close()

    run(play())
    return site_path


def test_export_writes_the_recorded_sessions_and_meter_values(recorded_site: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    store = recorded_site.parent / "store.sqlite"
    assert main(["export", str(store), "--out", str(tmp_path)]) == 0
    assert "2 sessions" in capsys.readouterr().out
    sessions = pd.read_parquet(tmp_path / "sessions.parquet").set_index("charger_id")
    assert list(sessions.index) == ["CP-A", "CP-B"] and sessions["ended"].all()
    for s in SESSIONS:  # vehicles full long before they leave: the meter counts the energy grid side
        row = sessions.loc[s.charger_id]
        assert row["energy_metered_kwh"] == pytest.approx(s.energy_kwh / 0.95, rel=0.01)
        assert row["arrival"].timestamp() == pytest.approx(T0_S + s.arrival_s, abs=1.0)
        assert row["departure"].timestamp() == pytest.approx(T0_S + s.departure_s, abs=1.0)
    meters = pd.read_parquet(tmp_path / "meter_values.parquet")
    assert set(meters["charger_id"]) == {"CP-A", "CP-B"} and len(meters) >= 10
    assert str(meters["time"].dt.tz) == "UTC" and meters["energy_wh"].notna().all()


def test_replay_uncontrolled_matches_what_was_measured(recorded_site: Path, tmp_path: Path) -> None:
    store = recorded_site.parent / "store.sqlite"
    assert main(["replay", str(store), "--site", str(recorded_site), "--strategy", "uncontrolled", "--grid", "cigre_lv",
                 "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    replay = summary["replay"]
    measured, simulated = replay["measured"], replay["simulated"]
    assert replay["strategy"] == "uncontrolled" and measured["n_sessions"] == simulated["n_sessions"] == 2
    assert measured["energy_delivered_kwh"] == pytest.approx(35.0, rel=0.01)
    assert simulated["energy_delivered_kwh"] == pytest.approx(measured["energy_delivered_kwh"], rel=0.01)
    assert simulated["peak_charging_kw"] == pytest.approx(measured["peak_charging_kw"], rel=0.03)
    assert measured["minutes_site_limit_violation"] > 0  # two 11 kW chargers under a 16 kW limit
    _check_measured_power(tmp_path, summary)
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    rows = check_replay_section(report, replay)
    assert rows["Sessions"][1:] == ["2", "2", "0", "0.0 %"]


def _check_measured_power(out_dir: Path, summary: dict) -> None:
    """The measured power replay stored is the one its summary was computed from: its peak, and
    its energy (grid side) the metered one."""
    timeseries = pd.read_parquet(out_dir / "timeseries.parquet")
    measured_kw = timeseries[MEASURED_POWER_COLUMN]
    assert measured_kw.max() == pytest.approx(summary["replay"]["measured"]["peak_charging_kw"])
    energy_kwh = measured_kw.sum() * summary["record_period_s"] / 3600.0
    assert energy_kwh == pytest.approx(summary["replay"]["measured"]["energy_delivered_kwh"] / 0.95, rel=1e-6)


def test_replay_with_the_site_strategy_keeps_the_limit_measured_run_broke(recorded_site: Path, tmp_path: Path) -> None:
    store = recorded_site.parent / "store.sqlite"  # no --site: the site file recorded in the store
    assert main(["replay", str(store), "--grid", "cigre_lv", "--out", str(tmp_path), "--no-report"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    replay = summary["replay"]
    assert replay["strategy"] == "equal_share"
    assert replay["simulated"]["minutes_site_limit_violation"] == 0 < replay["measured"]["minutes_site_limit_violation"]
    assert replay["simulated"]["peak_charging_kw"] <= 16.0 + 1e-6 < replay["measured"]["peak_charging_kw"]
    assert replay["simulated"]["energy_delivered_kwh"] == pytest.approx(35.0, rel=0.01)  # long dwell: all served
    _check_measured_power(tmp_path, summary)
    assert not (tmp_path / "report.html").exists()
    assert main(["report", str(tmp_path)]) == 0  # the report from the stored results shows the comparison too
    rows = check_replay_section((tmp_path / "report.html").read_text(encoding="utf-8"), replay)
    limit_minutes = rows["Time with a site limit broken"]
    assert number(limit_minutes[2]) == 0 and number(limit_minutes[3]) < 0 and limit_minutes[4] == "-100.0 %"
    assert number(rows["Peak charging power"][3]) < 0


def test_export_and_replay_refuse_a_missing_or_foreign_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE_TOML)
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database" * 100)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    cases = [
        (["export", str(tmp_path / "none.sqlite"), "--out", str(tmp_path)], "none.sqlite: no such file"),
        (["export", str(text), "--out", str(tmp_path)], "notes.sqlite: cannot open it as a SQLite database"),
        (["replay", str(other), "--site", str(site)], "other.sqlite: not a feedertwin live store"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        assert message in capsys.readouterr().err


def test_replay_says_what_is_missing(recorded_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = recorded_site.parent / "store.sqlite"
    assert main(["replay", str(store), "--out", str(tmp_path)]) == 2
    assert "has no [grid]; replay needs a feeder: give --grid NETWORK" in capsys.readouterr().err
    with LiveStore(tmp_path / "empty.sqlite"):
        pass
    assert main(["replay", str(tmp_path / "empty.sqlite"), "--grid", "cigre_lv"]) == 2
    assert "no site file recorded in it" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "empty.sqlite"), "--site", str(recorded_site), "--grid", "cigre_lv"]) == 2
    assert "no recorded session to replay" in capsys.readouterr().err


def test_recorded_sessions_from_hand_written_events() -> None:
    events = [
        SessionStarted("A", 1, "1", 0.0, meter_start_wh=1000.0),
        MeterSample("A", 1, 1800.0, transaction_id=None, energy_wh=4000.0),  # no tx id: the open one on A/1
        SessionEnded("A", "1", 3600.0, meter_stop_wh=6000.0),
        SessionStarted("B", 1, "T9", 0.0),  # no register: the power integral
        MeterSample("B", 1, 0.0, transaction_id="T9", power_w=7200.0),
        MeterSample("B", 1, 1800.0, transaction_id="T9", power_w=3600.0),
        MeterSample("B", 1, 2700.0, transaction_id="T9", power_w=0.0),  # B is still open when the store ends
    ]
    a, b = recorded_sessions(events)
    assert (a.session_id, a.metered_wh, a.ended, a.departure_t_s) == ("A:1", 5000.0, True, 3600.0)
    assert (b.session_id, b.metered_wh, b.ended, b.departure_t_s) == ("B:T9", 4500.0, False, 3600.0)  # the last event
    sessions = to_domain_sessions([a, b], -600.0, {"A": 0.9, "B": 1.0})
    assert [(s.arrival_s, s.departure_s, s.energy_kwh) for s in sessions] == [(600.0, 4200.0, 4.5), (600.0, 4200.0, 4.5)]
    p_kw = metered_power_kw([a, b], ["A", "B"], [0.0, 1800.0, 3600.0])
    assert p_kw[0].tolist() == pytest.approx([6.0, 7.2]) and p_kw[1].tolist() == pytest.approx([4.0, 1.8])


def test_replay_refuses_a_site_file_without_the_recorded_chargers(recorded_site: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    other_site = tmp_path / "other.toml"
    other_site.write_text(SITE_TOML.replace('"CP-A"', '"CP-X"'))
    store = recorded_site.parent / "store.sqlite"
    assert main(["replay", str(store), "--site", str(other_site), "--grid", "cigre_lv", "--out", str(tmp_path)]) == 2
    assert "sessions on charger 'CP-A', which the site file" in capsys.readouterr().err


def test_feedertwin_live_records_its_site_file_in_the_store(tmp_path: Path) -> None:
    from sim.live.store import read_site_file
    from tests.live.server_helpers import write_site
    from tests.live.test_server_cli import start_live

    site = write_site(tmp_path)
    process, _ = start_live(site, tmp_path / "live.log")
    process.terminate()
    assert process.wait(timeout=30) == 0
    assert read_site_file(tmp_path / "store.sqlite") == (site.resolve(), site.read_text())
