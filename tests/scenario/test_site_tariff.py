"""[site], [tariff] and the chargers' discrete currents: loading, defaults, overrides, the tariff function."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from sim.domain import Timebase
from sim.errors import ScenarioError
from sim.scenario import load_scenario, save_scenario, scenario_from_dict
from sim.scenario.schema import LimitSpec, SiteSpec, TariffPeriod, TariffSpec
from sim.scenario.tariff import local_hour_and_weekday, price_at, price_at_local, price_per_kwh

from .test_load import MINIMAL_TOML, minimal, write

FULL_TOML = MINIMAL_TOML.replace('bus = 3\n', 'bus = 3\ncurrent_step_a = 0.1\n') + """
[[chargers]]
id = "office-01"
bus = 36
max_current_a = 32
allowed_current_a = [32, 0, 8, 16, 24]

[site]
import_limit_kw = 150
buses = [36, 40]

[[site.limits]]
id = "main"
max_current_a = 250
max_kva = 160

[[site.limits]]
id = "offices"
parent = "main"
max_current_a = 63
chargers = ["office-01"]
charger_prefix = "cp"

[tariff]
price_per_kwh = 0.32

[[tariff.periods]]
start_h = 0
end_h = 7
price_per_kwh = 0.18

[[tariff.periods]]
start_h = 17
end_h = 20.5
price_per_kwh = 0.45
days = "weekdays"
"""

NIGHT_AND_WEEKEND = TariffSpec(0.30, (
    TariffPeriod(0.0, 7.0, 0.18),
    TariffPeriod(7.0, 24.0, 0.22, days="weekend"),
))


# --- loading -------------------------------------------------------------------------------------


def test_defaults_without_site_and_tariff() -> None:
    sc = scenario_from_dict(minimal())
    assert sc.site == SiteSpec() and sc.site.buses is None and sc.site.limits == ()
    assert sc.tariff == TariffSpec() and sc.tariff.price_per_kwh == 0.30
    assert (sc.chargers[0].current_step_a, sc.chargers[0].allowed_current_a) == (0.0, ())


def test_every_new_key_is_read(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path / "full.toml", FULL_TOML))
    assert sc.site.import_limit_kw == 150.0 and sc.site.buses == (36, 40)
    assert sc.site.limits == (
        LimitSpec("main", None, 250.0, 160.0),
        LimitSpec("offices", "main", 63.0, None, ("office-01",), "cp"),
    )
    cp1, office = sc.chargers
    assert cp1.current_step_a == 0.1
    assert office.allowed_current_a == (8.0, 16.0, 24.0, 32.0)  # sorted, 0 implied
    assert sc.tariff == TariffSpec(0.32, (TariffPeriod(0.0, 7.0, 0.18),
                                          TariffPeriod(17.0, 20.5, 0.45, "weekdays")))


def test_full_file_round_trips(tmp_path: Path) -> None:
    original = load_scenario(write(tmp_path / "full.toml", FULL_TOML))
    again = load_scenario(save_scenario(original, tmp_path / "again.toml"))
    assert again == dataclasses.replace(original, path=again.path)


def test_overrides_reach_the_new_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "full.toml", FULL_TOML)
    sc = load_scenario(path, ["site.import_limit_kw=90", "tariff.periods.1.price_per_kwh=0.5",
                              "chargers.1.allowed_current_a=[16, 32]", "site.limits.1.max_current_a=40"])
    assert sc.site.import_limit_kw == 90.0 and sc.tariff.periods[1].price_per_kwh == 0.5
    assert sc.chargers[1].allowed_current_a == (16.0, 32.0) and sc.site.limits[1].max_current_a == 40.0
    minimal_path = write(tmp_path / "min.toml", MINIMAL_TOML)
    assert load_scenario(minimal_path, ["site.import_limit_kw=50"]).site.import_limit_kw == 50.0
    with pytest.raises(ScenarioError, match=r"site.import_limit_k: .*did you mean 'import_limit_kw'"):
        load_scenario(minimal_path, ["site.import_limit_k=50"])


def test_periods_on_different_days_may_share_hours() -> None:
    data = minimal()
    data["tariff"] = {"periods": [{"start_h": 7, "end_h": 9, "price_per_kwh": 0.4, "days": "weekdays"},
                                  {"start_h": 0, "end_h": 24, "price_per_kwh": 0.2, "days": "weekend"},
                                  {"start_h": 9, "end_h": 12, "price_per_kwh": 0.35, "days": "weekdays"}]}
    assert len(scenario_from_dict(data).tariff.periods) == 3


@pytest.mark.parametrize(("limits", "key", "message"), [
    ([{"id": "a", "max_kva": 10}, {"id": "b", "parent": "c", "max_kva": 5}, {"id": "c", "parent": "b", "max_kva": 5}],
     "site.limits[1].parent", "cycle: b -> c -> b"),
    ([{"id": "a", "parent": "b", "max_kva": 10}, {"id": "b", "parent": "a", "max_kva": 5}],
     "site.limits[0].parent", "cycle: a -> b -> a"),
    ([{"id": "a", "max_kva": 10}, {"id": "b", "max_kva": 5}], "site.limits[1].parent", "a second root"),
    ([{"id": "a", "max_kva": 10, "chargers": ["x"]}, {"id": "b", "parent": "a", "max_kva": 5, "chargers": ["y", "x"]}],
     "site.limits[1].chargers[1]", "already under node 'a'"),
])
def test_tree_rules(limits: list[dict[str, Any]], key: str, message: str) -> None:
    data = minimal()
    data["site"] = {"limits": limits}
    with pytest.raises(ScenarioError) as error:
        scenario_from_dict(data)
    assert str(error.value).startswith(f"<dict>: {key}: ") and message in str(error.value)


def test_a_deep_valid_tree_loads() -> None:
    data = minimal()
    data["site"] = {"limits": [{"id": "leaf", "parent": "mid", "max_current_a": 16},
                               {"id": "root", "max_kva": 100},
                               {"id": "mid", "parent": "root", "max_current_a": 32}]}
    assert [n.node_id for n in scenario_from_dict(data).site.limits] == ["leaf", "root", "mid"]


# --- the tariff function ------------------------------------------------------------------------


def test_price_at_local_wall_clock() -> None:
    flat = TariffSpec()
    assert price_at(flat, datetime(2026, 1, 1, 3)) == 0.30
    friday, saturday = datetime(2026, 3, 27), datetime(2026, 3, 28)
    assert price_at(NIGHT_AND_WEEKEND, friday.replace(hour=6, minute=59, second=59)) == 0.18
    assert price_at(NIGHT_AND_WEEKEND, friday.replace(hour=7)) == 0.30
    assert price_at(NIGHT_AND_WEEKEND, saturday.replace(hour=7)) == 0.22
    assert price_at(NIGHT_AND_WEEKEND, saturday.replace(hour=23, minute=59)) == 0.22
    np.testing.assert_allclose(price_at_local(NIGHT_AND_WEEKEND, [0.0, 6.99, 7.0, 12.0, 12.0], [4, 4, 4, 4, 6]),
                               [0.18, 0.18, 0.30, 0.30, 0.22])


def _expected_prices(timebase: Timebase, t_s: np.ndarray) -> list[float]:
    """An independent reference: each instant's zoned datetime, rules applied by hand."""
    out = []
    for t in t_s:
        local = timebase.to_datetime(float(t))
        hour = local.hour + local.minute / 60
        if hour < 7:
            out.append(0.18)
        else:
            out.append(0.22 if local.weekday() >= 5 else 0.30)
    return out


