"""The live site file (TOML): which chargers exist, the site's limits, the strategy and the safety settings.

``load_site(path) -> LiveSite``. The charger, ``[site]``, ``[tariff]``, ``[strategy]`` and ``[grid]``
tables are those of a scenario file and are read by the scenario room's own readers
(``sim.scenario``), so a scenario's site part pastes into a site file unchanged and every error
names the file, the key path, the value and what is valid. Format (``*`` = required)::

    name = "depot"                 # default: the file's stem
    description = ""
    store = "depot.sqlite"         # the SQLite store, relative to this file; default <stem>.sqlite
    time_zone = "Europe/Berlin"    # the tariff's local time (an IANA zone), default "UTC"
    base_load_kw = 0.0             # the site's non-charging import (load minus PV), kW, default 0;
                                   #   the tracker keeps it until a meter reading replaces it
    accept_unknown_chargers = false  # a charger not listed here may connect (as [unknown_chargers])

    [control]                      # optional
    period_s = 30                  # the control period, > 0, default 30
    deadband_a = 1.0               # a profile is re-sent only when its limit moves more (A), >= 0
    min_send_interval_s = 60       # at most one raised limit per charger per this time, >= 0
    safe_limit_a = 6.0             # the TxDefaultProfile installed at boot: 0 or >= 6 A (0 = pause
                                   #   every session when feedertwin is gone), default 6
    stack_level = 1                # stackLevel of feedertwin's profiles, integer >= 0

    [[chargers]]                   # * one per charger: exactly the keys of a scenario's explicit
    id = "CP-001"                  # * charger; the id is its OCPP identity (the last segment of
    bus = 36                       # * the websocket path, so no "/")
    phases = 1                     # single-phase chargers need phase = "L1" | "L2" | "L3"
    phase = "L2"
    max_current_a = 32             # ... min_current_a, efficiency, kind, current_step_a, allowed_current_a

    [unknown_chargers]             # the electrical data of chargers that are not listed (only with
    bus = 0                        #   accept_unknown_chargers = true); keys as [[chargers]], no id
    max_current_a = 16             #   (default bus 0, the [[chargers]] defaults otherwise)

    [site]                         # optional: import_limit_kw, buses, [[site.limits]] as in a scenario
    [tariff]                       # optional, as in a scenario (periods in time_zone's local time)
    [strategy]                     # optional, as in a scenario: name + parameters
    [grid]                         # optional: the feeder for the live load flow, as in a scenario
    [security]                     # optional: OCPP security profiles (sim.live.security,
    default_profile = 0            #   docs/live_security.md); a charger's own security_profile
    tls_cert = "server.pem"        #   (0, 1, 2) and password_hash = "scrypt$..." go in its
    tls_key = "server.key"         #   [[chargers]] entry; tls_min_version = "1.2" | "1.3"
    [api]                          # optional: the REST API (feedertwin live --api HOST:PORT)
    public = ["site", "chargers"]  #   sections readable without a token (API_SECTIONS), default none

Unknown chargers join the root of the limits tree (a ``charger_prefix`` only expands over the
listed chargers); placement rules (``place``) are for scenarios and are rejected here, as is
``phase = "random"``: a live charger is wired to one known phase.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sim.domain import Charger, ChargerTable, Constraints, LimitNode, build_constraints
from sim.errors import ScenarioError, StrategyError
from sim.live.security import SecuritySpec, read_security
from sim.scenario._chargers import _electrical, build_chargers
from sim.scenario._keys import CHARGER_COMMON_KEYS
from sim.scenario._reader import Table, type_name
from sim.scenario._sections import _grid, _strategy
from sim.scenario._site import build_site, build_tariff
from sim.scenario.limits import limit_nodes
from sim.scenario.load import read_toml
from sim.scenario.schema import ChargerSpec, GridSpec, SiteSpec, StrategySpec, TariffSpec
from sim.strategies import Strategy, create

ROOT_KEYS = ("name", "description", "store", "time_zone", "base_load_kw", "accept_unknown_chargers", "control",
             "chargers", "unknown_chargers", "site", "tariff", "strategy", "grid", "security", "api")
CONTROL_KEYS = ("period_s", "deadband_a", "min_send_interval_s", "safe_limit_a", "stack_level")
UNKNOWN_CHARGER_KEYS = ("bus", *CHARGER_COMMON_KEYS)
API_SECTIONS = ("site", "chargers", "sessions", "feeder", "setpoints", "decisions", "commands", "log", "stream")
"""What ``[api] public`` may name: the API's read sections (``sim.api``, ``docs/api.md``)."""
IEC_MIN_CURRENT_A = 6.0
"""The smallest current a charger may offer (IEC 61851-1 PWM): a limit is 0 (pause) or at least this."""


