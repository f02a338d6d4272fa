"""``Simulation``: the discrete-event model of chargers, vehicles and the feeder (the only simpy user).

Three kinds of processes share one simpy environment:
- plug events: arrivals and departures in time order (a departure before an arrival at the same
  instant, so back-to-back sessions on one charger work), each followed by a new allocation;
- control ticks every ``control_period_s``: close the tick just ended (mean power per charger ->
  AC load flow with the base load and PV of that tick -> record), then allocate for the next;
- nothing else: energy is integrated exactly between events by ``SiteState.advance_to``.

The recorded load flows never feed a strategy, so with a solver that has ``solve_block`` (the fast
one) they are all solved after the run, in blocks. A strategy that reads the grid
(``needs_grid_state``, true unless it says otherwise) gets at each tick the *look-ahead* state: the
load flow of the coming tick's base load and PV with the chargers at their present power (a perfect
forecast in simulation, as the site forecast is), with its ``GridSensitivity`` where the network
allows (``sim.grid.sensitivity``); decisions at plug events within the tick reuse it.

Every allocation sees the site's constraints of the current tick (the import row's limit follows
the base load) and a perfect forecast from that tick on, both from the ``SiteModel`` built once
in ``build_setup`` (``sim.engine.site_model``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import simpy

import core_ext
from sim import __version__
from sim.domain import BatteryModel, ChargerTable, Constraints, Forecast, GridState, Timebase
from sim.engine.site_model import SiteModel, build_site_model, horizon_steps
from sim.engine.site_state import SiteState
from sim.errors import ScenarioError, StrategyError
from sim.grid import (
    BaseInjections,
    Feeder,
    UnsupportedNetworkError,
    build_feeder,
    make_loadflow,
    place_chargers,
)
from sim.grid.sensitivity import GridLinearisation
from sim.grid.sensitivity3ph import PhaseLinearisation
from sim.results import Recorder, Results
from sim.scenario import Scenario, load_scenario, scenario_hash
from sim.scenario.sessions import SessionSet, build_sessions
from sim.strategies import Strategy, create

ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class Setup:
    """Everything built from a scenario before the clock starts (what ``feedertwin validate`` checks)."""

    scenario: Scenario
    timebase: Timebase
    feeder: Feeder
    chargers: ChargerTable
    charger_kinds: tuple[str, ...]
    sessions: SessionSet
    strategy: Strategy
    tick_s: np.ndarray  # start of each control tick, seconds
    base: BaseInjections  # base load and PV per tick
    site: SiteModel  # the site's constraints, base load, PV and prices per tick (+ forecast horizon)


class Simulation:
    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        sc = setup.scenario
        self.period_s = sc.simulation.control_period_s
        self.n_steps = len(setup.tick_s)
        try:
            self.loadflow = make_loadflow(setup.feeder, setup.chargers, sc.grid.loadflow)
        except UnsupportedNetworkError as error:
            raise ScenarioError(str(sc.path or "<scenario>"), "grid.loadflow", str(error), value=sc.grid.loadflow,
                                expected='"pandapower" for this network') from None
        battery = BatteryModel(sc.battery.model, sc.battery.transition_soc)
        self.state = SiteState(setup.chargers, setup.sessions.sessions, battery)
        self.last_grid: GridState | None = None
        self.recorder = Recorder(self.n_steps, self.period_s, setup.timebase, setup.chargers.ids,
                                 self.loadflow.bus_ids, self.loadflow.line_ids, self.loadflow.trafo_ids)
        # Objects that do not say needs_grid_state = False get the look-ahead grid state (the safe default).
        self.reads_grid = bool(getattr(setup.strategy, "needs_grid_state", True))
        self.linearisation = self._linearisation(sc) if self.reads_grid else None
        # The recorded load flows feed no strategy: with a block solver they are solved after the run.
        self.defer_loadflow = hasattr(self.loadflow, "solve_block")
        self._tick_p_kw = np.zeros((self.n_steps, len(setup.chargers))) if self.defer_loadflow else None
        self.n_lookahead_solves = 0
        self._site_step: tuple[int, tuple[float, Constraints, Forecast]] | None = None

    def _linearisation(self, scenario: Scenario) -> GridLinearisation | PhaseLinearisation | None:
        """Sensitivities for grid-reading strategies; None where the network has elements the
        current-injection model cannot describe (a strategy that needs them then says so)."""
        try:
            return GridLinearisation.for_loadflow(self.loadflow, self.setup.chargers)
        except UnsupportedNetworkError:
            return None

    @classmethod
    def from_scenario(cls, scenario: Scenario, *, strategy: str | Strategy | None = None) -> Simulation:
        return cls(build_setup(scenario, strategy=strategy))

    # --- the run ------------------------------------------------------------------------------
    def run(self, progress: ProgressFn | None = None) -> Results:
        started = time.perf_counter()
        env = simpy.Environment()
        env.process(self._plug_events(env))
        ticks = env.process(self._ticks(env, progress))
        env.run(until=ticks)
        if self.defer_loadflow:
            self._solve_and_record_deferred()
        return self._finish(time.perf_counter() - started)

    def _plug_events(self, env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        st = self.state
        events = [(t, 1, k) for k, t in enumerate(st.arrival_s)] + [(t, 0, k) for k, t in enumerate(st.departure_s)]
        for t_s, is_arrival, k in sorted(events):
            if t_s > env.now:
                yield env.timeout(t_s - env.now)
            st.advance_to(env.now)
            if is_arrival:
                st.plug_in(k)
            else:
                st.unplug(k)
            self._allocate(env.now)

    def _ticks(self, env: simpy.Environment, progress: ProgressFn | None) -> Generator[simpy.Event, Any, None]:
        for step in range(self.n_steps):
            if self.reads_grid:
                self.last_grid = self._lookahead(step)
            self._allocate(env.now)
            yield env.timeout(self.period_s)
            self.state.advance_to(env.now)
            self._close_tick(step)
            if progress is not None:
                progress((step + 1) / self.n_steps)

    def _next_tick_s(self, t_s: float) -> float:
        return (math.floor(t_s / self.period_s + 1e-9) + 1.0) * self.period_s

    def _allocate(self, t_s: float) -> None:
        step = min(int(t_s // self.period_s), self.n_steps - 1)
        accept_kw, max_current_a = self.state.limits(t_s, self._next_tick_s(t_s))
        base_load_kw, constraints, forecast = self._site_at(step)
        view = self.state.view(t_s, self.period_s, accept_kw, self.last_grid, base_load_kw, constraints, forecast,
                               max_current_a=max_current_a)
        self.state.apply(self.setup.strategy, view, accept_kw)

    def _site_at(self, step: int) -> tuple[float, Constraints, Forecast]:
        """The site's base load, constraints and forecast of tick ``step``, built once per tick and
        shared by every decision inside it (plug events: about 0.7 per tick)."""
        if self._site_step is None or self._site_step[0] != step:
            site = self.setup.site
            self._site_step = (step, (float(site.base_load_kw[step]), site.constraints_at(step), site.forecast_at(step)))
        return self._site_step[1]

    def _lookahead(self, step: int) -> GridState:
        """The load flow of tick ``step``'s base load and PV with the chargers at their present power."""
        base, st = self.setup.base, self.state
        p_now_kw = np.zeros(len(self.setup.chargers))
        p_now_kw[st.plugged.charger_index] = st.active_p_kw
        grid = self.loadflow.solve(step, float(self.setup.tick_s[step]), base.load_p_kw[step], base.load_q_kvar[step],
                                   base.sgen_p_kw[step], p_now_kw)
        self.n_lookahead_solves += 1
        has_angles = grid.va_degree is not None or grid.va_phase_degree is not None  # balanced or per phase
        sensitivity = self.linearisation.at(grid) if self.linearisation is not None and has_angles else None
        return replace(grid, charger_p_kw=p_now_kw, sensitivity=sensitivity)

    def _close_tick(self, step: int) -> None:
        base = self.setup.base
        charger_p_kw = self.state.take_tick_power_kw(self.period_s)
        if self._tick_p_kw is not None:
            self._tick_p_kw[step] = charger_p_kw  # solved and recorded after the run
            return
        t_s = float(self.setup.tick_s[step])
        grid = self.loadflow.solve(step, t_s, base.load_p_kw[step], base.load_q_kvar[step], base.sgen_p_kw[step], charger_p_kw)
        self._record(step, charger_p_kw, grid)

    def _solve_and_record_deferred(self) -> None:
        """Every tick's load flow in one block solve, then all rows at once, as ``_close_tick`` would have."""
        assert self._tick_p_kw is not None
        base, n, site = self.setup.base, self.n_steps, self.setup.site
        block = self.loadflow.solve_block(  # type: ignore[attr-defined]
            base.load_p_kw[:n], base.load_q_kvar[:n], base.sgen_p_kw[:n], self._tick_p_kw, t_s=self.setup.tick_s
        )
        broken, use = site.limit_use_all(self.setup.chargers.current_a(self._tick_p_kw))
        self.recorder.record_block(
            0, self.setup.tick_s[:n], self._tick_p_kw, base.load_p_kw[:n].sum(axis=1), base.sgen_p_kw[:n].sum(axis=1),
            block, site_base_load_kw=site.base_load_kw[:n], price_per_kwh=site.price_per_kwh[:n],
            site_limit_violation=broken, site_limit_max_use_percent=use,
        )

    def _record(self, step: int, charger_p_kw: np.ndarray, grid: GridState,
                limit_use: tuple[bool, float] | None = None) -> None:
        base = self.setup.base
        t_s = float(self.setup.tick_s[step])
        site = self.setup.site
        if limit_use is None:
            limit_use = site.limit_use(step, self.setup.chargers.current_a(charger_p_kw))
        violated, max_use = limit_use
        self.recorder.record_step(step, t_s, charger_p_kw, float(base.load_p_kw[step].sum()),
                                  float(base.sgen_p_kw[step].sum()), grid,
                                  site_base_load_kw=float(site.base_load_kw[step]),
                                  price_per_kwh=float(site.price_per_kwh[step]),
                                  site_limit_violation=violated, site_limit_max_use_percent=max_use)

    def _finish(self, wall_time_s: float) -> Results:
        setup, st = self.setup, self.state
        sc = setup.scenario
        tb = setup.timebase
        sessions = pd.DataFrame({
            "session_id": [s.session_id for s in st.sessions],
            "charger_id": [s.charger_id for s in st.sessions],
            "bus": setup.chargers.bus[st.charger_index] if len(st.sessions) else np.zeros(0, dtype=np.int64),
            "arrival": pd.to_datetime(tb.to_datetime64(st.arrival_s)).tz_localize("UTC"),
            "departure": pd.to_datetime(tb.to_datetime64(st.departure_s)).tz_localize("UTC"),
            "energy_requested_kwh": st.requested_kwh,
            "energy_delivered_kwh": st.delivered_kwh,
            "max_power_kw": st.limit_kw,
        })
        meta: dict[str, Any] = {
            "scenario": sc.name,
            "scenario_hash": scenario_hash(sc),
            "seed": sc.simulation.seed,
            "version": __version__,
            "core_backend": core_ext.BACKEND,
            "wall_time_s": round(wall_time_s, 3),
            "strategy": setup.strategy.name,
            "start": sc.simulation.start.isoformat(),
            "duration_s": sc.simulation.duration_s,
            "control_period_s": self.period_s,
            "n_steps": self.n_steps,
            "n_chargers": len(setup.chargers),
            "n_sessions": len(st.sessions),
            "sessions_outside_window": setup.sessions.outside_window,
            "sessions_truncated": setup.sessions.truncated,
            "session_source": setup.sessions.source,
            "grid": describe_grid(sc),
            "loadflow": sc.grid.loadflow,
            "vm_band_pu": sc.grid.vm_band_pu,
            "vuf_limit_percent": sc.grid.vuf_limit_percent,
            "loadflow_deferred": self.defer_loadflow,
            "loadflow_fallbacks": int(getattr(self.loadflow, "n_fallbacks", 0)),
            "loadflow_lookahead_solves": self.n_lookahead_solves,
            "battery_model": sc.battery.model,
            "import_limit_kw": sc.site.import_limit_kw,
            "site_limit_rows": len(setup.site.constraints.row_names),
            "buses": pd.DataFrame({
                "bus": np.asarray(setup.feeder.bus_ids, dtype=np.int64),
                "name": [str(n) for n in setup.feeder.bus_names],
                "distance_km": np.asarray(setup.feeder.bus_distance_km(), dtype=float),
            }),
        }
        return self.recorder.finish(sessions, meta)