def test_prices_across_a_weekend_and_a_dst_change() -> None:
    # Friday 2026-03-27 00:00 in Berlin; clocks go from 02:00 to 03:00 on Sunday the 29th.
    timebase = Timebase(datetime(2026, 3, 27, tzinfo=ZoneInfo("Europe/Berlin")))
    t_s = np.arange(0, 4 * 86400, 900.0)
    prices = price_per_kwh(NIGHT_AND_WEEKEND, timebase, t_s)
    np.testing.assert_allclose(prices, _expected_prices(timebase, t_s))
    # Sunday 07:00 local comes 2 days + 6 h after the start (one hour lost), Monday 07:00 after 3 d + 6 h.
    sunday_7 = 2 * 86400 + 6 * 3600.0
    monday_0, monday_7 = 3 * 86400 - 3600.0, 3 * 86400 + 6 * 3600.0
    got = price_per_kwh(NIGHT_AND_WEEKEND, timebase, [sunday_7 - 900, sunday_7, monday_0 - 900, monday_0,
                                                      monday_7 - 900, monday_7])
    np.testing.assert_allclose(got, [0.18, 0.22, 0.22, 0.18, 0.18, 0.30])
    hour_h, weekday = local_hour_and_weekday(timebase, [sunday_7, monday_0])
    np.testing.assert_allclose(hour_h, [7.0, 0.0])
    assert list(weekday) == [6, 0]


def test_a_fixed_offset_start_has_no_dst_change() -> None:
    timebase = Timebase(datetime(2026, 3, 27, tzinfo=timezone(timedelta(hours=1))))
    sunday_7 = 2 * 86400 + 7 * 3600.0
    got = price_per_kwh(NIGHT_AND_WEEKEND, timebase, [sunday_7 - 3600, sunday_7 - 1, sunday_7])
    np.testing.assert_allclose(got, [0.18, 0.18, 0.22])
    t_s = np.arange(0, 4 * 86400, 3600.0)
    np.testing.assert_allclose(price_per_kwh(NIGHT_AND_WEEKEND, timebase, t_s), _expected_prices(timebase, t_s))


def test_flat_tariff_everywhere() -> None:
    timebase = Timebase(datetime(2026, 10, 24, tzinfo=ZoneInfo("Europe/Berlin")))  # DST ends on the 25th
    prices = price_per_kwh(TariffSpec(0.27), timebase, np.arange(0, 3 * 86400, 600.0))
    assert prices.shape == (432,) and (prices == 0.27).all()
