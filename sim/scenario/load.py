"""Load, validate, hash and save scenario files (TOML).

The scenario file format, every key (``*`` marks required keys and tables)::

    name = "suburban-default"     # default: the file's stem ("scenario" for a dict without a path)
    description = "..."           # default: ""

    [simulation]                  # * required
    start = 2026-01-12T00:00:00+01:00  # * a TOML offset date-time or an ISO 8601 string WITH a UTC
                                       #   offset; local date-times are rejected
    duration = "7d"               # * "7d", "36h", "90min", "3600s" (decimals allowed: "1.5h"), or a
                                  #   positive number of seconds
    control_period_s = 300        # * > 0, <= duration; duration must be a whole multiple of it
    seed = 42                     # integer >= 0, default 0

    [grid]                        # * required; exactly one of network / simbench / file
    network = "kerber_vorstadtnetz_kabel_1"  # a name from schema.NETWORK_NAMES
    simbench = "1-LV-semiurb4--0-sw"         # a SimBench code (must contain "--")
    file = "feeder.json"          # a pandapower JSON file, relative to the scenario file; must exist
    loadflow = "pandapower"       # schema.LOADFLOW_SOLVERS, default "pandapower"
    [grid.base_load]              # optional
    profile = "household"         # household | simbench | none; "simbench" only with grid.simbench;
                                  #   default "simbench" for SimBench grids, else "household"
    scale = 1.0                   # >= 0, default 1
    peak_kw = 4.0                 # > 0, household profile only: one peak for every load instead of
                                  #   its rated p_mw (default: each load's own rating)
    [grid.pv]                     # optional; no PV when absent
    share = 0.3                   # * in [0, 1]: share of the load buses with rooftop PV
    kwp = 5.0                     # > 0, default 5

    [[chargers]]                  # * at least one entry; an explicit charger ...
    id = "cp1"                    # * non-empty, unique across the file
    bus = 12                      # * integer >= 0 (the grid room checks that the bus exists)
    [[chargers]]                  # ... or a placement rule (no id, no bus):
    place = "per_load_bus"        # * per_load_bus | random_load_buses
    share = 0.5                   # per_load_bus only: in [0, 1], default 1
    count = 40                    # random_load_buses only, and required there: integer >= 1
    id_prefix = "home"            # default "cp"; unique across the rules of the file
    # keys of both kinds of entry:
    phases = 3                    # 1 or 3, default 3
    phase = "L1"                  # single-phase: L1 | L2 | L3 | random (default random);
                                  #   three-phase: omitted or "L1L2L3"
    max_current_a = 16            # in (0, 80], default 16
    min_current_a = 6             # in [0, max_current_a], default min(6, max_current_a)
    efficiency = 0.95             # in (0, 1], default 0.95
    kind = "home"                 # home | work | public, default home
    current_step_a = 0.1          # in [0, max_current_a], default 0 (continuous): currents in
                                  #   multiples of this (0.1 for OCPP 1.6)
    allowed_current_a = [8, 16]   # or a finite set (not with current_step_a): non-empty, each 0 or
                                  #   in [min_current_a, max_current_a], no repeats; stored sorted,
                                  #   without 0 (0 A is always allowed)

    [fleet]                       # * required (may be empty)
    source = "generate"           # generate | csv | acn, default generate
    file = "sessions.csv"         # csv/acn: * relative to the scenario file, must exist; not for generate
    assign = "by_id"              # csv/acn only: by_id | in_order, default by_id
    vehicles = ["vw_id3"]         # array of catalogue names (checked by sim.scenario.sessions);
                                  #   default: the whole catalogue
    [fleet.kinds.home]            # optional, also .work and .public; each key optional, the rest
    sessions_per_day = 0.8        #   comes from schema.BUILTIN_KINDS. sessions_per_day >= 0,
    arrival_h_mean = 18.0         #   arrival_h_mean in [0, 24], arrival_h_std >= 0,
    arrival_h_std = 2.0           #   dwell_h_mean > 0, dwell_h_std >= 0, energy_kwh_mean > 0,
    dwell_h_mean = 13.0           #   energy_kwh_std >= 0, weekend_factor >= 0
    dwell_h_std = 2.0
    energy_kwh_mean = 12.0
    energy_kwh_std = 5.0
    weekend_factor = 1.0

    [battery]                     # optional
    model = "taper"               # ideal | taper, default ideal
    transition_soc = 0.8          # in (0, 1), default 0.8
    default_capacity_kwh = 60     # > 0, default 60: for sessions that give no battery capacity

    [strategy]                    # optional
    name = "uncontrolled"         # schema.STRATEGY_NAMES, default uncontrolled
    # every other key is a parameter of the strategy (StrategySpec.params), checked by the strategy

    [site]                        # optional: the site the chargers belong to
    import_limit_kw = 150         # > 0, optional: base load + charging at the site stays below it
                                  #   (a constraint row whose limit is this minus the base load)
    buses = [36, 40]              # optional, non-empty, integers >= 0, no repeats: the buses whose
                                  #   loads and generation form the site's base load (checked
                                  #   against the grid at set-up); default the whole feeder
    [[site.limits]]               # optional, the limits tree (site fuse > sub-circuits > ...):
    id = "main"                   # * non-empty, unique across [[site.limits]]
    parent = "main"               # the id of another node; absent for exactly one node (the root);
                                  #   no cycles
    max_current_a = 250           # > 0, A per phase; at least one of max_current_a / max_kva
    max_kva = 160                 # > 0
    chargers = ["office-01"]      # charger ids wired directly below this node (each id under one
                                  #   node only); chargers under no node belong to the root
    charger_prefix = "home"       # non-empty: adds every charger whose id starts with it
                                  # ids and prefixes must name placed chargers, and a prefix must
                                  #   not pull a charger under a second node: checked at set-up

    [tariff]                      # optional; default a flat 0.30 per kWh
    price_per_kwh = 0.30          # finite number (currency per kWh; may be negative), default 0.30:
                                  #   the price wherever no period applies
    [[tariff.periods]]            # optional time-of-use periods, local wall-clock time, every day:
    start_h = 0                   # * in [0, 24)
    end_h = 7                     # * in (0, 24], > start_h (a period over midnight is two periods)
    price_per_kwh = 0.18          # * finite number
    days = "all"                  # all | weekdays (Mon-Fri) | weekend (Sat, Sun), default all;
                                  #   periods must not overlap on any day

Every unknown key is an error naming it and the valid keys of its level (with a "did you mean"
for near misses); so are wrong types (booleans are not numbers), out-of-range values and missing
required keys. Errors are ``ScenarioError`` with key paths such as ``chargers[2].max_current_a``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import tomli_w

from sim.errors import ScenarioError
from sim.scenario._dump import scenario_to_dict
from sim.scenario._sections import build_scenario
from sim.scenario.overrides import apply_overrides
from sim.scenario.schema import Scenario

BUILTIN_SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
DICT_FILE_LABEL = "<dict>"  # the "file" named in errors for scenario_from_dict without a path


def default_scenario_path() -> Path:
    """The packaged default scenario, ``sim/scenarios/default.toml``."""
    return BUILTIN_SCENARIOS_DIR / "default.toml"


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read the TOML file at ``path``, apply ``--set``-style ``overrides``, validate, build.

    ``Scenario.path`` is the absolute path; ``Scenario.raw`` the override-applied mapping.
    Raises ``ScenarioError`` for a missing or unreadable file, a TOML syntax error (with line and
    column), a bad override and every validation failure.
    """
    file = Path(path)
    data = apply_overrides(read_toml(file), overrides, str(file))
    return build_scenario(data, str(file), file.resolve())


