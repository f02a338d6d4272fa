"""peak_shaving, price_aware and pv_surplus on hand cases, open loop and in a small closed loop."""

from __future__ import annotations

import numpy as np
import pytest

from sim.domain import Charger, ChargerTable, Forecast, LimitNode, SiteView, build_constraints
from sim.strategies import PeakShaving, PriceAware, PvSurplus
from sim.strategies.horizon import horizon
from sim.strategies.peak_shaving import required_threshold_kw
from tests.strategies._sites import check_feasible, make_sessions, run_ticks

pytestmark = pytest.mark.core

H = 3600.0
KW_32A = 3 * 230.0 * 32.0 / 1000.0  # 22.08 kW
KW_16A = KW_32A / 2


def _table(n: int, max_a: float = 32.0) -> ChargerTable:
    return ChargerTable(tuple(Charger(f"cp{k}", 1, max_current_a=max_a, efficiency=1.0) for k in range(n)))


# --- peak_shaving -------------------------------------------------------------------------------------
def test_threshold_stays_at_the_target_when_it_is_enough() -> None:
    table = _table(1)
    ses = make_sessions([0], [0.0], [4 * H], [10.0], [32.0])
    view = SiteView(0.0, 900.0, table, ses, None, 10.0, None, Forecast(900.0, np.full(16, 10.0), np.zeros(16), np.zeros(16)))
    assert PeakShaving(15.0).threshold_kw(view) == 15.0  # 5 kW x 4 h = 20 kWh >= 10 kWh


def test_threshold_rises_just_enough_for_the_departures() -> None:
    """40 kWh in 4 h over a flat 10 kW base: a 15 kW target must become 20 kW."""
    table = _table(1)
    ses = make_sessions([0], [0.0], [4 * H], [40.0], [32.0])
    view = SiteView(0.0, 900.0, table, ses, None, 10.0, None, Forecast(900.0, np.full(16, 10.0), np.zeros(16), np.zeros(16)))
    assert PeakShaving(15.0).threshold_kw(view) == pytest.approx(20.0, abs=0.02)


def test_threshold_fills_the_valley_of_the_base_load() -> None:
    """Base 30 kW for 2 h then 10 kW for 2 h, 40 kWh by 4 h: threshold 30 kW, charging only in the valley."""
    base = np.r_[np.full(8, 30.0), np.full(8, 10.0)]
    table = _table(1)
    slots_view = SiteView(0.0, 900.0, table, make_sessions([0], [0.0], [4 * H], [40.0], [32.0]), None, 30.0, None,
                          Forecast(900.0, base, np.zeros(16), np.zeros(16)))
    assert PeakShaving(25.0).threshold_kw(slots_view) == pytest.approx(30.0, abs=0.02)
    out = run_ticks(PeakShaving(25.0), table, None, [(0, 4 * H, 40.0, 32.0)], base)
    np.testing.assert_allclose(out["charging_kw"][:8], 0.0, atol=0.05)
    assert out["import_kw"].max() == pytest.approx(30.0, abs=0.05)
    assert out["delivered_kwh"][0] == pytest.approx(40.0, rel=1e-3)


def test_threshold_ignores_what_no_threshold_could_deliver() -> None:
    """A session asking more than its own maximum rate allows sets no threshold beyond that rate."""
    table = _table(1)
    ses = make_sessions([0], [0.0], [H], [100.0], [32.0])
    slots = horizon(SiteView(0.0, 900.0, table, ses, None, 0.0))
    t = required_threshold_kw(slots, 0.0, ses.departure_s, np.array([100.0]), np.array([KW_32A]), 5.0)
    assert t == pytest.approx(KW_32A, abs=0.02)


@pytest.mark.parametrize("forecast", ["perfect", "persistence"])
def test_peak_shaving_keeps_import_under_a_feasible_target_and_serves_everyone(forecast: str) -> None:
    rng = np.random.default_rng(3)
    base = 15.0 + 10.0 * np.sin(np.linspace(0, np.pi, 48)) + rng.uniform(0.0, 2.0, 48)  # 15..27 kW over 12 h
    table = _table(4, max_a=16.0)
    cons = build_constraints(table, [LimitNode("site", max_current_a=40.0)])
    plan = [(0, 8 * H, 20.0, 16.0), (1, 10 * H, 25.0, 16.0), (2, 6 * H, 10.0, 16.0), (3, 12 * H, 30.0, 16.0)]
    out = run_ticks(PeakShaving(40.0, forecast), table, cons, plan, base)
    assert out["import_kw"].max() <= 40.0 + 1e-6
    np.testing.assert_allclose(out["delivered_kwh"], out["requested_kwh"], rtol=1e-3)


def test_peak_shaving_never_breaks_a_hard_limit_even_when_raising_the_threshold() -> None:
    table = _table(2)
    cons = build_constraints(table, [LimitNode("site", max_current_a=20.0)])
    ses = make_sessions([0, 1], [0.0, 0.0], [H, H], [40.0, 40.0], [32.0, 32.0])
    view = SiteView(0.0, 900.0, table, ses, None, 0.0, cons)
    sp = PeakShaving(1.0).compute(view)
    check_feasible(view, sp)
    assert sp.current_a.sum() == pytest.approx(20.0)