@dataclass(frozen=True)
class ControlSpec:
    """How the controller talks to chargers (``[control]``)."""

    period_s: float = 30.0
    deadband_a: float = 1.0
    min_send_interval_s: float = 60.0
    safe_limit_a: float = IEC_MIN_CURRENT_A
    stack_level: int = 1


@dataclass(frozen=True)
class LiveSite:
    """A validated site file. ``chargers`` are the listed chargers in file order; ``limits`` the
    limits tree over them (prefixes expanded); ``unknown_charger`` the template for chargers that are
    not listed (``None`` unless ``accept_unknown_chargers``); ``grid`` the optional feeder."""

    name: str
    path: Path | None
    chargers: ChargerTable
    limits: tuple[LimitNode, ...]
    site: SiteSpec
    tariff: TariffSpec
    strategy: StrategySpec
    control: ControlSpec
    store_path: Path
    time_zone: tzinfo
    base_load_kw: float = 0.0
    accept_unknown_chargers: bool = False
    unknown_charger: Charger | None = None
    grid: GridSpec | None = None
    description: str = ""
    security: SecuritySpec = SecuritySpec()  # who must authenticate how (sim.live.security)
    api_public: tuple[str, ...] = ()  # API sections readable without a token ([api] public)

    @property
    def file_label(self) -> str:
        return str(self.path) if self.path is not None else "<site>"

    def charger_for(self, charger_id: str) -> Charger | None:
        """The listed charger ``charger_id``; for another id the ``unknown_charger`` template under
        that id when unknown chargers are accepted; else ``None`` (the charger is refused)."""
        index = self.chargers.index_of().get(charger_id)
        if index is not None:
            return self.chargers.chargers[index]
        if self.unknown_charger is None:
            return None
        return replace(self.unknown_charger, charger_id=charger_id)

    def constraints(self, chargers: ChargerTable) -> Constraints:
        """The limits tree (and the import row at ``import_limit_kw``) over ``chargers``: the listed
        chargers plus any accepted unknown ones, which belong to the root."""
        return build_constraints(chargers, self.limits, self.site.import_limit_kw)

    def make_strategy(self) -> Strategy:
        """The site's strategy, a new object; a bad parameter is reported at ``strategy.<param>``."""
        try:
            return create(self.strategy.name, self.strategy.params)
        except StrategyError as error:
            key = f"strategy.{error.param}" if error.param else "strategy.name"
            raise ScenarioError(self.file_label, key, str(error)) from None


def load_site(path: str | Path) -> LiveSite:
    """Read and validate the site file at ``path`` (``ScenarioError`` naming the key on any problem)."""
    file = Path(path)
    return site_from_dict(read_toml(file), file)


def site_from_dict(data: Any, path: str | Path | None = None) -> LiveSite:
    """Validate a site mapping (as TOML gives it); ``path`` stands for the file (relative paths)."""
    file = Path(path).resolve() if path is not None else None
    label = str(path) if path is not None else "<site>"
    if not isinstance(data, dict):
        raise ScenarioError(label, "", f"a site file must be a table of keys, not {type_name(data)}", value=data,
                            expected="a mapping with [[chargers]]")
    root = Table(label, "", data)
    root.check_keys(ROOT_KEYS)
    base_dir = file.parent if file is not None else Path.cwd()
    security, without_security = read_security(root, base_dir)
    root = Table(label, "", without_security)  # the charger readers below know only a scenario's keys
    chargers = ChargerTable(tuple(_charger(root, i, spec) for i, spec in enumerate(build_chargers(root))))
    site = build_site(root)
    grid_t = root.table("grid", required=False)
    if site.buses is not None and grid_t is None:
        raise root.error("site.buses", "base-load buses need a feeder", value=list(site.buses),
                         expected="a [grid] table, or no site.buses")
    strategy_t = root.table("strategy", required=False)
    accept = _boolean(root, "accept_unknown_chargers", False)
    stem = file.stem if file is not None else "site"
    live = LiveSite(
        name=root.string("name", stem),
        path=file,
        chargers=chargers,
        limits=limit_nodes(site, chargers, label),
        site=site,
        tariff=build_tariff(root),
        strategy=_strategy(strategy_t) if strategy_t is not None else StrategySpec(),
        control=_control(root.table("control", required=False)),
        store_path=(base_dir / Path(root.string("store", f"{stem}.sqlite")).expanduser()).resolve(),
        time_zone=_time_zone(root),
        base_load_kw=root.number("base_load_kw", 0.0),
        accept_unknown_chargers=accept,
        unknown_charger=_unknown_charger(root, accept),
        grid=_grid(grid_t, base_dir) if grid_t is not None else None,
        description=root.string("description", "", allow_empty=True),
        security=security,
        api_public=_api_public(root.table("api", required=False)),
    )
    live.make_strategy()  # parameters are checked now, not at the first tick
    return live


