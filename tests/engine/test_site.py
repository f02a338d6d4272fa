"""The site in the engine: limits tree -> rows, base load, forecast window, import row, tariff, records."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from sim.domain import Session, Setpoints, SiteView
from sim.engine import Simulation, build_setup
from sim.engine.site_model import FORECAST_HORIZON_S, horizon_steps
from sim.scenario import scenario_from_dict
from sim.scenario.sessions import SessionSet
from sim.scenario.tariff import price_at

PERIOD_S = 900.0
SITE_BUSES = [36, 37, 40]
KVA_PER_A_3PH = 3 * 230.0 / 1000.0
KVA_PER_A_1PH = 230.0 / 1000.0


def site_dict(**changes: Any) -> dict[str, Any]:
    """CIGRE LV, one day from Friday 2026-03-27 (so the tariff sees a weekday), four chargers."""
    data: dict[str, Any] = {
        "name": "site-test",
        "simulation": {"start": "2026-03-27T00:00:00+01:00", "duration": "1d", "control_period_s": PERIOD_S,
                       "seed": 3},
        "grid": {"network": "cigre_lv", "pv": {"share": 0.5, "kwp": 10.0}},
        "site": {
            "import_limit_kw": 10,
            "buses": SITE_BUSES,
            "limits": [
                {"id": "main", "max_current_a": 100, "max_kva": 50},
                {"id": "offices", "parent": "main", "max_current_a": 20, "charger_prefix": "office"},
            ],
        },
        "chargers": [
            {"id": "office-01", "bus": 36, "max_current_a": 32},
            {"id": "office-02", "bus": 36, "phases": 1, "phase": "L2"},
            {"id": "home-1", "bus": 40, "phases": 1, "phase": "L1", "current_step_a": 0.1},
            {"id": "home-2", "bus": 37, "max_current_a": 16, "allowed_current_a": [8, 16]},
        ],
        "fleet": {},
        "tariff": {"price_per_kwh": 0.30, "periods": [{"start_h": 0, "end_h": 7, "price_per_kwh": 0.18}]},
    }
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def setup():
    """The default site's setup, built once (frozen, so tests cannot change it for each other)."""
    return build_setup(scenario_from_dict(site_dict()))


def _with_sessions(setup, sessions: list[tuple[str, float, float, float]]):
    """The setup with explicit sessions (charger, arrival h, departure h, energy kWh)."""
    made = tuple(Session(f"s{k}", cid, a * 3600.0, d * 3600.0, e, battery_kwh=80.0, soc_arrival=0.1)
                 for k, (cid, a, d, e) in enumerate(sorted(sessions, key=lambda s: s[1])))
    return dataclasses.replace(setup, sessions=SessionSet(made, 0, 0, "test"))


class Recording:
    """A strategy that keeps every view it is shown and charges like ``uncontrolled``."""

    name = "recording"

    def __init__(self) -> None:
        self.views: list[SiteView] = []

    def compute(self, view: SiteView) -> Setpoints:
        self.views.append(view)
        current_a = np.zeros(len(view.chargers))
        current_a[view.sessions.charger_index] = view.chargers.max_current_a[view.sessions.charger_index]
        return Setpoints(current_a)


# --- constraints ---------------------------------------------------------------------------------


def test_rows_of_a_small_explicit_site(setup) -> None:
    c = setup.site.constraints
    assert c.row_names == ("main:L1", "main:L2", "main:L3", "main:kva",
                           "offices:L1", "offices:L2", "offices:L3", "import_kw")
    # columns: office-01 (3 ph), office-02 (L2), home-1 (L1), home-2 (3 ph)
    three, one = KVA_PER_A_3PH, KVA_PER_A_1PH
    expected = np.array([
        [1, 0, 1, 1],
        [1, 1, 0, 1],
        [1, 0, 0, 1],
        [three, one, one, three],
        [1, 0, 0, 0],
        [1, 1, 0, 0],
        [1, 0, 0, 0],
        [three, one, one, three],
    ])
    np.testing.assert_allclose(c.dense(), expected)
    np.testing.assert_allclose(c.limit, [100, 100, 100, 50, 20, 20, 20, 10])


