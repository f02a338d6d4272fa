"""``grid_aware`` under the unbalanced load flow: per-phase voltage rows keep every phase in its band.

One winter day of the IEEE European LV feeder (household peaks 5 kW) with 30 single-phase 7.4 kW home
chargers all on L1 (25 kWh per session, seeded): plain ``edf`` takes phase L1 far below 0.95 pu and a
cable above 100 %; ``grid_aware`` edf (vm_min_pu = 0.95, margin 0.005 pu) keeps every phase of every
bus at or above 0.95 pu at every recorded tick, and an independent ``runpp_3ph`` of the recorded
charging at the tightest ticks confirms it. Measured: edf 0.871 pu and 112 %, 364 kWh; grid_aware
0.9545 pu and 83 %, 322 kWh (88 %).

Charging on L1 shifts the neutral point and raises L2/L3 (highest phase 1.070 pu under edf, 1.066 under
grid_aware, from a 1.05 pu source): with ``vm_max_pu = 1.065`` the per-phase upper rows keep every
phase at or below it (measured 1.060 pu, 312 kWh).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sim.engine import Simulation, build_setup
from sim.errors import StrategyError
from sim.grid.unbalanced import Pandapower3phLoadFlow
from sim.scenario import load_scenario
from sim.strategies import create

VM_MIN_PU = 0.95
VM_MAX_PU = 1.065
SCENARIO = f"""
name = "grid-aware-unbalanced"
[simulation]
start = 2026-01-12T00:00:00+01:00
duration = "1d"
control_period_s = 900
seed = 8
[grid]
network = "ieee_european_lv"
loadflow = "unbalanced"
[grid.base_load]
profile = "household"
peak_kw = 5.0
[[chargers]]
place = "random_load_buses"
count = 30
id_prefix = "l1-"
phases = 1
phase = "L1"
max_current_a = 32
kind = "home"
[fleet]
source = "generate"
[fleet.kinds.home]
sessions_per_day = 1.0
energy_kwh_mean = 25.0
[battery]
model = "taper"
transition_soc = 0.8
[strategy]
name = "grid_aware"
inner = "edf"
vm_min_pu = {VM_MIN_PU}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = Path(tmp_path_factory.mktemp("scenario")) / "grid_aware_unbalanced.toml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    out = {}
    for name in ("edf", "grid_aware"):
        setup = build_setup(scenario, strategy=None if name == "grid_aware" else name)
        out[name] = (setup, Simulation(setup).run())
    capped = create("grid_aware", {"inner": "edf", "vm_min_pu": VM_MIN_PU, "vm_max_pu": VM_MAX_PU})
    setup = build_setup(scenario, strategy=capped)
    out["grid_aware_capped"] = (setup, Simulation(setup).run())
    return out


def test_edf_alone_takes_a_phase_below_the_band(runs) -> None:
    ts = runs["edf"][1].timeseries
    assert ts["vm_min_pu"].min() < VM_MIN_PU - 0.05
    assert ts["max_line_loading_percent"].max() > 100.0


def test_grid_aware_keeps_every_phase_in_the_band(runs) -> None:
    setup, results = runs["grid_aware"]
    ts = results.timeseries
    assert ts["vm_min_pu"].min() >= VM_MIN_PU  # the lowest phase of any bus (GridState.vm_min_pu)
    assert ts["max_line_loading_percent"].max() <= 100.0
    assert results.kpis["energy_delivered_kwh"] >= 0.8 * runs["edf"][1].kpis["energy_delivered_kwh"]
    assert results.summary["loadflow_lookahead_solves"] == results.summary["n_steps"]


def test_the_rows_are_per_phase(runs) -> None:
    """At the look-ahead state of the tightest tick the strategy adds voltage rows named per phase, on L1."""
    setup, results = runs["grid_aware"]
    sim = Simulation(setup)
    ts = results.timeseries
    step = int(np.argmin(ts["vm_min_pu"].to_numpy()))
    p_kw = ts[[f"p_kw:{cid}" for cid in setup.chargers.ids]].to_numpy()[step]
    base = setup.base
    grid = sim.loadflow.solve(step, float(setup.tick_s[step]), base.load_p_kw[step], base.load_q_kvar[step],
                              base.sgen_p_kw[step], p_kw)
    assert sim.linearisation is not None
    sens = sim.linearisation.at(grid)
    view_grid = replace(grid, charger_p_kw=p_kw, sensitivity=sens)
    names, _, _ = setup.strategy.feeder_rows(setup.chargers, view_grid, sens,  # type: ignore[attr-defined]
                                             np.full(len(setup.chargers), 7.4))
    vm_rows = [n for n in names if n.endswith(":vm_min")]
    assert vm_rows and all(":L1:" in n for n in vm_rows)


def test_an_independent_runpp_3ph_confirms_the_tightest_ticks(runs) -> None:
    setup, results = runs["grid_aware"]
    ts = results.timeseries
    charger_p_kw = ts[[f"p_kw:{cid}" for cid in setup.chargers.ids]].to_numpy()
    reference = Pandapower3phLoadFlow(setup.feeder, setup.chargers, numba=False)
    base = setup.base
    for step in np.argsort(ts["vm_min_pu"].to_numpy())[:2]:
        state = reference.solve(int(step), float(setup.tick_s[step]), base.load_p_kw[step], base.load_q_kvar[step],
                                base.sgen_p_kw[step], charger_p_kw[step])
        assert state.vm_min_pu >= VM_MIN_PU
        assert state.vm_min_pu == pytest.approx(ts["vm_min_pu"].iloc[step], abs=1e-6)



def test_vm_max_pu_keeps_the_raised_phases_below_the_band(runs) -> None:
    assert runs["grid_aware"][1].timeseries["vm_max_pu"].max() > VM_MAX_PU  # without the cap, L2/L3 rise above
    ts = runs["grid_aware_capped"][1].timeseries
    assert ts["vm_max_pu"].max() <= VM_MAX_PU
    assert ts["vm_min_pu"].min() >= VM_MIN_PU


def test_vm_max_pu_must_be_above_vm_min_pu() -> None:
    with pytest.raises(StrategyError, match="vm_max_pu"):
        create("grid_aware", {"vm_min_pu": 0.95, "vm_max_pu": 0.94})
