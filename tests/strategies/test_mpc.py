"""The ``mpc`` strategy: feasibility, deadlines, prices, peaks, re-solve logic, parameter errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.domain import ActiveSessions, Charger, ChargerTable, Forecast, LimitNode, SiteView, build_constraints
from sim.domain.constraints import Constraints
from sim.errors import StrategyError
from sim.strategies._mpc_lp import _period_edges, horizon_of
from sim.strategies.mpc import Mpc, apply_plan, solve_plan
from tests.strategies._sites import check_feasible, site_views

KW_PER_A_3PH = 3 * 230 / 1000  # 0.69 kW per A per phase


@dataclass(frozen=True)
class Ev:
    """A session of a hand case: plugged in at ``arrival_s`` on charger ``charger``."""

    sid: str
    charger: int
    arrival_s: float
    departure_s: float
    energy_kwh: float


def chargers_3ph(n: int, max_a: float = 32.0, efficiency: float = 1.0) -> ChargerTable:
    return ChargerTable(tuple(Charger(f"cp{i}", 1, max_current_a=max_a, efficiency=efficiency) for i in range(n)))


def make_view(chargers: ChargerTable, sessions: Sequence[tuple[str, int, float, float, float, float]], *,
              t_s: float = 0.0, period_s: float = 300.0, cons: Constraints | None = None,
              forecast: Forecast | None = None, base_kw: float = 0.0) -> SiteView:
    """A view from (id, charger index, departure_s, requested kWh, delivered kWh, max A) rows."""
    rows = list(zip(*sessions, strict=True)) if sessions else [()] * 6
    active = ActiveSessions(
        session_ids=tuple(rows[0]), charger_index=np.array(rows[1], dtype=np.int64),
        arrival_s=np.zeros(len(sessions)), departure_s=np.array(rows[2], dtype=float),
        energy_requested_kwh=np.array(rows[3], dtype=float), energy_delivered_kwh=np.array(rows[4], dtype=float),
        max_current_a=np.array(rows[5], dtype=float))
    return SiteView(t_s, period_s, chargers, active, None, base_kw, cons, forecast)


@dataclass
class Run:
    delivered_kwh: dict[str, float]
    import_kw: list[float]
    current_a: list[np.ndarray]


def simulate(strategy: object, chargers: ChargerTable, evs: Sequence[Ev], n_ticks: int, *, tick_s: float = 300.0,
             base_kw: np.ndarray | None = None, price: np.ndarray | None = None,
             nodes: Sequence[LimitNode] = (), import_limit_kw: float | None = None, check_limits: bool = True) -> Run:
    """A minimal engine: at each tick build the view (perfect forecast), apply setpoints, advance energy."""
    base = np.zeros(n_ticks + 1) if base_kw is None else base_kw
    prices = np.full(n_ticks + 1, 0.3) if price is None else price
    cons0 = build_constraints(chargers, nodes, import_limit_kw)
    delivered = {ev.sid: 0.0 for ev in evs}
    run = Run(delivered, [], [])
    kw_per_a = chargers.phases * chargers.v_ln_v / 1000.0
    for n in range(n_ticks):
        t_s = n * tick_s
        here = [ev for ev in evs if ev.arrival_s <= t_s < ev.departure_s]
        cons = cons0.with_limit("import_kw", import_limit_kw - base[n]) if import_limit_kw is not None else cons0
        rows = []
        for ev in here:
            left = ev.energy_kwh - delivered[ev.sid]
            accept_a = left / (kw_per_a[ev.charger] * chargers.efficiency[ev.charger] * tick_s / 3600)
            rows.append((ev.sid, ev.charger, ev.departure_s, ev.energy_kwh, delivered[ev.sid],
                         min(chargers.max_current_a[ev.charger], accept_a)))
        forecast = Forecast(tick_s, base[n:], np.zeros(len(base) - n), prices[n:])
        view = make_view(chargers, rows, t_s=t_s, period_s=tick_s, cons=cons, forecast=forecast, base_kw=base[n])
        setpoints = strategy.compute(view)  # type: ignore[attr-defined]
        current = check_feasible(view, setpoints, limits=check_limits)  # what the vehicles draw
        for ev in here:
            delivered[ev.sid] += current[ev.charger] * kw_per_a[ev.charger] * chargers.efficiency[ev.charger] * tick_s / 3600
        run.import_kw.append(float(base[n] + np.sum(current * kw_per_a)))
        run.current_a.append(current)
    return run


class Uncontrolled:
    name = "uncontrolled"

    def compute(self, view: SiteView):  # noqa: ANN201
        from sim.domain import Setpoints

        out = np.zeros(len(view.chargers))
        out[view.sessions.charger_index] = view.chargers.max_current_a[view.sessions.charger_index]
        return Setpoints(out)


# --- feasibility on random small sites --------------------------------------------------------

@pytest.mark.core
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(view=site_views(), peak_weight=st.floats(0.0, 20.0), fine_h=st.sampled_from([0.0, 1.0, 12.0]))
def test_setpoints_and_every_planned_period_are_feasible(view: SiteView, peak_weight: float, fine_h: float) -> None:
    strategy = Mpc(peak_weight=peak_weight, fine_h=fine_h, coarse_step_s=3600)
    check_feasible(view, strategy.compute(view))
    plan = strategy.plan
    if plan is None:
        return
    # The plan itself keeps every row at every period, the import row's limit following the forecast.
    cons = view.constraints
    ch, s = view.chargers, view.sessions
    assert np.all(plan.current_a <= s.max_current_a[:, None] + 1e-9)
    hz = horizon_of(view, 12.0, fine_h, 3600)
    b = np.tile(np.asarray(cons.limit), (hz.n_periods, 1))
    if "import_kw" in cons.row_index:
        b[:, cons.row_index["import_kw"]] += view.base_load_kw - hz.net_base_kw
    for p in range(hz.n_periods):
        per_charger = np.zeros(len(ch))
        per_charger[s.charger_index] = plan.current_a[:, p]
        assert np.all(cons.load(per_charger) <= np.maximum(b[p], 0.0) + 1e-6)


# --- hand cases --------------------------------------------------------------------------------

def test_meets_every_departure_when_feasible() -> None:
    """A 32 A fuse, two cars: one needs 16 A for 1 h by t = 1 h, the other 48 A h by t = 2 h.
    Only a plan that shares the first hour and gives the second car the whole second hour works."""
    chargers = chargers_3ph(2)
    evs = [Ev("a", 0, 0.0, 3600.0, 16 * KW_PER_A_3PH), Ev("b", 1, 0.0, 7200.0, 48 * KW_PER_A_3PH)]
    nodes = [LimitNode("site", None, max_current_a=32.0)]
    run = simulate(Mpc(resolve_every=1), chargers, evs, 24, nodes=nodes)
    assert run.delivered_kwh["a"] == pytest.approx(evs[0].energy_kwh, abs=1e-6)
    assert run.delivered_kwh["b"] == pytest.approx(evs[1].energy_kwh, abs=1e-6)
    # earliest deadline first would also do; uncontrolled at 32 A each breaks the fuse (not checked here)


def test_infeasible_demand_degrades_gracefully() -> None:
    chargers = chargers_3ph(2)
    view = make_view(chargers, [("a", 0, 3600.0, 100.0, 0.0, 32.0), ("b", 1, 3600.0, 100.0, 0.0, 32.0)],
                     cons=build_constraints(chargers, [LimitNode("site", None, max_current_a=40.0)]))
    plan = solve_plan(view)
    delivered = plan.current_a.sum(axis=1) * KW_PER_A_3PH * 300 / 3600
    assert plan.current_a.sum(axis=0) == pytest.approx(np.full(12, 40.0))  # the fuse is used in full
    np.testing.assert_allclose(delivered + plan.unmet_kwh, [100.0, 100.0], atol=1e-6)


def test_charges_in_the_cheap_period() -> None:
    """Plugged in for 8 h, needs 1 h at 16 A; the price is low from 3 h to 5 h only."""
    chargers = chargers_3ph(1)
    hours = np.arange(97) * 300 / 3600
    price = np.where((hours >= 3) & (hours < 5), 0.10, 0.40)
    ev = Ev("a", 0, 0.0, 8 * 3600.0, 16 * KW_PER_A_3PH)
    run = simulate(Mpc(peak_weight=0.0), chargers, [ev], 96, price=price)
    current = np.array([c[0] for c in run.current_a])
    assert run.delivered_kwh["a"] == pytest.approx(ev.energy_kwh, abs=1e-6)
    assert np.all(current[(hours[:96] < 3) | (hours[:96] >= 5)] == 0)


def test_ties_charge_early() -> None:
    chargers = chargers_3ph(1)
    view = make_view(chargers, [("a", 0, 6 * 3600.0, 16 * KW_PER_A_3PH, 0.0, 16.0)])
    plan = solve_plan(view, peak_weight=0.0, fine_h=6.0)
    assert np.all(plan.current_a[0, :12] == pytest.approx(16.0)) and np.all(plan.current_a[0, 12:] == 0)


def test_lower_peak_than_uncontrolled() -> None:
    """Evening base-load peak for 2 h, three cars plugged in for 8 h needing 15 kWh each."""
    chargers = chargers_3ph(3, max_a=16.0)
    hours = np.arange(97) * 300 / 3600
    base = np.where(hours < 2, 25.0, 5.0)
    evs = [Ev(f"e{i}", i, 0.0, 8 * 3600.0, 15.0) for i in range(3)]
    mpc = simulate(Mpc(peak_weight=1.0), chargers, evs, 96, base_kw=base, price=np.full(97, 0.3))
    unc = simulate(Uncontrolled(), chargers, evs, 96, base_kw=base, check_limits=False)
    assert max(unc.import_kw) == pytest.approx(25.0 + 3 * 16 * KW_PER_A_3PH)
    assert max(mpc.import_kw) < 0.5 * max(unc.import_kw)
    assert max(mpc.import_kw) == pytest.approx(25.0)  # charging fills the valley after the peak
    assert all(mpc.delivered_kwh[e.sid] == pytest.approx(15.0, abs=1e-6) for e in evs)


def test_import_limit_follows_the_base_load_forecast() -> None:
    """A 30 kW import limit and a base load of 25 kW for the next hour, 0 after."""
    chargers = chargers_3ph(1)
    base = np.concatenate([np.full(12, 25.0), np.zeros(60)])
    cons = build_constraints(chargers, (), import_limit_kw=30.0).with_limit("import_kw", 30.0 - 25.0)
    view = make_view(chargers, [("a", 0, 6 * 3600.0, 20.0, 0.0, 32.0)], cons=cons, base_kw=25.0,
                     forecast=Forecast(300.0, base, np.zeros(72), np.full(72, 0.3)))
    plan = solve_plan(view, peak_weight=0.0)
    assert np.all(plan.current_a[0, :12] * KW_PER_A_3PH <= 5.0 + 1e-9)
    assert plan.current_a[0, 12] == pytest.approx(32.0)


def test_a_session_past_its_departure_still_charges() -> None:
    chargers = chargers_3ph(1)
    view = make_view(chargers, [("late", 0, 3000.0, 20.0, 5.0, 16.0)], t_s=3600.0)
    assert Mpc().compute(view).current_a[0] == pytest.approx(16.0)


def test_no_forecast_and_no_sessions() -> None:
    chargers = chargers_3ph(2)
    strategy = Mpc()
    assert np.all(strategy.compute(make_view(chargers, [])).current_a == 0) and strategy.n_solves == 0
    view = make_view(chargers, [("a", 1, 3600.0, 5.0, 0.0, 32.0)])
    current = strategy.compute(view).current_a
    # no forecast: price 0, flat base load, so the peak term spreads 5 kWh over the hour left
    assert current[0] == 0 and current[1] == pytest.approx(5.0 / KW_PER_A_3PH)


# --- the minimum-current rule ---------------------------------------------------------------

def test_minimum_current_rule_raises_the_largest_plans_first() -> None:
    chargers = chargers_3ph(3)
    cons = build_constraints(chargers, [LimitNode("site", None, max_current_a=14.0)])
    view = make_view(chargers, [(f"s{i}", i, 3600.0, 10.0, 0.0, 32.0) for i in range(3)], cons=cons)
    current = apply_plan(view, np.array([4.0, 5.0, 3.0])).current_a
    np.testing.assert_allclose(current, [6.0, 6.0, 0.0])  # 5 A and 4 A fit at 6 A; 3 A does not
    assert np.all(cons.load(current) <= cons.limit)


def test_stale_plan_is_cut_to_a_limit_that_moved() -> None:
    """A plan of 20 + 10 A meets a fuse lowered to 26 A: the larger plan first, the rest gets what is left."""
    chargers = chargers_3ph(2)
    cons = build_constraints(chargers, [LimitNode("site", None, max_current_a=26.0)])
    view = make_view(chargers, [("a", 0, 3600.0, 10.0, 0.0, 32.0), ("b", 1, 3600.0, 10.0, 0.0, 32.0)], cons=cons)
    np.testing.assert_allclose(apply_plan(view, np.array([20.0, 10.0])).current_a, [20.0, 6.0])
    np.testing.assert_allclose(apply_plan(view, np.array([10.0, 20.0])).current_a, [6.0, 20.0])


# --- re-solve logic ------------------------------------------------------------------------------

def test_resolves_on_arrival_departure_and_every_n_ticks() -> None:
    chargers = chargers_3ph(3)
    strategy = Mpc(resolve_every=3)
    a, b = ("a", 0, 7200.0, 30.0, 0.0, 32.0), ("b", 1, 7200.0, 30.0, 0.0, 32.0)
    solves = []
    for t_s, rows in [(0, [a]), (300, [a]), (600, [a]), (900, [a]),  # every 3 ticks: 0 and 900
                      (1200, [a, b]),  # arrival
                      (1500, [a, b]), (1800, [b]),  # departure
                      (2100, [b]), (2400, [b]), (2700, [b]), (900, [b])]:  # 3 ticks later; time going back
        strategy.compute(make_view(chargers, rows, t_s=t_s))
        solves.append(strategy.n_solves)
    assert solves == [1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6]


def test_follows_the_stored_plan_between_solves() -> None:
    chargers = chargers_3ph(1)
    hours = np.arange(24) * 300 / 3600
    price = np.where(hours < 1, 0.1, 0.5)
    strategy = Mpc(resolve_every=100, peak_weight=0.0)
    # needs 30 min at 32 A; cheap for the first hour: the plan charges the first 6 periods
    row = ("a", 0, 2 * 3600.0, 0.5 * 32 * KW_PER_A_3PH, 0.0, 32.0)
    strategy.compute(make_view(chargers, [row], forecast=Forecast(300.0, np.zeros(24), np.zeros(24), price)))
    plan = strategy.plan
    for n in range(1, 8):
        # later views carry a different (flat) price; the stored plan is followed regardless
        view = make_view(chargers, [row], t_s=300.0 * n,
                         forecast=Forecast(300.0, np.zeros(24), np.zeros(24), np.full(24, 0.3)))
        assert strategy.compute(view).current_a[0] == pytest.approx(plan.current_a[0, n])
    assert strategy.n_solves == 1 and strategy.plan is plan


def test_period_edges() -> None:
    edges = _period_edges(144, 300.0, 1.0, 1800.0)
    assert edges[:13].tolist() == list(range(13)) and edges[13:].tolist() == list(range(18, 145, 6))
    assert _period_edges(10, 300.0, 12.0, 1800.0).tolist() == list(range(11))
    assert _period_edges(20, 300.0, 0.0, 1800.0).tolist() == [0, 6, 12, 18, 20]


# --- parameters -----------------------------------------------------------------------------------

@pytest.mark.parametrize("param, value", [
    ("horizon_h", 0), ("horizon_h", -1.0), ("horizon_h", "12"), ("horizon_h", float("nan")), ("horizon_h", True),
    ("peak_weight", -0.1), ("peak_weight", None), ("resolve_every", 0), ("resolve_every", 1.5),
    ("resolve_every", True), ("unmet_penalty", 0.0), ("unmet_penalty", float("inf")), ("fine_h", -1),
    ("coarse_step_s", 0),
])
def test_bad_parameters_are_named(param: str, value: object) -> None:
    with pytest.raises(StrategyError, match=f"strategy 'mpc': parameter '{param}' = .*expected") as info:
        Mpc.from_params({param: value})
    assert info.value.param == param
    assert repr(value) in str(info.value)


def test_unknown_parameter_lists_the_valid_ones() -> None:
    with pytest.raises(StrategyError, match="'horizon'.*horizon_h, peak_weight, resolve_every") as info:
        Mpc.from_params({"horizon": 12})
    assert info.value.param == "horizon"


def test_parameters_from_a_scenario_table() -> None:
    strategy = Mpc.from_params({"horizon_h": 6, "peak_weight": 0, "resolve_every": 4, "unmet_penalty": 500})
    assert (strategy.horizon_h, strategy.peak_weight, strategy.resolve_every, strategy.unmet_penalty) == (6.0, 0.0, 4, 500.0)


def test_horizon_aligns_with_forecast_steps() -> None:
    """Forecast step k covers [t0 + k step, t0 + (k+1) step), t0 = floor(now / step) * step; period 0 starts now."""
    chargers = chargers_3ph(1)
    base = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    view = make_view(chargers, [("a", 0, 7300.0 + 4000.0, 5.0, 0.0, 32.0)], t_s=7300.0, base_kw=12.0,
                     forecast=Forecast(900.0, base, np.full(6, 5.0), np.arange(6.0)))
    hz = horizon_of(view, 12.0, fine_h=0.5, coarse_step_s=1800.0)
    np.testing.assert_allclose(hz.start_s, [7300.0, 8100.0, 9000.0, 10800.0])
    np.testing.assert_allclose(hz.length_s, [800.0, 900.0, 1800.0, 900.0])  # ends with the step of the departure
    # base_load_kw is already net of PV (the Forecast convention): now; then the highest of each block
    np.testing.assert_allclose(hz.net_base_kw, [12.0, 20.0, 40.0, 50.0])
    np.testing.assert_allclose(hz.price_per_kwh, [0.0, 1.0, 2.5, 4.0])