def test_no_site_means_no_rows_and_whole_feeder_base_load() -> None:
    data = site_dict()
    del data["site"]
    setup = build_setup(scenario_from_dict(data))
    assert setup.site.constraints.n_rows == 0 and setup.site.constraints.n_chargers == 4
    base = setup.base
    np.testing.assert_allclose(setup.site.base_load_kw[: len(base)],
                               base.load_p_kw.sum(axis=1) - base.sgen_p_kw.sum(axis=1))
    assert setup.site.limit_use(0, np.full(4, 16.0)) == (False, pytest.approx(np.nan, nan_ok=True))


def test_charger_steps_flow_into_the_chargers(setup) -> None:
    chargers = setup.chargers
    by_id = {c.charger_id: c for c in chargers.chargers}
    assert by_id["home-1"].current_step_a == 0.1 and by_id["home-1"].allowed_current_a == ()
    assert by_id["home-2"].allowed_current_a == (8.0, 16.0) and by_id["home-2"].current_step_a == 0.0
    np.testing.assert_allclose(chargers.current_step_a, [0.0, 0.0, 0.1, 0.0])


def test_limit_use_counts_a_row_above_its_limit(setup) -> None:
    site = setup.site
    assert site.import_row_kw[40] > 20.0 * KVA_PER_A_3PH  # PV at noon: the import row has room
    violated, use = site.limit_use(40, np.array([20.0, 0.0, 0.0, 0.0]))  # offices at exactly 20 A
    assert not violated and use == pytest.approx(100.0)
    violated, use = site.limit_use(40, np.array([20.0, 6.0, 0.0, 0.0]))  # offices:L2 at 26 A
    assert violated and use == pytest.approx(130.0)


def test_a_base_load_above_the_import_limit_leaves_a_negative_row(setup) -> None:
    site = setup.site
    step = int(np.argmax(site.base_load_kw[:96]))
    assert site.base_load_kw[step] > 10.0
    row_kw = site.constraints_at(step).limit[-1]
    assert row_kw < 0 and row_kw == pytest.approx(10.0 - site.base_load_kw[step])
    # Even without charging the site's import is over its limit: a violation, with no room at all.
    assert site.limit_use(step, np.zeros(4)) == (True, np.inf)


# --- base load, forecast, import row -------------------------------------------------------------


def _site_masks(setup):
    net = setup.feeder.net
    loads = net.load.loc[list(setup.feeder.load_ids), "bus"].isin(SITE_BUSES).to_numpy()
    sgens = net.sgen.loc[list(setup.feeder.sgen_ids), "bus"].isin(SITE_BUSES).to_numpy()
    assert loads.any() and sgens.any()
    return loads, sgens


def test_forecast_window_is_the_base_injections_shifted(setup) -> None:
    site = setup.site
    n_ahead = horizon_steps(PERIOD_S)
    assert n_ahead == FORECAST_HORIZON_S / PERIOD_S == site.horizon_steps
    loads, sgens = _site_masks(setup)
    for step in (0, 37, 95):
        forecast = site.forecast_at(step)
        injections = setup.feeder.base_injections((step + np.arange(n_ahead)) * PERIOD_S)
        pv_kw = injections.sgen_p_kw[:, sgens].sum(axis=1)
        assert forecast.step_s == PERIOD_S and len(forecast.base_load_kw) == n_ahead
        np.testing.assert_allclose(forecast.pv_kw, pv_kw, rtol=0, atol=1e-12)
        np.testing.assert_allclose(forecast.base_load_kw, injections.load_p_kw[:, loads].sum(axis=1) - pv_kw,
                                   rtol=0, atol=1e-12)
        assert not forecast.base_load_kw.flags.writeable
    np.testing.assert_array_equal(site.forecast_at(11).base_load_kw[1:], site.forecast_at(12).base_load_kw[:-1])


