"""Turn the TOML mapping of a scenario file into the frozen ``Scenario`` (validating every key).

Each ``_section`` function reads one table through a ``Table`` reader, so an error always names
the file, the key path, the bad value and what is valid. The format itself is documented in
``sim.scenario.load``.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

from sim.domain.battery import BATTERY_MODELS
from sim.errors import ScenarioError
from sim.scenario._chargers import build_chargers
from sim.scenario._keys import (
    BASE_LOAD_KEYS,
    BATTERY_KEYS,
    FLEET_KEYS,
    GRID_KEYS,
    KIND_KEYS,
    PV_KEYS,
    ROOT_KEYS,
    SIMULATION_KEYS,
)
from sim.scenario._reader import Table, as_string, type_name
from sim.scenario._site import build_site, build_tariff
from sim.scenario._time import parse_duration, parse_start
from sim.scenario.schema import (
    BASE_LOAD_PROFILES,
    BUILTIN_KINDS,
    CHARGER_KINDS,
    FLEET_SOURCES,
    LOADFLOW_SOLVERS,
    NETWORK_KEYS,
    NETWORK_NAMES,
    SESSION_ASSIGN,
    STRATEGY_NAMES,
    BaseLoadSpec,
    BatterySpec,
    FleetSpec,
    GridSpec,
    KindProfile,
    PvSpec,
    Scenario,
    SimulationSpec,
    StrategySpec,
)

# Valid range of each [fleet.kinds.<kind>] key: keyword arguments of Table.number.
KIND_RANGES: dict[str, dict[str, Any]] = {
    "sessions_per_day": {"lo": 0.0},
    "arrival_h_mean": {"lo": 0.0, "hi": 24.0},
    "arrival_h_std": {"lo": 0.0},
    "dwell_h_mean": {"lo": 0.0, "lo_open": True},
    "dwell_h_std": {"lo": 0.0},
    "energy_kwh_mean": {"lo": 0.0, "lo_open": True},
    "energy_kwh_std": {"lo": 0.0},
    "weekend_factor": {"lo": 0.0},
}
SIMBENCH_EXPECTED = 'a SimBench code such as "1-LV-semiurb4--0-sw"'


def build_scenario(data: Any, file: str, path: Path | None) -> Scenario:
    """Validate ``data`` (the parsed TOML) and build the ``Scenario``; ``raw`` is a deep copy."""
    if not isinstance(data, dict):
        raise ScenarioError(file, "", f"a scenario must be a table of keys, not {type_name(data)}",
                            value=data, expected="a mapping with [simulation], [grid], [[chargers]], [fleet]")
    root = Table(file, "", data)
    root.check_keys(ROOT_KEYS)
    base_dir = path.parent if path is not None else Path.cwd()
    simulation = _simulation(_required(root, "simulation"))
    grid = _grid(_required(root, "grid"), base_dir)
    site = build_site(root)
    chargers = build_chargers(root)
    fleet = _fleet(_required(root, "fleet"), base_dir)
    battery_t = root.table("battery", required=False)
    strategy_t = root.table("strategy", required=False)
    return Scenario(
        name=root.string("name", path.stem if path is not None else "scenario"),
        path=path,
        simulation=simulation,
        grid=grid,
        chargers=chargers,
        fleet=fleet,
        battery=_battery(battery_t) if battery_t is not None else BatterySpec(),
        strategy=_strategy(strategy_t) if strategy_t is not None else StrategySpec(),
        description=root.string("description", "", allow_empty=True),
        site=site,
        tariff=build_tariff(root),
        raw=copy.deepcopy(data),
    )


def _required(root: Table, name: str) -> Table:
    table = root.table(name, required=True)
    assert table is not None
    return table


def _simulation(t: Table) -> SimulationSpec:
    t.check_keys(SIMULATION_KEYS)
    start = parse_start(t.get("start"), t.file, t.key("start"))
    duration_s = parse_duration(t.get("duration"), t.file, t.key("duration"))
    period_s = t.number("control_period_s", lo=0.0, lo_open=True)
    if period_s > duration_s:
        raise t.error("control_period_s", f"longer than the duration ({duration_s:g} s)",
                      value=t.data["control_period_s"], expected=f"a number in (0, {duration_s:g}]")
    steps = duration_s / period_s
    if abs(steps - round(steps)) > 1e-9 * steps:
        raise t.error("control_period_s", f"the duration ({duration_s:g} s) is not a whole multiple of it",
                      value=t.data["control_period_s"], expected=f"a divisor of {duration_s:g} s")
    return SimulationSpec(start=start, duration_s=duration_s, control_period_s=period_s,
                          seed=t.integer("seed", 0, lo=0))


def _grid(t: Table, base_dir: Path) -> GridSpec:
    t.check_keys(GRID_KEYS)
    given = [k for k in NETWORK_KEYS if t.has(k)]
    if len(given) != 1:
        problem = "no feeder given" if not given else f"{' and '.join(given)} are mutually exclusive"
        raise t.error(None, problem, value={k: t.data[k] for k in given},
                      expected=f"exactly one of {', '.join(NETWORK_KEYS)}")
    source: dict[str, Any] = {}
    if given == ["network"]:
        source["network"] = t.string("network", choices=NETWORK_NAMES)
    elif given == ["simbench"]:
        code = t.string("simbench")
        if "--" not in code:
            raise t.error("simbench", "not a SimBench code", value=code, expected=SIMBENCH_EXPECTED)
        source["simbench"] = code
    else:
        source["file"] = t.existing_file("file", base_dir)
    pv_t = t.table("pv", required=False)
    return GridSpec(
        **source,
        base_load=_base_load(t.table("base_load", required=False), is_simbench="simbench" in source),
        pv=_pv(pv_t) if pv_t is not None else None,
        loadflow=t.string("loadflow", "fast", choices=LOADFLOW_SOLVERS),
        vm_band_pu=_vm_band(t),
        vuf_limit_percent=t.number("vuf_limit_percent", 2.0, lo=0.0, lo_open=True, hi=100.0),
    )


def _vm_band(t: Table) -> tuple[float, float]:
    """``vm_band_pu = [low, high]``: two numbers with 0 < low < 1 < high (default EN 50160's 0.9, 1.1)."""
    if not t.has("vm_band_pu"):
        return (0.9, 1.1)
    value = t.get("vm_band_pu")
    expected = "two numbers [low, high] with 0 < low < 1 < high, e.g. [0.9, 1.1]"
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise t.error("vm_band_pu", "not a voltage band", value=value, expected=expected)
    low, high = float(value[0]), float(value[1])
    if not 0.0 < low < 1.0 < high:
        raise t.error("vm_band_pu", "not a voltage band around 1 pu", value=value, expected=expected)
    return (low, high)


def _base_load(t: Table | None, *, is_simbench: bool) -> BaseLoadSpec:
    default = "simbench" if is_simbench else "household"
    if t is None:
        return BaseLoadSpec(profile=default)
    t.check_keys(BASE_LOAD_KEYS)
    profile = t.string("profile", default, choices=BASE_LOAD_PROFILES)
    if profile == "simbench" and not is_simbench:
        raise t.error("profile", "the 'simbench' profile needs a SimBench grid (grid.simbench)",
                      value=profile, expected="'household' or 'none' for this grid")
    peak_kw = t.number("peak_kw", lo=0.0, lo_open=True) if t.has("peak_kw") else None
    if peak_kw is not None and profile != "household":
        raise t.error("peak_kw", "only the 'household' profile takes a peak",
                      value=peak_kw, expected="no peak_kw with profile = " + repr(profile))
    return BaseLoadSpec(profile=profile, scale=t.number("scale", 1.0, lo=0.0), peak_kw=peak_kw)


def _pv(t: Table) -> PvSpec:
    t.check_keys(PV_KEYS)
    return PvSpec(share=t.number("share", lo=0.0, hi=1.0), kwp=t.number("kwp", 5.0, lo=0.0, lo_open=True))


def _fleet(t: Table, base_dir: Path) -> FleetSpec:
    t.check_keys(FLEET_KEYS)
    source = t.string("source", "generate", choices=FLEET_SOURCES)
    file: Path | None = None
    assign = "by_id"
    if source == "generate":
        for name in ("file", "assign"):
            if t.has(name):
                raise t.error(name, "not used with source = 'generate'", value=t.data[name],
                              expected=f"no {name} key, or source = 'csv' or 'acn'")
    else:
        file = t.existing_file("file", base_dir)
        assign = t.string("assign", "by_id", choices=SESSION_ASSIGN)
    kinds_t = t.table("kinds", required=False)
    return FleetSpec(source=source, file=file, assign=assign, vehicles=_vehicles(t),
                     kinds=_kinds(kinds_t) if kinds_t is not None else dict(BUILTIN_KINDS))


def _vehicles(t: Table) -> tuple[str, ...]:
    items = t.array("vehicles", required=False) or []
    return tuple(as_string(t.file, f"{t.key('vehicles')}[{i}]", item) for i, item in enumerate(items))


def _kinds(t: Table) -> dict[str, KindProfile]:
    """All three kinds: the built-in parameters with this table's overrides applied."""
    t.check_keys(CHARGER_KINDS)
    merged = dict(BUILTIN_KINDS)
    for kind in CHARGER_KINDS:
        sub = t.table(kind, required=False)
        if sub is None:
            continue
        sub.check_keys(KIND_KEYS)
        given = {name: sub.number(name, **KIND_RANGES[name]) for name in KIND_KEYS if sub.has(name)}
        merged[kind] = replace(BUILTIN_KINDS[kind], **given)
    return merged


def _battery(t: Table) -> BatterySpec:
    t.check_keys(BATTERY_KEYS)
    return BatterySpec(
        model=t.string("model", "ideal", choices=BATTERY_MODELS),
        transition_soc=t.number("transition_soc", 0.8, lo=0.0, hi=1.0, lo_open=True, hi_open=True),
        default_capacity_kwh=t.number("default_capacity_kwh", 60.0, lo=0.0, lo_open=True),
    )


def _strategy(t: Table) -> StrategySpec:
    """``name`` is checked here; every other key is a parameter the strategy validates itself."""
    params = {k: copy.deepcopy(v) for k, v in t.data.items() if k != "name"}
    return StrategySpec(name=t.string("name", "uncontrolled", choices=STRATEGY_NAMES), params=params)
