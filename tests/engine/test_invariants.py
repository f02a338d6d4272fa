"""Energy conservation and plug-in windows hold on random sessions (hypothesis).

Marked ``core``: it exercises the scheduling core through the engine, so ``make test`` runs it
against both the compiled kernels and the pure-Python twin.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.domain import Session
from sim.engine import Simulation, build_setup
from sim.scenario import scenario_from_dict
from sim.scenario.sessions import SessionSet

from .conftest import small_scenario_dict

pytestmark = pytest.mark.core

PERIODS_S = (60, 300, 900)


@st.composite
def session_plans(draw):
    """Random sessions on a few chargers: edges on tick boundaries, back-to-back, shorter than a tick."""
    period_s = draw(st.sampled_from(PERIODS_S))
    duration_s = 6 * 3600
    n_chargers = draw(st.integers(1, 4))
    sessions = []
    for c in range(n_chargers):
        t = 0.0
        for _ in range(draw(st.integers(0, 4))):
            gap = draw(st.sampled_from([0.0, period_s, 0.5 * period_s, 1234.5]))
            length = draw(st.sampled_from([30.0, period_s, 2.5 * period_s, 5400.0, 3 * 3600.0]))
            arrival, departure = t + gap, min(t + gap + length, duration_s)
            if arrival >= duration_s - 1 or departure <= arrival:
                break
            energy = draw(st.floats(0.1, 60.0))
            max_kw = draw(st.sampled_from([math.inf, 3.7, 7.4, 11.0]))
            sessions.append((c, arrival, departure, energy, max_kw, draw(st.floats(0.0, 0.9))))
            t = departure
    return period_s, duration_s, n_chargers, sessions, draw(st.sampled_from(["ideal", "taper"]))


def _run(plan):
    period_s, duration_s, n_chargers, raw, battery = plan
    data = small_scenario_dict(
        simulation={"start": "2026-03-02T00:00:00+01:00", "duration": duration_s, "control_period_s": period_s, "seed": 5},
        chargers=[{"id": f"c{c}", "bus": 3, "max_current_a": 16} for c in range(n_chargers)],
        battery={"model": battery},
    )
    setup = build_setup(scenario_from_dict(data))
    sessions = tuple(
        Session(f"s{k}", f"c{c}", arr, dep, energy, max_kw, battery_kwh=60.0, soc_arrival=soc)
        for k, (c, arr, dep, energy, max_kw, soc) in enumerate(sorted(raw, key=lambda r: r[1]))
    )
    setup = dataclasses.replace(setup, sessions=SessionSet(sessions, 0, 0, "test"))
    return setup, Simulation(setup).run()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=session_plans())
def test_energy_is_conserved_and_windows_hold(plan) -> None:
    setup, results = _run(plan)
    period_h = plan[0] / 3600.0
    ts, sess = results.timeseries, results.sessions
    eff = dict(zip(setup.chargers.ids, setup.chargers.efficiency, strict=True))
    for cid in setup.chargers.ids:
        mine = sess[sess.charger_id == cid]
        charger_kwh = ts[f"p_kw:{cid}"].to_numpy().sum() * period_h * eff[cid]
        assert charger_kwh == pytest.approx(mine.energy_delivered_kwh.sum(), rel=1e-9, abs=1e-9)
    # Nobody gets more than asked; a vehicle never draws more than its limit allows.
    assert (sess.energy_delivered_kwh <= sess.energy_requested_kwh + 1e-9).all()
    # No power in ticks where no session of that charger is plugged in.
    t0 = ts.t_s.to_numpy()
    for cid in setup.chargers.ids:
        arr = [s.arrival_s for s in setup.sessions.sessions if s.charger_id == cid]
        dep = [s.departure_s for s in setup.sessions.sessions if s.charger_id == cid]
        plugged = np.zeros(len(t0), dtype=bool)
        for a, d in zip(arr, dep, strict=True):
            plugged |= (t0 < d) & (t0 + plan[0] > a)
        assert (ts[f"p_kw:{cid}"].to_numpy()[~plugged] == 0.0).all()
    # Energy within a session never exceeds what its time window allows at its limit.
    for s in setup.sessions.sessions:
        row = sess[sess.session_id == s.session_id].iloc[0]
        charger_kw = setup.chargers.power_kw(setup.chargers.max_current_a)[setup.chargers.index_of()[s.charger_id]]
        cap_kw = min(s.max_power_kw, charger_kw)
        assert row.energy_delivered_kwh <= cap_kw * (s.departure_s - s.arrival_s) / 3600.0 + 1e-9


def test_uncontrolled_serves_a_lone_vehicle_at_full_power() -> None:
    plan = (900, 6 * 3600, 1, [(0, 0.0, 4 * 3600.0, 11.0, math.inf, 0.2)], "ideal")
    setup, results = _run(plan)
    row = results.sessions.iloc[0]
    assert row.energy_delivered_kwh == pytest.approx(11.0)
    p = results.timeseries["p_kw:c0"].to_numpy()
    full_kw = 3 * 230 * 16 / 1000
    # 11 kWh into the car at 95 % efficiency needs 11 / 0.95 kWh from the grid at 11.04 kW
    grid_h = 11.0 / 0.95 / full_kw
    assert p[0] == pytest.approx(full_kw)
    assert p.sum() * 0.25 == pytest.approx(11.0 / 0.95)
    assert (p[int(grid_h / 0.25) + 1:] == 0).all()