def describe_grid(scenario: Scenario) -> str:
    g = scenario.grid
    if g.network:
        return f"network:{g.network}"
    if g.simbench:
        return f"simbench:{g.simbench}"
    return f"file:{g.file.name if g.file else '?'}"


def build_setup(scenario: Scenario, *, strategy: str | Strategy | None = None) -> Setup:
    """Build feeder, chargers, sessions and strategy from a scenario; every input error surfaces here."""
    sim_spec = scenario.simulation
    timebase = Timebase(sim_spec.start)
    # Independent streams per component, so e.g. changing the fleet does not move the chargers.
    grid_seq, place_seq, fleet_seq = np.random.SeedSequence(sim_spec.seed).spawn(3)
    file = str(scenario.path or "<scenario>")
    feeder = build_feeder(scenario.grid, scenario.base_dir, timebase, np.random.default_rng(grid_seq), scenario_file=file)
    chargers, kinds = place_chargers(scenario.chargers, feeder, np.random.default_rng(place_seq), file)
    table = ChargerTable(chargers)
    sessions = build_sessions(scenario, table, kinds, np.random.default_rng(fleet_seq))
    chosen = create(strategy) if strategy is not None else _strategy_from_scenario(scenario, file)
    n_steps = int(round(sim_spec.duration_s / sim_spec.control_period_s))
    horizon = horizon_steps(sim_spec.control_period_s)
    # Every tick plus one forecast horizon beyond the end, computed once; the run uses the prefix.
    full = feeder.base_injections(np.arange(n_steps + horizon, dtype=float) * sim_spec.control_period_s)
    site = build_site_model(scenario, feeder, table, timebase, full, horizon)
    base = BaseInjections(full.t_s[:n_steps], full.load_p_kw[:n_steps], full.load_q_kvar[:n_steps],
                          full.sgen_p_kw[:n_steps])
    return Setup(scenario, timebase, feeder, table, tuple(kinds), sessions, chosen, base.t_s, base, site)