def test_import_row_follows_the_base_load(setup) -> None:
    site = setup.site
    base = site.base_load_kw[:96]
    assert (base > 10).any() and (base < 10).any()  # the test covers both sides
    row = site.constraints.row_index["import_kw"]
    for step in range(96):
        assert site.constraints_at(step).limit[row] == pytest.approx(10.0 - base[step])
        assert site.constraints_at(step).limit[0] == 100.0  # the static rows stay


def test_every_view_carries_the_tick_constraints_and_forecast() -> None:
    recording = Recording()
    setup = _with_sessions(build_setup(scenario_from_dict(site_dict()), strategy=recording),
                           [("office-01", 7.5, 12.25, 20.0), ("home-1", 17.1, 23.0, 6.0)])
    Simulation(setup).run()
    assert len(recording.views) >= 96 + 4  # every tick plus each arrival and departure
    row = setup.site.constraints.row_index["import_kw"]
    for view in recording.views:
        step = int(view.time_s // PERIOD_S)
        assert view.base_load_kw == setup.site.base_load_kw[step]
        assert view.forecast is not None and view.constraints is not None
        assert view.forecast.base_load_kw[0] == view.base_load_kw
        assert len(view.forecast.price_per_kwh) == 96
        assert view.constraints.limit[row] == pytest.approx(10.0 - view.base_load_kw)


# --- what is recorded ----------------------------------------------------------------------------


def test_recorded_site_columns_and_kpis(setup) -> None:
    setup = _with_sessions(setup, [("office-01", 6.0, 12.25, 30.0), ("office-02", 6.5, 9.0, 5.0),
                                      ("home-2", 18.0, 23.5, 12.0)])
    results = Simulation(setup).run()
    ts = results.timeseries
    np.testing.assert_array_equal(ts["site_base_load_kw"], setup.site.base_load_kw[:96])
    tb_start = setup.timebase
    prices = [price_at(setup.scenario.tariff, tb_start.to_datetime(t)) for t in ts["t_s"]]
    np.testing.assert_allclose(ts["price_per_kwh"], prices)
    assert set(ts["price_per_kwh"]) == {0.18, 0.30}
    # Recompute violations and use from the recorded mean powers.
    p_kw = ts[[f"p_kw:{c}" for c in setup.chargers.ids]].to_numpy()
    current_a = p_kw / (setup.chargers.phases * 230.0 / 1000.0)
    for step in range(96):
        c = setup.site.constraints_at(step)
        load = c.dense() @ current_a[step]
        assert ts["site_limit_violation"][step] == bool((load - c.limit > 1e-6).any())
        with np.errstate(divide="ignore", invalid="ignore"):
            use = np.where(c.limit > 0, load / c.limit * 100, np.where(load - c.limit > 1e-6, np.inf, 0.0))
        assert ts["site_limit_max_use_percent"][step] == pytest.approx(use.max())
    assert ts["site_limit_violation"].any() and not ts["site_limit_violation"].all()
    kpis = results.summary["kpis"]
    energy_kwh = ts["charging_p_kw"].to_numpy() * PERIOD_S / 3600.0
    assert kpis["charging_cost"] == pytest.approx(float(energy_kwh @ ts["price_per_kwh"].to_numpy()))
    assert kpis["minutes_site_limit_violation"] == pytest.approx(ts["site_limit_violation"].sum() * 15.0)
    assert kpis["peak_site_import_kw"] == pytest.approx((ts["site_base_load_kw"] + ts["charging_p_kw"]).max())
    assert results.summary["import_limit_kw"] == 10.0 and results.summary["site_limit_rows"] == 8


def test_without_limits_nothing_is_violated_and_use_is_nan() -> None:
    data = site_dict(site={"buses": SITE_BUSES})
    setup = _with_sessions(build_setup(scenario_from_dict(data)), [("office-01", 6.0, 12.0, 30.0)])
    ts = Simulation(setup).run().timeseries
    assert not ts["site_limit_violation"].any()
    assert ts["site_limit_max_use_percent"].isna().all()