def _charger(root: Table, index: int, spec: ChargerSpec) -> Charger:
    """A listed charger: an explicit one with a known phase and an id usable as an OCPP identity."""
    key = f"chargers[{index}]"
    if spec.place is not None:
        raise ScenarioError(root.file, f"{key}.place", "placement rules are for scenarios; a site file lists "
                            "each charger", value=spec.place, expected="id + bus for every charger")
    if spec.phase == "random":
        raise ScenarioError(root.file, f"{key}.phase", "a live charger is wired to one known phase",
                            value="random", expected="phase = 'L1', 'L2' or 'L3' for a single-phase charger")
    assert spec.charger_id is not None and spec.bus is not None
    if "/" in spec.charger_id:
        raise ScenarioError(root.file, f"{key}.id", "an OCPP identity is the last segment of the websocket "
                            "path and cannot contain '/'", value=spec.charger_id, expected="an id without '/'")
    return _from_spec(spec, spec.charger_id, spec.bus)


def _from_spec(spec: ChargerSpec, charger_id: str, bus: int) -> Charger:
    return Charger(charger_id=charger_id, bus=bus, phases=spec.phases, phase=spec.phase,
                   max_current_a=spec.max_current_a, min_current_a=spec.min_current_a, efficiency=spec.efficiency,
                   kind=spec.kind, current_step_a=spec.current_step_a, allowed_current_a=spec.allowed_current_a)


def _unknown_charger(root: Table, accept: bool) -> Charger | None:
    t = root.table("unknown_chargers", required=False)
    if t is None:
        return Charger(charger_id="", bus=0) if accept else None
    if not accept:
        raise root.error("unknown_chargers", "only used with accept_unknown_chargers = true", value=dict(t.data),
                         expected="accept_unknown_chargers = true, or no [unknown_chargers] table")
    t.check_keys(UNKNOWN_CHARGER_KEYS)
    spec = ChargerSpec(bus=t.integer("bus", 0, lo=0), **_electrical(t))
    if spec.phase == "random":
        raise t.error("phase", "a live charger is wired to one known phase", value="random",
                      expected="phase = 'L1', 'L2' or 'L3' for single-phase chargers")
    assert spec.bus is not None
    return _from_spec(spec, "", spec.bus)


def _control(t: Table | None) -> ControlSpec:
    if t is None:
        return ControlSpec()
    t.check_keys(CONTROL_KEYS)
    safe_a = t.number("safe_limit_a", IEC_MIN_CURRENT_A, lo=0.0)
    if 0.0 < safe_a < IEC_MIN_CURRENT_A:
        raise t.error("safe_limit_a", f"a charger cannot offer less than {IEC_MIN_CURRENT_A:g} A (IEC 61851) other "
                      "than 0", value=t.data["safe_limit_a"], expected=f"0 (pause) or a number >= {IEC_MIN_CURRENT_A:g}")
    return ControlSpec(
        period_s=t.number("period_s", 30.0, lo=0.0, lo_open=True),
        deadband_a=t.number("deadband_a", 1.0, lo=0.0),
        min_send_interval_s=t.number("min_send_interval_s", 60.0, lo=0.0),
        safe_limit_a=safe_a,
        stack_level=t.integer("stack_level", 1, lo=0),
    )


def _api_public(t: Table | None) -> tuple[str, ...]:
    if t is None:
        return ()
    t.check_keys(("public",))
    names = t.array("public", required=False) or []
    for name in names:
        if name not in API_SECTIONS:
            raise t.error("public", f"unknown API section {name!r}", value=name,
                          expected=f"a list of {', '.join(API_SECTIONS)}")
    return tuple(dict.fromkeys(names))


def _time_zone(root: Table) -> tzinfo:
    name = root.string("time_zone", "UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise root.error("time_zone", "unknown time zone", value=name,
                         expected="an IANA time zone such as 'Europe/Berlin' or 'UTC'") from None


def _boolean(t: Table, name: str, default: bool) -> bool:
    value = t.get(name, default)
    if not isinstance(value, bool):
        raise t.error(name, f"must be a boolean, not {type_name(value)}", value=value, expected="true or false")
    return value
