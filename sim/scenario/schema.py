"""The validated, typed form of a scenario file.

``sim.scenario.load`` turns a TOML file into a ``Scenario``; every other room reads only these
frozen dataclasses, never the raw TOML. Paths are resolved relative to the scenario file.
``Scenario.raw`` keeps the (override-applied) TOML mapping for hashing and saving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

NETWORK_KEYS = ("network", "simbench", "file")
BASE_LOAD_PROFILES = ("household", "simbench", "none")
PLACEMENT_RULES = ("per_load_bus", "random_load_buses")
FLEET_SOURCES = ("generate", "csv", "acn")
SESSION_ASSIGN = ("by_id", "in_order")
# "unbalanced": the three-phase load flow (fast path, sim.grid.unbalanced); "unbalanced_pandapower": runpp_3ph
LOADFLOW_SOLVERS = ("pandapower", "fast", "unbalanced", "unbalanced_pandapower")
PER_PHASE_LOADFLOWS = ("unbalanced", "unbalanced_pandapower")
"""The ``[grid] loadflow`` values whose results are per phase."""
CHARGER_KINDS = ("home", "work", "public")
TARIFF_DAYS = ("all", "weekdays", "weekend")
# The days of the week (Monday = 0) each ``TariffPeriod.days`` value covers.
TARIFF_DAYS_OF_WEEK: dict[str, frozenset[int]] = {
    "all": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekend": frozenset((5, 6)),
}
DEFAULT_PRICE_PER_KWH = 0.30
NETWORK_NAMES = (
    "cigre_lv",
    "ieee_european_lv",
    "kerber_landnetz_kabel_1",
    "kerber_landnetz_kabel_2",
    "kerber_landnetz_freileitung_1",
    "kerber_landnetz_freileitung_2",
    "kerber_dorfnetz",
    "kerber_vorstadtnetz_kabel_1",
    "kerber_vorstadtnetz_kabel_2",
)
# The strategy registry (sim.strategies) is the source of truth; this is the list the loader
# checks names against until the registry feeds it (kept equal by a test).
STRATEGY_NAMES = ("uncontrolled", "equal_share", "fcfs", "edf", "llf", "peak_shaving", "price_aware", "pv_surplus", "mpc",
                  "grid_aware")


@dataclass(frozen=True)
class SimulationSpec:
    start: datetime  # time-zone aware
    duration_s: float
    control_period_s: float
    seed: int


@dataclass(frozen=True)
class BaseLoadSpec:
    """Profiles for the feeder's existing loads.

    ``household``: the shipped standard household profile (normalised to a peak of 1) times each
    load's rated ``p_mw``, times ``scale``. ``simbench``: the grid's own SimBench profiles (only for
    SimBench grids). ``none``: existing loads at zero. ``peak_kw`` (household profile only) gives
    every load the same peak instead of its rated ``p_mw`` (for feeders whose loads hold a snapshot,
    like the IEEE European LV feeder); reactive power keeps each load's own q/p ratio.
    """

    profile: str = "household"
    scale: float = 1.0
    peak_kw: float | None = None  # household only: every load's peak, instead of its rated p_mw


@dataclass(frozen=True)
class PvSpec:
    """Rooftop PV at a share of the load buses (chosen with the scenario seed)."""

    share: float = 0.0
    kwp: float = 5.0


@dataclass(frozen=True)
class GridSpec:
    """Exactly one of ``network`` (a name from ``sim.grid.NETWORKS``), ``simbench`` (a SimBench
    code) or ``file`` (a pandapower JSON file) is set."""

    network: str | None = None
    simbench: str | None = None
    file: Path | None = None
    base_load: BaseLoadSpec = field(default_factory=BaseLoadSpec)
    pv: PvSpec | None = None
    loadflow: str = "fast"  # "fast": fixed-point on pandapower's Ybus; "pandapower": runpp every tick
    vm_band_pu: tuple[float, float] = (0.9, 1.1)  # the voltage band of the KPIs and the report (EN 50160)
    vuf_limit_percent: float = 2.0  # the unbalance limit of an unbalanced run's KPIs (EN 50160)


@dataclass(frozen=True)
class ChargerSpec:
    """One explicit charger (``bus`` set) or a placement rule (``place`` set).

    Rules: ``per_load_bus`` puts one charger on each bus that has a load (a random ``share`` of
    them); ``random_load_buses`` puts ``count`` chargers on load buses drawn with the seed.
    ``phase`` for single-phase chargers is ``L1``/``L2``/``L3`` or ``random``.
    """

    charger_id: str | None = None  # explicit chargers; rules use id_prefix
    bus: int | None = None
    place: str | None = None
    count: int | None = None
    share: float = 1.0
    id_prefix: str = "cp"
    phases: int = 3
    phase: str = "L1L2L3"
    max_current_a: float = 16.0
    min_current_a: float = 6.0
    efficiency: float = 0.95
    kind: str = "home"
    current_step_a: float = 0.0  # currents in multiples of this; 0 = continuous
    allowed_current_a: tuple[float, ...] = ()  # a finite set (sorted, without 0); 0 A is always allowed


@dataclass(frozen=True)
class LimitSpec:
    """One node of the site's limits tree (``[[site.limits]]``).

    ``parent`` is ``None`` for the one root. ``chargers`` are charger ids wired directly below
    this node; ``charger_prefix`` adds every charger whose id starts with it (expanded by the
    engine once the chargers are placed). A charger under no node belongs to the root.
    """

    node_id: str
    parent: str | None = None
    max_current_a: float | None = None  # per phase
    max_kva: float | None = None
    chargers: tuple[str, ...] = ()
    charger_prefix: str | None = None


@dataclass(frozen=True)
class SiteSpec:
    """The site the chargers belong to: its import limit, its base-load buses, its limits tree.

    ``buses`` is ``None`` for the whole feeder (the base load the transformer sees).
    """

    import_limit_kw: float | None = None  # base load + charging
    buses: tuple[int, ...] | None = None
    limits: tuple[LimitSpec, ...] = ()


@dataclass(frozen=True)
class TariffPeriod:
    """A time-of-use period: local hours ``[start_h, end_h)`` on ``days`` (all | weekdays | weekend)."""

    start_h: float
    end_h: float
    price_per_kwh: float
    days: str = "all"


@dataclass(frozen=True)
class TariffSpec:
    """Energy price (currency per kWh): ``price_per_kwh`` wherever no period applies."""

    price_per_kwh: float = DEFAULT_PRICE_PER_KWH
    periods: tuple[TariffPeriod, ...] = ()


@dataclass(frozen=True)
class KindProfile:
    """Stochastic session parameters for one charger kind (hours are local time)."""

    sessions_per_day: float
    arrival_h_mean: float
    arrival_h_std: float
    dwell_h_mean: float
    dwell_h_std: float
    energy_kwh_mean: float
    energy_kwh_std: float
    weekend_factor: float = 1.0


@dataclass(frozen=True)
class FleetSpec:
    source: str = "generate"
    file: Path | None = None
    assign: str = "by_id"
    kinds: dict[str, KindProfile] = field(default_factory=dict)  # overrides of the built-in kinds
    vehicles: tuple[str, ...] = ()  # catalogue names to draw from; empty = whole catalogue


@dataclass(frozen=True)
class BatterySpec:
    model: str = "ideal"  # ideal | taper
    transition_soc: float = 0.8
    default_capacity_kwh: float = 60.0


@dataclass(frozen=True)
class StrategySpec:
    name: str = "uncontrolled"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path | None
    simulation: SimulationSpec
    grid: GridSpec
    chargers: tuple[ChargerSpec, ...]
    fleet: FleetSpec
    battery: BatterySpec
    strategy: StrategySpec
    description: str = ""
    site: SiteSpec = field(default_factory=SiteSpec)
    tariff: TariffSpec = field(default_factory=TariffSpec)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()


# Built-in stochastic session parameters per charger kind; [fleet.kinds.<kind>] overrides any field.
BUILTIN_KINDS: dict[str, KindProfile] = {
    "home": KindProfile(
        sessions_per_day=0.8, arrival_h_mean=18.0, arrival_h_std=2.0, dwell_h_mean=13.0,
        dwell_h_std=2.0, energy_kwh_mean=12.0, energy_kwh_std=5.0, weekend_factor=1.0,
    ),
    "work": KindProfile(
        sessions_per_day=0.9, arrival_h_mean=8.5, arrival_h_std=1.0, dwell_h_mean=8.5,
        dwell_h_std=1.5, energy_kwh_mean=10.0, energy_kwh_std=4.0, weekend_factor=0.2,
    ),
    "public": KindProfile(
        sessions_per_day=3.0, arrival_h_mean=13.0, arrival_h_std=3.5, dwell_h_mean=2.0,
        dwell_h_std=1.0, energy_kwh_mean=15.0, energy_kwh_std=7.0, weekend_factor=0.8,
    ),
}
