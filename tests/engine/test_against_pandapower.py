"""The voltages and loadings the model records equal an independent pandapower ``runpp``.

The reference net is a deep copy of the feeder taken before the engine's load flow touches it; the
charging power is added as one plain load per charger (the engine aggregates per bus), and
``runpp`` runs with default options (the engine warm-starts and recycles).
"""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pytest

from sim.engine import Simulation, build_setup
from sim.grid import make_loadflow
from sim.scenario import load_scenario, scenario_from_dict

from .conftest import small_scenario_dict


def _reference_vm(net, base, step, charger_buses, charger_p_kw):
    net = copy.deepcopy(net)
    net.load["p_mw"] = base.load_p_kw[step] / 1000.0
    net.load["q_mvar"] = base.load_q_kvar[step] / 1000.0
    if len(net.sgen):
        net.sgen["p_mw"] = base.sgen_p_kw[step] / 1000.0
    for bus, p_kw in zip(charger_buses, charger_p_kw, strict=True):
        pp.create_load(net, bus=int(bus), p_mw=p_kw / 1000.0, q_mvar=0.0, name="reference ev")
    pp.runpp(net, tolerance_mva=1e-10)
    return net


@pytest.mark.parametrize(
    "scenario",
    [
        small_scenario_dict(),
        small_scenario_dict(grid={"network": "cigre_lv"},
                            chargers=[{"place": "random_load_buses", "count": 12, "max_current_a": 32, "kind": "work"}]),
    ],
    ids=["kerber-landnetz-pv", "cigre-lv"],
)
def test_recorded_grid_equals_runpp(scenario) -> None:
    setup = build_setup(scenario_from_dict(scenario))
    reference_net = copy.deepcopy(setup.feeder.net)
    results = Simulation(setup).run()
    ts = results.timeseries
    charger_cols = [f"p_kw:{cid}" for cid in setup.chargers.ids]
    busiest = int(ts.charging_p_kw.to_numpy().argmax())
    steps = sorted({0, busiest, len(ts) // 2, len(ts) - 1})
    for step in steps:
        net = _reference_vm(reference_net, setup.base, step, setup.chargers.bus, ts.loc[step, charger_cols].to_numpy(float))
        vm_model = results.bus_vm_pu.iloc[step].to_numpy(float)
        vm_ref = net.res_bus.vm_pu.reindex([int(c) for c in results.bus_vm_pu.columns]).to_numpy(float)
        np.testing.assert_allclose(vm_model, vm_ref, atol=1e-6, rtol=0, err_msg=f"step {step}")
        lines = results.line_loading_percent.iloc[step].to_numpy(float)
        lines_ref = net.res_line.loading_percent.reindex([int(c) for c in results.line_loading_percent.columns])
        np.testing.assert_allclose(lines, lines_ref.to_numpy(float), atol=1e-4, rtol=0)
        assert ts.loc[step, "p_import_kw"] == pytest.approx(net.res_ext_grid.p_mw.sum() * 1000.0, abs=1e-3)
    assert ts.charging_p_kw.max() > 0


def test_default_scenario_day_equals_runpp() -> None:
    from sim.scenario import default_scenario_path

    scenario = load_scenario(default_scenario_path(), ["simulation.duration=1d"])
    setup = build_setup(scenario)
    reference_net = copy.deepcopy(setup.feeder.net)
    results = Simulation(setup).run()
    ts = results.timeseries
    step = int(ts.charging_p_kw.to_numpy().argmax())
    charger_cols = [f"p_kw:{cid}" for cid in setup.chargers.ids]
    net = _reference_vm(reference_net, setup.base, step, setup.chargers.bus, ts.loc[step, charger_cols].to_numpy(float))
    vm_ref = net.res_bus.vm_pu.reindex([int(c) for c in results.bus_vm_pu.columns]).to_numpy(float)
    np.testing.assert_allclose(results.bus_vm_pu.iloc[step].to_numpy(float), vm_ref, atol=1e-6, rtol=0)


def test_fast_and_pandapower_solvers_agree_end_to_end() -> None:
    """The default fast path and `loadflow = "pandapower"` give the same run to 1e-8 pu."""
    data = small_scenario_dict()
    runs = {}
    for solver in ("fast", "pandapower"):
        data["grid"] = {**data["grid"], "loadflow": solver}
        runs[solver] = Simulation(build_setup(scenario_from_dict(data))).run()
    fast, reference = runs["fast"], runs["pandapower"]
    assert fast.summary["loadflow"] == "fast" and reference.summary["loadflow"] == "pandapower"
    np.testing.assert_allclose(fast.bus_vm_pu.to_numpy(float), reference.bus_vm_pu.to_numpy(float), atol=1e-8, rtol=0)
    np.testing.assert_allclose(fast.line_loading_percent.to_numpy(float),
                               reference.line_loading_percent.to_numpy(float), atol=1e-6, rtol=0)
    assert fast.summary["kpis"]["energy_delivered_kwh"] == reference.summary["kpis"]["energy_delivered_kwh"]


class _ReadsGrid:
    """edf, but declaring that it reads the grid state: the engine gives it the look-ahead state."""

    name = "edf_reading_grid"
    needs_grid_state = True

    def __init__(self) -> None:
        from sim.strategies import create

        self.inner = create("edf")

    def compute(self, view):  # noqa: ANN001, ANN201
        assert view.grid is not None  # the look-ahead state of this tick
        return self.inner.compute(view)


def test_deferred_block_load_flow_equals_per_tick_solves() -> None:
    """The recorded (block-solved) load flows equal one warm-started ``solve`` per tick of the same
    powers, and a grid-reading strategy changes nothing but the look-ahead solves it costs."""
    data = small_scenario_dict(strategy={"name": "edf"})
    setup = build_setup(scenario_from_dict(data))
    deferred = Simulation(setup).run()
    reading = Simulation(build_setup(scenario_from_dict(data), strategy=_ReadsGrid())).run()
    assert deferred.summary["loadflow_deferred"] is True and deferred.summary["loadflow_fallbacks"] == 0
    assert deferred.summary["loadflow_lookahead_solves"] == 0
    assert reading.summary["loadflow_lookahead_solves"] == reading.summary["n_steps"]
    np.testing.assert_allclose(deferred.bus_vm_pu.to_numpy(float), reading.bus_vm_pu.to_numpy(float), atol=1e-12, rtol=0)
    loadflow = make_loadflow(setup.feeder, setup.chargers, "fast")
    charger_p_kw = deferred.timeseries[[f"p_kw:{cid}" for cid in setup.chargers.ids]].to_numpy()
    base = setup.base
    for step in range(len(charger_p_kw)):
        state = loadflow.solve(step, 0.0, base.load_p_kw[step], base.load_q_kvar[step], base.sgen_p_kw[step],
                               charger_p_kw[step])
        np.testing.assert_allclose(deferred.bus_vm_pu.to_numpy(float)[step], state.vm_pu, atol=1e-9, rtol=0)
        assert deferred.timeseries["p_import_kw"].iloc[step] == pytest.approx(state.p_import_kw, abs=1e-6)
        assert deferred.timeseries["max_line_loading_percent"].iloc[step] == pytest.approx(
            state.max_line_loading_percent, abs=1e-6)