def _strategy_from_scenario(scenario: Scenario, file: str) -> Strategy:
    """The scenario's strategy; a bad parameter is reported at its key in the scenario file."""
    try:
        return create(scenario.strategy.name, scenario.strategy.params)
    except StrategyError as error:
        key = f"strategy.{error.param}" if error.param else "strategy.name"
        value = _nested(scenario.strategy.params, error.param) if error.param else scenario.strategy.name
        raise ScenarioError(file, key, str(error), value=value) from None


def _nested(params: Mapping[str, Any], dotted: str) -> Any:
    """``params["a"]["b"]`` for ``"a.b"`` (a nested strategy parameter); ``...`` where absent."""
    value: Any = params
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return ...
        value = value[key]
    return value


def simulate(
    scenario: Scenario | str | Path,
    *,
    strategy: str | Strategy | None = None,
    overrides: Sequence[str] = (),
    progress: ProgressFn | None = None,
) -> Results:
    """Run a scenario (object or file path) end to end and return its results.

    The Python API behind ``feedertwin run``; ``overrides`` are ``--set`` strings, applied when a
    path is given.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, overrides)
    elif overrides:
        raise TypeError("overrides apply to a scenario file path; edit the Scenario object instead")
    return Simulation.from_scenario(scenario, strategy=strategy).run(progress)