def scenario_from_dict(data: dict[str, Any], path: Path | str | None = None) -> Scenario:
    """Validate a scenario mapping (as TOML would give it) and build the ``Scenario``.

    ``path`` stands for the scenario file: relative file paths resolve against its directory
    (the current directory without a path) and the default name is its stem.
    """
    file = Path(path).resolve() if path is not None else None
    return build_scenario(data, str(path) if path is not None else DICT_FILE_LABEL, file)


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML mapping of ``path``; every failure is a ``ScenarioError`` naming the file."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(str(path), "", f"scenario file not found: {path.resolve()}",
                            expected="an existing TOML file") from None
    except IsADirectoryError:
        raise ScenarioError(str(path), "", "is a directory, not a scenario file",
                            expected="a TOML file") from None
    except OSError as exc:
        raise ScenarioError(str(path), "", f"cannot read the scenario file: {exc.strerror}") from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), "", f"not a text file (invalid UTF-8 at byte {exc.start})",
                            expected="a TOML scenario file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), "", f"not valid TOML: {exc}", expected="a TOML scenario file") from None


def scenario_hash(scenario: Scenario) -> str:
    """16 hex digits of a sha256 over the scenario's ``raw`` mapping and its referenced files.

    ``raw`` is hashed as canonical JSON (sorted keys, datetimes as ISO 8601), then the sha256 of
    the bytes of ``grid.file`` and ``fleet.file`` when set, so editing a session file changes the
    hash. A scenario built without ``raw`` is hashed from its canonical TOML mapping.
    """
    raw = scenario.raw or scenario_to_dict(scenario, scenario.base_dir)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                       default=_json_default).encode("utf-8"))
    for key, file in (("grid.file", scenario.grid.file), ("fleet.file", scenario.fleet.file)):
        if file is not None:
            digest.update(f"\0{key}\0".encode())
            digest.update(_file_sha256(file, key, scenario).encode("ascii"))
    return digest.hexdigest()[:16]


def save_scenario(scenario: Scenario, path: str | Path) -> Path:
    """Write ``scenario`` as TOML to ``path`` such that ``load_scenario(path) == scenario``.

    Every filled-in default is written explicitly; file paths are written relative to the new
    file's directory when they lie below it. The mapping is validated before anything is written,
    so an inconsistent hand-built ``Scenario`` raises ``ScenarioError`` instead of leaving a file
    that does not load. Returns the path written.
    """
    target = Path(path)
    data = scenario_to_dict(scenario, target.resolve().parent)
    scenario_from_dict(data, target)
    with target.open("wb") as handle:
        tomli_w.dump(data, handle)
    return target


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def _file_sha256(file: Path, key: str, scenario: Scenario) -> str:
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError as exc:
        label = str(scenario.path) if scenario.path is not None else DICT_FILE_LABEL
        raise ScenarioError(label, key, f"cannot read {file} to hash it: {exc.strerror}",
                            value=str(file)) from None
