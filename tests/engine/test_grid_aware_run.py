"""``grid_aware`` end to end: where ``edf`` alone breaks the feeder's limits, ``grid_aware`` edf does not.

The scenario is the shipped IEEE European LV case (55 households, a 22 kW charger at each) made
heavier (5 kW household peaks, 25 kWh per session) over four winter days. ``edf`` takes the lowest
bus voltage below 0.95 pu and a cable above 100 %; ``grid_aware`` (vm_min_pu = 0.95, line and
transformer loading 100 %) must keep every recorded tick within both, and an independent pandapower
``runpp`` of the recorded charging powers at the tightest ticks must confirm it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandapower as pp
import pytest

from sim.domain import Setpoints, SiteView
from sim.engine import Simulation, build_setup
from sim.scenario import load_scenario
from sim.strategies import create

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "ieee_eu_lv_grid_aware.toml"
HEAVY = ["simulation.duration=4d", "fleet.kinds.home.energy_kwh_mean=25", "grid.base_load.peak_kw=5"]
VM_MIN_PU = 0.95


@pytest.fixture(scope="module")
def runs():
    scenario = load_scenario(SCENARIO, HEAVY)
    out = {}
    for name in ("edf", "grid_aware"):
        setup = build_setup(scenario, strategy=None if name == "grid_aware" else name)
        net = copy.deepcopy(setup.feeder.net)
        out[name] = (setup, net, Simulation(setup).run())
    return out


def test_edf_alone_breaks_the_limits(runs) -> None:
    ts = runs["edf"][2].timeseries
    assert ts["vm_min_pu"].min() < VM_MIN_PU - 0.02
    assert ts["max_line_loading_percent"].max() > 110.0


def test_grid_aware_keeps_voltage_and_loading_within_limits(runs) -> None:
    setup, _, results = runs["grid_aware"]
    ts = results.timeseries
    assert setup.strategy.name == "grid_aware"
    assert ts["vm_min_pu"].min() >= VM_MIN_PU
    assert ts["max_line_loading_percent"].max() <= 100.0
    assert ts["max_trafo_loading_percent"].max() <= 100.0
    # it charges as much as the feeder allows: almost everything edf delivered
    edf_kwh = runs["edf"][2].kpis["energy_delivered_kwh"]
    assert results.kpis["energy_delivered_kwh"] >= 0.97 * edf_kwh
    summary = results.summary
    assert summary["loadflow_lookahead_solves"] == summary["n_steps"]


def test_an_independent_runpp_confirms_the_tightest_ticks(runs) -> None:
    setup, net, results = runs["grid_aware"]
    ts = results.timeseries
    charger_p_kw = ts[[f"p_kw:{cid}" for cid in setup.chargers.ids]].to_numpy()
    tightest = np.unique(np.concatenate([np.argsort(ts["vm_min_pu"].to_numpy())[:3],
                                         np.argsort(-ts["max_line_loading_percent"].to_numpy())[:3]]))
    base = setup.base
    for step in tightest:
        ref = copy.deepcopy(net)
        ref.load["p_mw"] = base.load_p_kw[step] / 1000.0
        ref.load["q_mvar"] = base.load_q_kvar[step] / 1000.0
        if len(ref.sgen):
            ref.sgen["p_mw"] = base.sgen_p_kw[step] / 1000.0
        for bus, p_kw in zip(setup.chargers.bus, charger_p_kw[step], strict=True):
            pp.create_load(ref, bus=int(bus), p_mw=p_kw / 1000.0, q_mvar=0.0)
        pp.runpp(ref, tolerance_mva=1e-10)
        assert ref.res_bus.vm_pu.min() >= VM_MIN_PU
        assert ref.res_line.loading_percent.max() <= 100.0
        assert ref.res_bus.vm_pu.min() == pytest.approx(ts["vm_min_pu"].iloc[step], abs=1e-6)


class _Spy:
    """A grid-reading strategy that records what the engine gives it (and charges nothing)."""

    name = "spy"

    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, object]] = []

    def compute(self, view: SiteView) -> Setpoints:
        grid = view.grid
        assert grid is not None
        self.seen.append((view.time_s, grid.time_s, grid))
        return Setpoints.zeros(len(view.chargers))


def test_grid_reading_strategies_get_the_lookahead_state_with_sensitivities() -> None:
    scenario = load_scenario(SCENARIO, ["simulation.duration=6h"])
    spy = _Spy()
    simulation = Simulation(build_setup(scenario, strategy=spy))
    simulation.run()
    period_s = scenario.simulation.control_period_s
    for time_s, grid_time_s, grid in spy.seen:
        # the state of the tick the decision falls in, not of the tick before
        assert grid_time_s == pytest.approx(np.floor(time_s / period_s + 1e-9) * period_s)
        assert grid.sensitivity is not None and grid.charger_p_kw is not None and grid.va_degree is not None
    assert len({grid_time_s for _, grid_time_s, _ in spy.seen}) == simulation.n_steps  # one per tick


def test_the_pandapower_solver_gives_the_same_decisions() -> None:
    overrides = ["simulation.duration=20h", "fleet.kinds.home.energy_kwh_mean=25", "grid.base_load.peak_kw=5"]
    delivered = {}
    for solver in ("fast", "pandapower"):
        scenario = load_scenario(SCENARIO, [*overrides, f"grid.loadflow={solver}"])
        delivered[solver] = Simulation(build_setup(scenario)).run().sessions["energy_delivered_kwh"].to_numpy()
    np.testing.assert_allclose(delivered["fast"], delivered["pandapower"], atol=1e-4)


def test_grid_aware_wraps_other_strategies() -> None:
    scenario = load_scenario(SCENARIO, HEAVY)
    strategy = create("grid_aware", {"inner": "equal_share", "vm_min_pu": VM_MIN_PU})
    ts = Simulation(build_setup(scenario, strategy=strategy)).run().timeseries
    assert ts["vm_min_pu"].min() >= VM_MIN_PU
    assert ts["max_line_loading_percent"].max() <= 100.0


def test_the_voltage_drop_filter_changes_no_decision(runs, monkeypatch) -> None:
    """``grid_aware`` filters the voltage rows with ``Sensitivity.vm_drop_bounds`` (increases only)
    and ``largest_changes`` where the state allows; with the looser ``change_bounds`` alone (as for a
    state whose angles do not allow them) every decision is the same."""
    from sim.grid.sensitivity import Sensitivity

    setup, _, results = runs["grid_aware"]
    monkeypatch.setattr(Sensitivity, "_charging_lowers_every_voltage", property(lambda self: False))
    again = Simulation(build_setup(setup.scenario)).run()
    columns = [f"p_kw:{cid}" for cid in setup.chargers.ids]
    np.testing.assert_array_equal(again.timeseries[columns].to_numpy(), results.timeseries[columns].to_numpy())
