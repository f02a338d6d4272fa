"""KPIs against small frames computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.results import KPI_KEYS, compute_kpis
from sim.results import metrics as m

PERIOD_S = 900.0  # 15 min: one row = 0.25 h


def _timeseries(**overrides: list[float]) -> pd.DataFrame:
    """Four ticks; defaults are quiet and inside every limit."""
    columns = {
        "charging_p_kw": [0.0, 10.0, 20.0, 10.0],
        "p_import_kw": [5.0, 16.0, 30.0, -2.0],
        "losses_kw": [0.4, 0.8, 1.2, 0.0],
        "vm_min_pu": [0.99, 0.95, 0.89, 0.97],
        "vm_max_pu": [1.00, 1.00, 1.00, 1.11],
        "max_line_loading_percent": [10.0, 50.0, 101.0, 30.0],
        "max_trafo_loading_percent": [20.0, 60.0, 90.0, 100.0],
        "site_base_load_kw": [3.0, 4.0, 2.0, -5.0],
        "price_per_kwh": [0.2, 0.2, 0.4, 0.1],
        "site_limit_violation": [False, False, True, False],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def _sessions(requested: list[float], delivered: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"energy_requested_kwh": requested, "energy_delivered_kwh": delivered})


def test_session_energies_by_hand() -> None:
    s = _sessions([10.0, 5.0, 8.0], [10.0, 3.0, 9.0])
    assert m.n_sessions(s) == 3
    assert m.energy_requested_kwh(s) == pytest.approx(23.0)
    assert m.energy_delivered_kwh(s) == pytest.approx(22.0)
    # unmet counts only the shortfall (2 kWh); the 1 kWh surplus of the third does not offset it
    assert m.energy_unmet_kwh(s) == pytest.approx(2.0)
    assert m.share_sessions_fully_served(s) == pytest.approx(2 / 3)


def test_fully_served_tolerance_is_1e6_kwh() -> None:
    s = _sessions([10.0, 10.0], [10.0 - 5e-7, 10.0 - 5e-6])
    assert m.share_sessions_fully_served(s) == pytest.approx(0.5)


def test_zero_sessions() -> None:
    s = _sessions([], [])
    assert m.n_sessions(s) == 0
    assert m.energy_requested_kwh(s) == 0.0
    assert m.energy_unmet_kwh(s) == 0.0
    assert m.share_sessions_fully_served(s) == 1.0


def test_peaks_and_extremes_by_hand() -> None:
    ts = _timeseries()
    assert m.peak_charging_kw(ts) == 20.0
    assert m.peak_import_kw(ts) == 30.0
    assert m.max_line_loading_percent(ts) == 101.0
    assert m.max_trafo_loading_percent(ts) == 100.0
    assert m.vm_min_pu(ts) == 0.89
    assert m.vm_max_pu(ts) == 1.11


def test_energies_integrate_over_the_period() -> None:
    ts = _timeseries()
    assert m.charging_energy_kwh(ts, PERIOD_S) == pytest.approx(40.0 * 0.25)
    assert m.losses_kwh(ts, PERIOD_S) == pytest.approx(2.4 * 0.25)
    assert m.charging_energy_kwh(ts, 60.0) == pytest.approx(40.0 / 60.0)


def test_minutes_voltage_violation_counts_ticks_with_any_bus_outside() -> None:
    ts = _timeseries()
    # tick 2 has vm_min 0.89 < 0.9, tick 3 has vm_max 1.11 > 1.1: two ticks of 15 min
    assert m.minutes_voltage_violation(ts, PERIOD_S) == pytest.approx(30.0)
    # a narrower band also catches tick 1 (0.95 < 0.96)
    assert m.minutes_voltage_violation(ts, PERIOD_S, (0.96, 1.2)) == pytest.approx(30.0)
    assert m.minutes_voltage_violation(ts, PERIOD_S, (0.96, 1.0)) == pytest.approx(45.0)
    # the band edges themselves are inside
    edge = _timeseries(vm_min_pu=[0.9] * 4, vm_max_pu=[1.1] * 4)
    assert m.minutes_voltage_violation(edge, PERIOD_S) == 0.0


def test_minutes_overload_counts_line_or_trafo_above_100() -> None:
    ts = _timeseries()
    # only tick 2 (line at 101 %); the trafo at exactly 100 % is not an overload
    assert m.minutes_overload(ts, PERIOD_S) == pytest.approx(15.0)
    both = _timeseries(max_trafo_loading_percent=[120.0, 0.0, 0.0, 0.0])
    assert m.minutes_overload(both, 60.0) == pytest.approx(2.0)


def test_no_buses_gives_nan_voltages_and_no_violation() -> None:
    ts = _timeseries(vm_min_pu=[math.nan] * 4, vm_max_pu=[math.nan] * 4)
    assert math.isnan(m.vm_min_pu(ts))
    assert math.isnan(m.vm_max_pu(ts))
    assert m.minutes_voltage_violation(ts, PERIOD_S) == 0.0


def test_site_kpis_by_hand() -> None:
    ts = _timeseries()
    # charging kWh per tick: 0, 2.5, 5, 2.5 at 0.2, 0.2, 0.4, 0.1 per kWh
    assert m.charging_cost(ts, PERIOD_S) == pytest.approx(0.0 + 0.5 + 2.0 + 0.25)
    assert m.minutes_site_limit_violation(ts, PERIOD_S) == pytest.approx(15.0)
    # site import: 3, 14, 22, 5 kW
    assert m.peak_site_import_kw(ts) == pytest.approx(22.0)


def test_site_kpis_without_a_recorded_tariff_are_nan_not_zero() -> None:
    ts = _timeseries(price_per_kwh=[math.nan] * 4, site_base_load_kw=[math.nan] * 4)
    assert math.isnan(m.charging_cost(ts, PERIOD_S))
    assert math.isnan(m.peak_site_import_kw(ts))


def test_compute_kpis_has_exactly_the_documented_keys() -> None:
    kpis = compute_kpis(_timeseries(), _sessions([10.0], [7.5]), PERIOD_S)
    assert tuple(kpis) == KPI_KEYS
    assert kpis["energy_unmet_kwh"] == pytest.approx(2.5)
    assert kpis["minutes_voltage_violation"] == pytest.approx(30.0)
    assert kpis["n_sessions"] == 1
    assert kpis["charging_cost"] == pytest.approx(2.75)
    assert kpis["minutes_site_limit_violation"] == pytest.approx(15.0)
    assert kpis["peak_site_import_kw"] == pytest.approx(22.0)
    assert all(isinstance(v, int | float) for v in kpis.values())


def test_compute_kpis_on_empty_frames() -> None:
    ts = _timeseries(**{k: [] for k in m.TIMESERIES_KPI_COLUMNS})
    kpis = compute_kpis(ts, _sessions([], []), PERIOD_S)
    assert kpis["charging_energy_kwh"] == 0.0
    assert kpis["minutes_overload"] == 0.0
    assert kpis["share_sessions_fully_served"] == 1.0
    assert kpis["charging_cost"] == 0.0 and kpis["minutes_site_limit_violation"] == 0.0
    for key in ("peak_charging_kw", "peak_import_kw", "vm_min_pu", "max_trafo_loading_percent", "peak_site_import_kw"):
        assert math.isnan(kpis[key]), key


def test_nan_in_session_energy_is_not_skipped() -> None:
    assert math.isnan(m.energy_delivered_kwh(_sessions([1.0, 2.0], [1.0, np.nan])))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"period_s": 0.0}, "period_s"),
        ({"period_s": math.nan}, "period_s"),
        ({"vm_band": (1.1, 0.9)}, "vm_band"),
    ],
)
def test_compute_kpis_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"period_s": PERIOD_S, **kwargs}
    with pytest.raises(ValueError, match=match):
        compute_kpis(_timeseries(), _sessions([], []), **args)


def test_compute_kpis_names_missing_columns() -> None:
    with pytest.raises(ValueError, match="losses_kw"):
        compute_kpis(_timeseries().drop(columns="losses_kw"), _sessions([], []), PERIOD_S)
