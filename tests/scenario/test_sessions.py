"""Session sources: the generator, the CSV and ACN-Data readers, windowing, and the vehicle catalogue."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.domain import Charger, ChargerTable
from sim.errors import DataError, ScenarioError
from sim.scenario.schema import (
    BUILTIN_KINDS,
    BatterySpec,
    FleetSpec,
    GridSpec,
    Scenario,
    SimulationSpec,
    StrategySpec,
)
from sim.scenario.sessions import SessionSet, build_sessions
from sim.scenario.vehicles import VEHICLE_NAMES, VEHICLES, get_vehicles

DATA = Path(__file__).resolve().parents[1] / "data" / "sessions"
MALFORMED = sorted(p for p in (DATA / "malformed").iterdir() if p.suffix in (".csv", ".json"))
CET = timezone(timedelta(hours=1))
PDT = timezone(timedelta(hours=-7))


def make_scenario(
    *,
    start: datetime = datetime(2024, 3, 4, tzinfo=CET),
    duration_s: float = 2 * 86400.0,
    fleet: FleetSpec | None = None,
    path: Path | None = Path("/scenarios/test.toml"),
) -> Scenario:
    return Scenario(
        name="test",
        path=path,
        simulation=SimulationSpec(start=start, duration_s=duration_s, control_period_s=60.0, seed=1),
        grid=GridSpec(network="cigre_lv"),
        chargers=(),
        fleet=fleet or FleetSpec(),
        battery=BatterySpec(),
        strategy=StrategySpec(),
    )


def make_chargers(ids: list[str], kinds: list[str] | None = None) -> ChargerTable:
    kinds = kinds or ["home"] * len(ids)
    return ChargerTable(
        tuple(Charger(cid, bus=i, kind=k) for i, (cid, k) in enumerate(zip(ids, kinds, strict=True)))
    )


def from_file(file: Path, chargers: ChargerTable, assign: str = "by_id", **kw: object) -> SessionSet:
    source = "csv" if file.suffix == ".csv" else "acn"
    scenario = make_scenario(fleet=FleetSpec(source=source, file=file, assign=assign), **kw)  # type: ignore[arg-type]
    return build_sessions(scenario, chargers, ["home"] * len(chargers), np.random.default_rng(0))


# ---------------------------------------------------------------- malformed files


@pytest.mark.parametrize("file", MALFORMED, ids=[p.name for p in MALFORMED])
def test_malformed_file_gives_a_clear_data_error(file: Path) -> None:
    ids = ["cp1", "cp2", "cp3"] if file.suffix == ".csv" else ["CA-303", "CA-305", "CA-307"]
    assign = "in_order" if "in_order" in file.name else "by_id"
    with pytest.raises(DataError) as info:
        from_file(file, make_chargers(ids), assign=assign)
    message = str(info.value)
    expected = [line for line in file.with_suffix(".expected").read_text().splitlines() if line.strip()]
    assert expected, f"{file.name} has no .expected lines"
    assert file.name in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_there_are_enough_malformed_cases() -> None:
    assert len(MALFORMED) >= 12
    assert {p.suffix for p in MALFORMED} == {".csv", ".json"}
    assert all(p.with_suffix(".expected").is_file() for p in MALFORMED)


# ---------------------------------------------------------------- good CSV


def test_good_csv_parses_windows_and_fills_battery() -> None:
    result = from_file(DATA / "sessions_good.csv", make_chargers(["cp1", "cp2", "cp3"]))
    by_id = {s.session_id: s for s in result.sessions}
    assert result.source.startswith("csv:") and result.source.endswith("sessions_good.csv")
    assert sorted(by_id) == ["s001", "s002", "s003", "s004", "s005", "s007", "s008", "s009"]
    assert (result.outside_window, result.truncated) == (
        1,
        2,
    )  # s006 before; s007 after end, s008 before start
    assert [(s.arrival_s, s.session_id) for s in result.sessions] == sorted(
        (s.arrival_s, s.session_id) for s in result.sessions
    )
    s1 = by_id["s001"]
    assert (s1.charger_id, s1.arrival_s, s1.departure_s) == ("cp1", 7.75 * 3600, 17 * 3600 + 600)
    assert (s1.energy_kwh, s1.max_power_kw, s1.battery_kwh, s1.soc_arrival) == (18.5, 11.0, 58.0, 0.3)
    s2 = by_id["s002"]  # no vehicle data: default battery, request fills it to 95 %
    assert math.isinf(s2.max_power_kw) and s2.battery_kwh == 60.0
    assert s2.soc_arrival == pytest.approx((0.95 * 60 - 7.25) / 60)
    assert by_id["s003"].soc_arrival == pytest.approx((0.95 * 40 - 12) / 40)  # battery given, soc filled
    assert by_id["s004"].arrival_s == 9 * 3600  # naive time read in the start's zone (+01:00)
    assert by_id["s005"].arrival_s == 14 * 3600  # 13:00Z
    assert by_id["s005"].soc_arrival == 0.45
    assert by_id["s007"].departure_s == 2 * 86400.0  # clipped to the window end
    assert (by_id["s008"].arrival_s, by_id["s008"].departure_s) == (0.0, 6 * 3600)  # clipped to the start
    assert by_id["s009"].energy_kwh == 0.0 and by_id["s009"].soc_arrival == pytest.approx(0.95)


def test_csv_in_order_maps_first_appearance_to_charger_order() -> None:
    result = from_file(DATA / "sessions_good.csv", make_chargers(["a", "b", "c"]), assign="in_order")
    by_id = {s.session_id: s.charger_id for s in result.sessions}
    assert (by_id["s001"], by_id["s002"], by_id["s004"]) == ("a", "b", "c")


def test_relative_session_file_is_read_from_the_scenario_folder() -> None:
    fleet = FleetSpec(source="csv", file=Path("sessions_good.csv"))
    scenario = make_scenario(fleet=fleet, path=DATA / "scenario.toml")
    result = build_sessions(
        scenario, make_chargers(["cp1", "cp2", "cp3"]), ["home"] * 3, np.random.default_rng(0)
    )
    assert len(result) == 8


@pytest.mark.parametrize(
    ("fleet", "key"),
    [
        (FleetSpec(source="csv", file=None), "fleet.file"),
        (FleetSpec(source="csv", file=Path("/nonexistent/sessions.csv")), "fleet.file"),
        (FleetSpec(source="parquet"), "fleet.source"),
        (FleetSpec(source="acn", file=DATA / "acn_caltech_good.json", assign="by_name"), "fleet.assign"),
    ],
)
def test_bad_fleet_table_is_a_scenario_error(fleet: FleetSpec, key: str) -> None:
    with pytest.raises(ScenarioError) as info:
        build_sessions(make_scenario(fleet=fleet), make_chargers(["cp1"]), ["home"], np.random.default_rng(0))
    assert info.value.key == key and "test.toml" in str(info.value)


# ---------------------------------------------------------------- ACN-Data


ACN_SPACES = ["CA-303", "CA-305", "CA-307", "CA-309", "CA-311", "CA-313"]


def acn_result(assign: str = "by_id", ids: list[str] | None = None) -> SessionSet:
    return from_file(
        DATA / "acn_caltech_good.json",
        make_chargers(ids or ACN_SPACES),
        assign=assign,
        start=datetime(2018, 4, 25, tzinfo=PDT),
    )


def test_acn_export_parses_and_windows() -> None:
    result = acn_result()
    assert len(result) == 18 and result.outside_window == 2 and result.truncated == 1
    first = result.sessions[0]  # Wed, 25 Apr 2018 14:48:30 GMT = 07:48:30 PDT
    assert first.session_id == "2_39_79_364_2018-04-25 14:48:30.400949"
    assert first.charger_id == "CA-303"
    assert first.arrival_s == 7 * 3600 + 48 * 60 + 30
    assert first.energy_kwh == 20.0  # userInputs' kWhRequested, not kWhDelivered (14.507)
    assert first.battery_kwh == 60.0 and first.soc_arrival == pytest.approx((57 - 20) / 60)
    by_id = {s.session_id: s for s in result.sessions}
    multi = next(s for s in by_id.values() if s.arrival_s == 11 * 3600 + 8 * 60 + 4)
    assert multi.energy_kwh == 8.0  # the last of two user inputs
    no_input = next(s for s in by_id.values() if s.arrival_s == 8 * 3600 + 5 * 60 + 42)
    assert no_input.energy_kwh == 4.901
    assert max(s.departure_s for s in result.sessions) == 2 * 86400.0
    assert all(math.isinf(s.max_power_kw) for s in result.sessions)


def test_acn_in_order_and_too_few_chargers() -> None:
    result = acn_result("in_order", [f"cp{i}" for i in range(6)])
    first = {s.session_id: s.charger_id for s in result.sessions}
    assert first["2_39_79_364_2018-04-25 14:48:30.400949"] == "cp0"  # CA-303 appears first
    with pytest.raises(DataError, match=r"record 6 \(_items\[5\]\), field 'spaceID'.*'CA-309'"):
        acn_result("in_order", ["cp0", "cp1", "cp2"])


def test_acn_accepts_a_bare_list_and_iso_times(tmp_path: Path) -> None:
    file = tmp_path / "acn.json"
    file.write_text(
        '[{"sessionID": "x", "spaceID": "CA-303", "connectionTime": "2018-04-25T08:00:00-07:00",'
        ' "disconnectTime": "2018-04-25T10:00:00", "kWhDelivered": 3, "userInputs": []}]'
    )
    (session,) = acn_result_for(file).sessions
    assert (session.arrival_s, session.departure_s, session.energy_kwh) == (8 * 3600, 10 * 3600, 3.0)


def acn_result_for(file: Path) -> SessionSet:
    return from_file(file, make_chargers(ACN_SPACES), start=datetime(2018, 4, 25, tzinfo=PDT))


# ---------------------------------------------------------------- generator


def generated(
    n_chargers: int = 6,
    days: float = 14,
    seed: int = 7,
    fleet: FleetSpec | None = None,
    kinds: list[str] | None = None,
) -> SessionSet:
    ids = [f"cp{i}" for i in range(n_chargers)]
    kinds = kinds or [("home", "work", "public")[i % 3] for i in range(n_chargers)]
    scenario = make_scenario(duration_s=days * 86400.0, fleet=fleet)
    return build_sessions(scenario, make_chargers(ids, kinds), kinds, np.random.default_rng(seed))


def check_invariants(result: SessionSet, duration_s: float) -> None:
    sessions = result.sessions
    assert [(s.arrival_s, s.session_id) for s in sessions] == sorted(
        (s.arrival_s, s.session_id) for s in sessions
    )
    assert len({s.session_id for s in sessions}) == len(sessions)
    capacity = {v.name: v.battery_kwh for v in VEHICLES}
    for s in sessions:
        assert 0.0 <= s.arrival_s < duration_s and s.arrival_s < s.departure_s <= duration_s
        assert s.departure_s == duration_s or s.duration_s >= 15 * 60 - 1e-6
        assert 0.1 <= s.soc_arrival <= 0.7
        assert 0.5 <= s.energy_kwh <= s.battery_kwh * (0.95 - s.soc_arrival) + 1e-9
        assert s.battery_kwh in capacity.values()
        assert s.session_id.startswith(s.charger_id + "-")
    by_charger: dict[str, list] = {}
    for s in sessions:
        by_charger.setdefault(s.charger_id, []).append(s)
    for group in by_charger.values():
        for earlier, later in zip(group, group[1:], strict=False):
            assert later.arrival_s >= earlier.departure_s  # one vehicle at a time


def test_generate_is_deterministic_and_sound() -> None:
    a, b = generated(), generated()
    assert a == b and a.source == "generate" and a.outside_window == 0
    assert generated(seed=8) != a
    assert len(a) > 20
    check_invariants(a, 14 * 86400.0)
    assert a.sessions[0].session_id.endswith("-00001")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), days=st.floats(0.2, 9.0), n=st.integers(0, 4))
def test_generate_invariants_hold_for_any_seed(seed: int, days: float, n: int) -> None:
    check_invariants(generated(n_chargers=n, days=days, seed=seed), days * 86400.0)


def test_generate_across_a_daylight_saving_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    fleet = FleetSpec(kinds={"work": dataclasses.replace(BUILTIN_KINDS["work"], arrival_h_std=0.0)})
    scenario = make_scenario(start=datetime(2024, 3, 25, tzinfo=berlin), duration_s=14 * 86400.0, fleet=fleet)
    result = build_sessions(scenario, make_chargers(["w1"], ["work"]), ["work"], np.random.default_rng(3))
    check_invariants(result, 14 * 86400.0)
    start = scenario.simulation.start
    local_hours = {
        (start.astimezone(UTC) + timedelta(seconds=s.arrival_s)).astimezone(berlin).hour
        for s in result.sessions
    }
    assert local_hours == {8}  # 08:30 local before and after the switch on March 31


def test_generate_rate_follows_the_kind() -> None:
    # public: short dwell, so few draws are dropped for overlap; 3 sessions/day on weekdays
    fleet = FleetSpec(kinds={"public": dataclasses.replace(BUILTIN_KINDS["public"], weekend_factor=0.0)})
    result = generated(n_chargers=4, days=70, fleet=fleet, kinds=["public"] * 4)
    per_day = len(result) / (4 * 50)  # 70 days from a Monday: 50 weekdays
    assert 2.0 < per_day <= 3.3
    weekdays = {
        (datetime(2024, 3, 4, tzinfo=CET) + timedelta(seconds=s.arrival_s)).weekday() for s in result.sessions
    }
    assert weekdays <= {0, 1, 2, 3, 4}


def test_generate_draws_only_the_named_vehicles() -> None:
    result = generated(fleet=FleetSpec(vehicles=("Nissan Leaf", "Renault Zoe")))
    assert {(s.max_power_kw, s.battery_kwh) for s in result.sessions} == {(3.7, 40.0), (22.0, 52.0)}


def test_generate_errors_name_the_scenario_key() -> None:
    with pytest.raises(
        ScenarioError, match=r"test\.toml: fleet\.vehicles\[1\]: unknown vehicle.*'Tesla Model S'"
    ):
        generated(fleet=FleetSpec(vehicles=("VW ID.3", "Tesla Model S")))
    with pytest.raises(ScenarioError, match=r"unknown charger kind; got 'depot'"):
        generated(n_chargers=1, kinds=["depot"])
    bad = dataclasses.replace(BUILTIN_KINDS["home"], dwell_h_std=-1.0)
    with pytest.raises(ScenarioError, match=r"fleet\.kinds\.home\.dwell_h_std"):
        generated(fleet=FleetSpec(kinds={"home": bad}))


def test_generate_with_no_chargers_is_empty() -> None:
    assert generated(n_chargers=0).sessions == ()


# ---------------------------------------------------------------- vehicles


def test_catalogue_shares_and_lookup() -> None:
    assert len(VEHICLES) == 8 and math.isclose(sum(v.share for v in VEHICLES), 1.0)
    assert get_vehicles([]) == VEHICLES
    assert [v.name for v in get_vehicles(["Renault Zoe", "VW ID.3"])] == ["Renault Zoe", "VW ID.3"]
    with pytest.raises(ScenarioError) as info:
        get_vehicles(["VW ID.3", "Trabant"], "site.toml")
    message = str(info.value)
    assert message.startswith("site.toml: fleet.vehicles[1]: unknown vehicle; got 'Trabant'")
    assert all(repr(name) in message for name in VEHICLE_NAMES)
    assert get_vehicles(["vw_id3", "tesla-model-3", "SKODA ENYAQ"]) == (VEHICLES[0], VEHICLES[1], VEHICLES[7])
    with pytest.raises(ScenarioError, match="listed twice"):
        get_vehicles(["VW ID.3", "vw_id3"])
    with pytest.raises(ScenarioError, match="listed twice"):
        get_vehicles(["BMW i3", "BMW i3"])