# --- price_aware --------------------------------------------------------------------------------------
def test_price_aware_charges_in_the_cheap_window_and_meets_departures() -> None:
    """Cheap from 1 h to 3 h. A leaves at 5 h needing 11 kWh: cheap window only. B leaves at 1.5 h
    needing 8 kWh: 0.5 h of cheap time is not enough, so it also charges (late) in the dear hour."""
    price = np.r_[np.full(4, 0.30), np.full(8, 0.10), np.full(12, 0.30)]
    table = _table(2, max_a=16.0)
    out = run_ticks(PriceAware(1.0), table, None, [(0, 5 * H, 11.0, 16.0), (1, 1.5 * H, 8.0, 16.0)], np.zeros(24), price)
    np.testing.assert_allclose(out["delivered_kwh"], [11.0, 8.0], rtol=1e-6)
    per_tick_a = _session_power(table, [(0, 5 * H, 11.0, 16.0)], np.zeros(24), price)
    assert np.all(per_tick_a[:4] == 0.0) and np.all(per_tick_a[12:] == 0.0)
    dear_kwh = out["charging_kw"][:4].sum() * 0.25
    assert dear_kwh == pytest.approx(8.0 - 0.5 * KW_16A, rel=1e-6)  # only what B cannot get while cheap


def _session_power(table: ChargerTable, plan: list[tuple[int, float, float, float]], base: np.ndarray,
                   price: np.ndarray) -> np.ndarray:
    return run_ticks(PriceAware(1.0), table, None, plan, base, price)["charging_kw"]


def test_price_aware_under_a_shared_limit_still_meets_departures() -> None:
    """Two cars, a fuse for one at full rate, a 2 h cheap window that fits only one: both leave full."""
    price = np.r_[np.full(8, 0.10), np.full(16, 0.30)]
    table = _table(2, max_a=16.0)
    cons = build_constraints(table, [LimitNode("site", max_current_a=16.0)])
    out = run_ticks(PriceAware(1.0), table, cons, [(0, 6 * H, 20.0, 16.0), (1, 6 * H, 20.0, 16.0)], np.zeros(24), price)
    np.testing.assert_allclose(out["delivered_kwh"], [20.0, 20.0], rtol=1e-6)
    assert out["charging_kw"][:8].sum() * 0.25 == pytest.approx(2 * KW_16A, rel=1e-6)  # the window is used fully


def test_a_lower_rate_factor_plans_more_time() -> None:
    """Planning at 0.5 of the rate, B (8 kWh by 1.5 h) must charge more in the dear first hour."""
    price = np.r_[np.full(4, 0.30), np.full(8, 0.10), np.full(12, 0.30)]
    table = _table(1, max_a=16.0)
    exact = run_ticks(PriceAware(1.0), table, None, [(0, 1.5 * H, 8.0, 16.0)], np.zeros(24), price)
    wary = run_ticks(PriceAware(0.5), table, None, [(0, 1.5 * H, 8.0, 16.0)], np.zeros(24), price)
    assert wary["charging_kw"][:4].sum() > exact["charging_kw"][:4].sum() + 1.0
    np.testing.assert_allclose(wary["delivered_kwh"], [8.0], rtol=1e-6)


def test_price_aware_without_prices_charges_at_once() -> None:
    table = _table(1)
    view = SiteView(0.0, 900.0, table, make_sessions([0], [0.0], [4 * H], [10.0], [32.0]))
    np.testing.assert_allclose(PriceAware().compute(view).current_a, [32.0])


# --- pv_surplus ---------------------------------------------------------------------------------------
def _pv_view(base_kw: float, max_a: tuple[float, ...] = (32.0, 32.0), site_a: float = 63.0) -> SiteView:
    table = _table(len(max_a))
    cons = build_constraints(table, [LimitNode("site", max_current_a=site_a)])
    ses = make_sessions(list(range(len(max_a))), [0.0, 10.0][: len(max_a)], [H] * len(max_a), [20.0] * len(max_a),
                        list(max_a))
    return SiteView(0.0, 900.0, table, ses, None, base_kw, cons)


def test_pv_surplus_shares_the_export_only() -> None:
    view = _pv_view(-KW_32A)  # one car's worth of surplus, shared by two
    sp = PvSurplus().compute(view)
    np.testing.assert_allclose(sp.current_a, [16.0, 16.0])


def test_pv_surplus_without_sun_charges_nothing_or_the_guarantee() -> None:
    np.testing.assert_allclose(PvSurplus().compute(_pv_view(5.0)).current_a, [0.0, 0.0])
    np.testing.assert_allclose(PvSurplus(8.0).compute(_pv_view(5.0)).current_a, [8.0, 8.0])


def test_pv_surplus_adds_the_surplus_above_the_guarantees() -> None:
    view = _pv_view(-KW_32A)  # 32 A of surplus, 2 x 8 A guaranteed: power = max(guarantees, surplus)
    np.testing.assert_allclose(PvSurplus(8.0).compute(view).current_a, [16.0, 16.0])
    view = _pv_view(-2 * KW_32A, site_a=40.0)  # more sun than the fuse allows: the fuse wins
    sp = PvSurplus(8.0).compute(view)
    check_feasible(view, sp)
    np.testing.assert_allclose(sp.current_a, [20.0, 20.0])


def test_pv_surplus_guarantee_below_the_charger_minimum_is_the_minimum() -> None:
    np.testing.assert_allclose(PvSurplus(2.0).compute(_pv_view(5.0)).current_a, [6.0, 6.0])
