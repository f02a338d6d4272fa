"""Valid scenario files: defaults, overrides, durations, zones, hashing, save/load round trips."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim.scenario
from sim.errors import ScenarioError
from sim.scenario import (
    BUILTIN_SCENARIOS_DIR,
    default_scenario_path,
    format_duration,
    load_scenario,
    parse_duration,
    save_scenario,
    scenario_from_dict,
    scenario_hash,
)
from sim.scenario.overrides import parse_value
from sim.scenario.schema import BUILTIN_KINDS, NETWORK_NAMES, BatterySpec, StrategySpec

ROOT = Path(__file__).resolve().parents[2]

MINIMAL_TOML = """\
[simulation]
start = 2026-01-12T00:00:00+01:00
duration = "1d"
control_period_s = 300

[grid]
network = "cigre_lv"

[[chargers]]
id = "cp1"
bus = 3

[fleet]
"""


def minimal() -> dict[str, Any]:
    return {
        "simulation": {"start": datetime(2026, 1, 12, tzinfo=timezone(timedelta(hours=1))),
                       "duration": "1d", "control_period_s": 300},
        "grid": {"network": "cigre_lv"},
        "chargers": [{"id": "cp1", "bus": 3}],
        "fleet": {},
    }


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults -----------------------------------------------------------------------------------


def test_minimal_file_gets_every_default(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path / "my-feeder.toml", MINIMAL_TOML))
    assert sc.name == "my-feeder"
    assert sc.path == (tmp_path / "my-feeder.toml").resolve()
    assert sc.description == ""
    assert sc.simulation.duration_s == 86400.0 and sc.simulation.control_period_s == 300.0
    assert sc.simulation.seed == 0
    assert sc.grid.network == "cigre_lv" and sc.grid.simbench is None and sc.grid.file is None
    assert (sc.grid.base_load.profile, sc.grid.base_load.scale) == ("household", 1.0)
    assert sc.grid.pv is None and sc.grid.loadflow == "fast"
    (cp,) = sc.chargers
    assert (cp.charger_id, cp.bus, cp.place, cp.phases, cp.phase) == ("cp1", 3, None, 3, "L1L2L3")
    assert (cp.max_current_a, cp.min_current_a, cp.efficiency, cp.kind) == (16.0, 6.0, 0.95, "home")
    assert sc.fleet.source == "generate" and sc.fleet.file is None and sc.fleet.vehicles == ()
    assert sc.fleet.kinds == BUILTIN_KINDS
    assert sc.battery == BatterySpec() and sc.strategy == StrategySpec()


def test_dict_without_path_is_named_scenario_and_errors_name_dict() -> None:
    assert scenario_from_dict(minimal()).name == "scenario"
    data = minimal()
    data["simulation"]["seed"] = -3
    with pytest.raises(ScenarioError, match=r"^<dict>: simulation.seed: out of range; got -3"):
        scenario_from_dict(data)


def test_simbench_grid_defaults_to_simbench_profiles() -> None:
    data = minimal()
    data["grid"] = {"simbench": "1-LV-rural1--0-sw"}
    assert scenario_from_dict(data).grid.base_load.profile == "simbench"


def test_charger_defaults_depend_on_phases_and_limits() -> None:
    data = minimal()
    data["chargers"] = [
        {"id": "a", "bus": 1, "phases": 1},
        {"id": "b", "bus": 2, "max_current_a": 4.5},
        {"place": "random_load_buses", "count": 3, "phases": 1, "phase": "L2", "kind": "public"},
        {"place": "per_load_bus", "id_prefix": "hh", "phase": "L1L2L3"},
    ]
    a, b, rule1, rule2 = scenario_from_dict(data).chargers
    assert a.phase == "random"
    assert b.min_current_a == 4.5  # the default 6 A is capped at max_current_a
    assert (rule1.place, rule1.count, rule1.id_prefix, rule1.phase, rule1.kind) == (
        "random_load_buses", 3, "cp", "L2", "public")
    assert (rule2.place, rule2.share, rule2.count, rule2.id_prefix) == ("per_load_bus", 1.0, None, "hh")


def test_kind_overrides_merge_with_builtin_kinds() -> None:
    data = minimal()
    data["fleet"] = {"kinds": {"work": {"dwell_h_mean": 6, "weekend_factor": 0}}}
    kinds = scenario_from_dict(data).fleet.kinds
    assert set(kinds) == {"home", "work", "public"}
    assert kinds["home"] == BUILTIN_KINDS["home"]
    assert kinds["work"] == dataclasses.replace(BUILTIN_KINDS["work"], dwell_h_mean=6.0, weekend_factor=0.0)


def test_strategy_params_are_kept_apart_from_name() -> None:
    data = minimal()
    data["strategy"] = {"name": "uncontrolled", "horizon_h": 12, "weights": [1, 2]}
    assert scenario_from_dict(data).strategy == StrategySpec("uncontrolled", {"horizon_h": 12, "weights": [1, 2]})


def test_raw_is_a_copy_of_the_input() -> None:
    data = minimal()
    sc = scenario_from_dict(data)
    data["grid"]["network"] = "kerber_dorfnetz"
    assert sc.raw["grid"]["network"] == "cigre_lv"


def test_session_file_paths_resolve_against_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "sessions.csv", "session_id\n")
    write(tmp_path / "feeder.json", "{}")
    text = MINIMAL_TOML.replace('network = "cigre_lv"', 'file = "feeder.json"').replace(
        "[fleet]\n", '[fleet]\nsource = "csv"\nfile = "data/sessions.csv"\nassign = "in_order"\n')
    sc = load_scenario(write(tmp_path / "s.toml", text))
    assert sc.grid.file == (tmp_path / "feeder.json").resolve()
    assert sc.fleet.file == (tmp_path / "data" / "sessions.csv").resolve()
    assert sc.fleet.assign == "in_order"


# --- time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("7d", 604800.0), ("36h", 129600.0), ("90min", 5400.0), ("3600s", 3600.0), ("1.5h", 5400.0),
    (" 2d ", 172800.0), (900, 900.0), (0.5, 0.5),
])
def test_duration_parsing(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["7", "7m", "7 days", "-1h", "0s", "h", 0, -5, True, float("inf"), [1]])
def test_bad_durations_are_scenario_errors(bad: Any) -> None:
    with pytest.raises(ScenarioError, match="duration"):
        parse_duration(bad, "f.toml", "simulation.duration")


@pytest.mark.parametrize(("seconds", "text"), [(604800.0, "7d"), (5400.0, "90min"), (7200.0, "2h"),
                                               (61.0, "61s"), (0.5, 0.5)])
def test_format_duration_is_exact_and_short(seconds: float, text: Any) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(("start", "offset_h"), [
    ("2026-06-01T08:00:00+02:00", 2), ("2026-06-01T06:00:00Z", 0), ("2026-06-01T01:00:00-05:00", -5),
])
def test_start_string_keeps_its_zone(start: str, offset_h: int) -> None:
    data = minimal()
    data["simulation"]["start"] = start
    got = scenario_from_dict(data).simulation.start
    assert got.utcoffset() == timedelta(hours=offset_h)
    assert got == datetime(2026, 6, 1, 6, tzinfo=UTC)


def test_toml_offset_datetime_zone_is_kept_through_save(tmp_path: Path) -> None:
    text = MINIMAL_TOML.replace("+01:00", "+05:30")
    sc = load_scenario(write(tmp_path / "s.toml", text))
    assert sc.simulation.start.utcoffset() == timedelta(hours=5, minutes=30)
    again = load_scenario(save_scenario(sc, tmp_path / "s.toml"))
    assert again.simulation.start.utcoffset() == timedelta(hours=5, minutes=30)


# --- overrides ----------------------------------------------------------------------------------


def test_overrides_apply_in_order_and_land_in_raw(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", MINIMAL_TOML)
    sc = load_scenario(path, ["simulation.duration=2d", "chargers.0.max_current_a=32", "strategy.name=uncontrolled",
                              "battery.model=taper", "simulation.seed=1", "simulation.seed = 7",
                              "fleet.vehicles=[\"vw_id3\", \"tesla_model3\"]", "strategy.horizon_h=6"])
    assert sc.simulation.duration_s == 172800.0 and sc.simulation.seed == 7
    assert sc.chargers[0].max_current_a == 32.0
    assert sc.battery.model == "taper"
    assert sc.fleet.vehicles == ("vw_id3", "tesla_model3")
    assert sc.strategy.params == {"horizon_h": 6}
    assert sc.raw["simulation"]["duration"] == "2d" and sc.raw["battery"] == {"model": "taper"}
    assert load_scenario(path).simulation.duration_s == 86400.0  # the file itself is untouched


def test_override_can_be_a_single_string(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path / "s.toml", MINIMAL_TOML), "simulation.seed=5")
    assert sc.simulation.seed == 5


@pytest.mark.parametrize(("text", "value"), [
    ("32", 32), ("0.5", 0.5), ("true", True), ('"7"', "7"), ("2d", "2d"), ("uncontrolled", "uncontrolled"),
    ("[1, 2]", [1, 2]), ("2026-01-12T00:00:00+01:00", datetime(2026, 1, 12, tzinfo=timezone(timedelta(hours=1)))),
    ("a b", "a b"), ("1\nx = 2", "1\nx = 2"), ("", ""),
])
def test_override_values_parse_as_toml_or_stay_strings(text: str, value: Any) -> None:
    assert parse_value(text) == value


@pytest.mark.parametrize(("override", "fragments"), [
    ("simulation.duration", ["'simulation.duration'", "KEY=VALUE"]),
    ("=3", ["bad override '=3'"]),
    ("simulation..seed=3", ["bad override"]),
    ("simulation.durration=2d", ["simulation.durration", "override 'simulation.durration=2d'",
                                 "did you mean 'duration'?"]),
    ("chargers.5.max_current_a=32", ["chargers[5]", "no entry 5 in chargers", "an index 0..0"]),
    ("chargers.first.bus=2", ["chargers[first]", "no entry first"]),
    ("chargers.0.max_curent_a=32", ["chargers[0].max_curent_a", "did you mean 'max_current_a'?"]),
    ("simulation.start.hour=3", ["simulation.start.hour", "simulation.start is a value"]),
    ("grid.pv.share.x=1", ["grid.pv.share.x", "grid.pv.share is a value"]),
    ("fleet.vehicles.0.name=x", ["fleet.vehicles[0]", "no entry 0"]),
    ("colour=red", ["colour", "unknown key 'colour'"]),
])
def test_bad_override_paths_name_the_override(tmp_path: Path, override: str, fragments: list[str]) -> None:
    path = write(tmp_path / "s.toml", MINIMAL_TOML)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, [override])
    for fragment in fragments:
        assert fragment in str(info.value)
    assert str(info.value).startswith(str(path))


def test_override_into_a_scalar_present_in_the_file(tmp_path: Path) -> None:
    text = MINIMAL_TOML + '\n[strategy]\nname = "uncontrolled"\nlimits = 3\n'
    with pytest.raises(ScenarioError, match=r"strategy.limits is an integer, not a table"):
        load_scenario(write(tmp_path / "s.toml", text), ["strategy.limits.x=1"])


def test_override_with_a_bad_value_fails_validation_at_the_key(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"chargers\[0\]\.max_current_a: out of range; got 120"):
        load_scenario(write(tmp_path / "s.toml", MINIMAL_TOML), ["chargers.0.max_current_a=120"])


# --- file-level errors --------------------------------------------------------------------------


def test_missing_file_and_directory_are_scenario_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="scenario file not found: .*nope.toml"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)


def test_non_mapping_data_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match="must be a table of keys, not an array"):
        scenario_from_dict([1, 2])  # type: ignore[arg-type]


# --- hashing ------------------------------------------------------------------------------------


def _csv_scenario(tmp_path: Path, sessions: str) -> Path:
    write(tmp_path / "sessions.csv", sessions)
    text = MINIMAL_TOML.replace("[fleet]\n", '[fleet]\nsource = "csv"\nfile = "sessions.csv"\n')
    return write(tmp_path / "s.toml", text)


def test_hash_is_stable_and_short(tmp_path: Path) -> None:
    path = _csv_scenario(tmp_path, "session_id,charger_id\ns1,cp1\n")
    first = scenario_hash(load_scenario(path))
    assert first == scenario_hash(load_scenario(path))
    assert len(first) == 16 and int(first, 16) >= 0


def test_hash_changes_with_session_file_content(tmp_path: Path) -> None:
    path = _csv_scenario(tmp_path, "session_id,charger_id\ns1,cp1\n")
    before = scenario_hash(load_scenario(path))
    write(tmp_path / "sessions.csv", "session_id,charger_id\ns1,cp2\n")
    assert scenario_hash(load_scenario(path)) != before


def test_hash_changes_with_overrides_and_ignores_key_order(tmp_path: Path) -> None:
    path = write(tmp_path / "s.toml", MINIMAL_TOML)
    base = scenario_hash(load_scenario(path))
    assert scenario_hash(load_scenario(path, ["simulation.seed=1"])) != base
    reordered = "[fleet]\n\n" + MINIMAL_TOML.replace("[fleet]\n", "")
    assert scenario_hash(load_scenario(write(tmp_path / "t.toml", reordered))) == base


def test_hash_of_a_scenario_without_raw_uses_its_canonical_form() -> None:
    sc = scenario_from_dict(minimal())
    bare = dataclasses.replace(sc, raw={})
    assert scenario_hash(bare) == scenario_hash(dataclasses.replace(sc, raw={}))
    assert scenario_hash(bare) != scenario_hash(dataclasses.replace(bare, name="other", raw={}))


def test_hash_of_a_scenario_whose_file_vanished_is_a_scenario_error(tmp_path: Path) -> None:
    sc = load_scenario(_csv_scenario(tmp_path, "x\n"))
    (tmp_path / "sessions.csv").unlink()
    with pytest.raises(ScenarioError, match="fleet.file: cannot read"):
        scenario_hash(sc)


# --- saving -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shipped", sorted((ROOT / "scenarios").glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_scenarios_round_trip(shipped: Path, tmp_path: Path) -> None:
    original = load_scenario(shipped)
    target = tmp_path / shipped.name
    again = load_scenario(save_scenario(dataclasses.replace(original, path=target.resolve()), target))
    assert again == dataclasses.replace(original, path=target.resolve())


def test_round_trip_with_relative_and_outside_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write(src / "sessions.csv", "x\n")
    write(tmp_path / "feeder.json", "{}")
    text = MINIMAL_TOML.replace('network = "cigre_lv"', 'file = "../feeder.json"').replace(
        "[fleet]\n", '[fleet]\nsource = "acn"\nfile = "sessions.csv"\n')
    sc = load_scenario(write(src / "s.toml", text))
    saved = save_scenario(sc, src / "s.toml")
    text_out = saved.read_text()
    assert 'file = "sessions.csv"' in text_out  # below the scenario: stays relative
    assert str((tmp_path / "feeder.json").resolve()) in text_out  # outside: written absolute
    assert load_scenario(saved) == sc


def test_save_refuses_an_invalid_scenario(tmp_path: Path) -> None:
    sc = scenario_from_dict(minimal())
    broken = dataclasses.replace(sc, chargers=(dataclasses.replace(sc.chargers[0], max_current_a=500.0),))
    with pytest.raises(ScenarioError, match="max_current_a"):
        save_scenario(broken, tmp_path / "x.toml")
    assert not (tmp_path / "x.toml").exists()


# --- packaging ----------------------------------------------------------------------------------


def test_default_scenario_path_is_packaged() -> None:
    path = default_scenario_path()
    assert path == BUILTIN_SCENARIOS_DIR / "default.toml"
    assert path.parent == ROOT / "sim" / "scenarios"
    if path.is_file():
        assert load_scenario(path).name


def test_public_api_is_curated() -> None:
    assert sorted(sim.scenario.__all__) == sorted([
        "BUILTIN_SCENARIOS_DIR", "Scenario", "apply_overrides", "default_scenario_path", "format_duration",
        "load_scenario", "parse_duration", "save_scenario", "scenario_from_dict", "scenario_hash",
    ])
    for name in sim.scenario.__all__:
        assert hasattr(sim.scenario, name)



# --- property: load(save(x)) == x over generated valid scenario mappings --------------------------

_zones = st.integers(-48, 56).map(lambda q: timezone(timedelta(minutes=15 * q)))
_unit = st.floats(0.0, 1.0, allow_nan=False)
_positive = st.floats(0.1, 1e4, allow_nan=False)
_currents = st.floats(1.0, 80.0, allow_nan=False)


@st.composite
def _simulation(draw: st.DrawFn) -> dict[str, Any]:
    period_s = draw(st.sampled_from([1, 60, 300, 900, 0.5]))
    steps = draw(st.integers(1, 4000))
    seconds = period_s * steps
    duration = draw(st.sampled_from([seconds, format_duration(float(seconds))]))
    start = draw(st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1), timezones=_zones))
    return {"start": start, "duration": duration, "control_period_s": period_s, "seed": draw(st.integers(0, 2**63 - 1))}


@st.composite
def _grid(draw: st.DrawFn) -> dict[str, Any]:
    grid: dict[str, Any] = draw(st.one_of(
        st.fixed_dictionaries({"network": st.sampled_from(NETWORK_NAMES)}),
        st.fixed_dictionaries({"simbench": st.sampled_from(["1-LV-rural1--0-sw", "1-LV-semiurb4--2-no_sw"])}),
    ))
    profiles = ["household", "none"] + (["simbench"] if "simbench" in grid else [])
    if draw(st.booleans()):
        grid["base_load"] = draw(st.fixed_dictionaries({}, optional={
            "profile": st.sampled_from(profiles), "scale": st.floats(0, 10, allow_nan=False)}))
    if draw(st.booleans()):
        grid["pv"] = draw(st.fixed_dictionaries({"share": _unit}, optional={"kwp": _positive}))
    return grid


@st.composite
def _charger(draw: st.DrawFn, index: int) -> dict[str, Any]:
    phases = draw(st.sampled_from([1, 3]))
    max_a = draw(_currents)
    common = draw(st.fixed_dictionaries({}, optional={
        "phase": st.sampled_from(["L1", "L2", "L3", "random"] if phases == 1 else ["L1L2L3"]),
        "min_current_a": st.floats(0.0, max_a, allow_nan=False),
        "efficiency": st.floats(0.01, 1.0, allow_nan=False),
        "kind": st.sampled_from(["home", "work", "public"]),
    }))
    common.update(phases=phases, max_current_a=max_a)
    steps = draw(st.sampled_from(["none", "step", "set"]))
    if steps == "step":
        common["current_step_a"] = draw(st.floats(0.0, max_a, allow_nan=False))
    elif steps == "set":
        min_a = common.get("min_current_a", min(6.0, max_a))
        common["allowed_current_a"] = draw(st.lists(st.floats(min_a, max_a, allow_nan=False).filter(lambda a: a > 0),
                                                    min_size=1, max_size=4, unique=True))
    kind = draw(st.sampled_from(["explicit", "per_load_bus", "random_load_buses"]))
    if kind == "explicit":
        return {"id": f"cp{index}", "bus": draw(st.integers(0, 500)), **common}
    rule = {"place": kind, "id_prefix": f"rule{index}-"}
    rule.update({"share": draw(_unit)} if kind == "per_load_bus" else {"count": draw(st.integers(1, 200))})
    return {**rule, **common}


@st.composite
def _fleet(draw: st.DrawFn) -> dict[str, Any]:
    fleet: dict[str, Any] = {}
    if draw(st.booleans()):
        fleet["vehicles"] = draw(st.lists(st.sampled_from(["vw_id3", "tesla_model3", "renault_zoe"]), max_size=3))
    kinds = draw(st.dictionaries(st.sampled_from(["home", "work", "public"]), st.fixed_dictionaries({}, optional={
        "sessions_per_day": st.floats(0, 10, allow_nan=False), "arrival_h_mean": st.floats(0, 24, allow_nan=False),
        "dwell_h_mean": _positive, "energy_kwh_std": st.floats(0, 50, allow_nan=False)}), max_size=3))
    if kinds:
        fleet["kinds"] = kinds
    return fleet


_params = st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True).filter(lambda k: k != "name"),
                          st.one_of(st.integers(-10, 10), st.floats(-1e3, 1e3, allow_nan=False), st.text(max_size=5),
                                    st.booleans(), st.lists(st.integers(0, 5), max_size=3)), max_size=3)


@st.composite
def scenario_dicts(draw: st.DrawFn) -> dict[str, Any]:
    n_chargers = draw(st.integers(1, 4))
    data: dict[str, Any] = {
        "simulation": draw(_simulation()),
        "grid": draw(_grid()),
        "chargers": [draw(_charger(i)) for i in range(n_chargers)],
        "fleet": draw(_fleet()),
    }
    if draw(st.booleans()):
        data["name"] = draw(st.text(min_size=1, max_size=12).filter(str.strip))
    if draw(st.booleans()):
        data["description"] = draw(st.text(max_size=30))
    if draw(st.booleans()):
        data["battery"] = draw(st.fixed_dictionaries({}, optional={
            "model": st.sampled_from(["ideal", "taper"]), "transition_soc": st.floats(0.01, 0.99, allow_nan=False),
            "default_capacity_kwh": _positive}))
    if draw(st.booleans()):
        data["strategy"] = {"name": "uncontrolled", **draw(_params)}
    if draw(st.booleans()):
        data["site"] = draw(_site())
    if draw(st.booleans()):
        data["tariff"] = draw(_tariff())
    return data


@st.composite
def _site(draw: st.DrawFn) -> dict[str, Any]:
    site: dict[str, Any] = draw(st.fixed_dictionaries({}, optional={
        "import_limit_kw": _positive, "buses": st.lists(st.integers(0, 500), min_size=1, max_size=4, unique=True)}))
    n_nodes = draw(st.integers(0, 4))
    limits = []
    for k in range(n_nodes):  # node k hangs below a random earlier node: always a tree
        node: dict[str, Any] = {"id": f"n{k}"}
        if k:
            node["parent"] = f"n{draw(st.integers(0, k - 1))}"
        node.update(draw(st.fixed_dictionaries({}, optional={"max_kva": _positive, "charger_prefix": st.just(f"p{k}"),
                                                             "chargers": st.just([f"cp{k}"])})))
        if "max_kva" not in node or draw(st.booleans()):
            node["max_current_a"] = draw(_positive)
        limits.append(node)
    if limits:
        site["limits"] = limits
    return site


@st.composite
def _tariff(draw: st.DrawFn) -> dict[str, Any]:
    tariff: dict[str, Any] = draw(st.fixed_dictionaries(
        {}, optional={"price_per_kwh": st.floats(-1, 2, allow_nan=False)}))
    edges = sorted(draw(st.lists(st.floats(0, 24, allow_nan=False), min_size=0, max_size=6, unique=True)))
    periods = [{"start_h": a, "end_h": b, "price_per_kwh": draw(st.floats(0, 1, allow_nan=False)),
                "days": draw(st.sampled_from(["all", "weekdays", "weekend"]))}
               for a, b in zip(edges[::2], edges[1::2], strict=False) if b > a and a < 24]
    if periods or draw(st.booleans()):
        tariff["periods"] = periods
    return tariff


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=scenario_dicts())
def test_save_then_load_gives_an_equal_scenario(data: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "roundtrip.toml"
    original = scenario_from_dict(data, target)
    again = load_scenario(save_scenario(original, target))
    assert again == original
    assert again.simulation.start.utcoffset() == original.simulation.start.utcoffset()
    assert load_scenario(save_scenario(again, target)).raw == again.raw  # saving is idempotent
