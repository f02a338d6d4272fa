"""The limit checks of a run (sim.results.violations) on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.results.violations import Criteria, check_run, duration_curve, ten_minute_means

WEEK_TICKS_10MIN = 7 * 24 * 6


def frames(vm: np.ndarray, lines: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    bus = pd.DataFrame(vm, columns=[str(i) for i in range(vm.shape[1])])
    line = pd.DataFrame(np.zeros((vm.shape[0], 1)) if lines is None else lines, columns=["L7"])
    return bus, line


def test_ten_minute_means_are_exact_for_any_tick() -> None:
    values = np.array([[1.0], [0.7], [1.0], [0.4]])  # 15-minute ticks: an hour
    means = ten_minute_means(values, 900.0)
    # windows 0-10, 10-20 (5 min of 1.0, 5 of 0.7), 20-30, 30-40, 40-50 (1.0 then 0.4), 50-60
    assert means[:, 0] == pytest.approx([1.0, 0.85, 0.7, 1.0, 0.7, 0.4])
    assert ten_minute_means(np.full((12, 2), 0.95), 300.0) == pytest.approx(np.full((6, 2), 0.95))


def test_band_rule_binding_limit_element_and_minutes() -> None:
    vm = np.full((10, 3), 1.0)
    vm[2:5, 1] = 0.88  # bus "1" low for 3 ticks
    lines = np.full((10, 1), 50.0)
    lines[7, 0] = 104.0  # line "L7" over for 1 tick
    check = check_run(*frames(vm, lines), np.full(10, 40.0), 600.0, Criteria(), trafo_id="T0")
    assert not check.passes
    assert (check.binding_limit, check.binding_element) == ("undervoltage", "1")  # broken longest
    row = check.row()
    assert row["undervoltage_minutes"] == 30.0 and row["undervoltage_worst"] == 0.88
    assert (row["line_minutes"], row["line_element"], row["line_worst"]) == (10.0, "L7", 104.0)
    assert (row["transformer_minutes"], row["transformer_element"]) == (0.0, "T0")
    assert row["violation_minutes"] == 40.0
    # 40 minutes in a run of 100 minutes are 210240 minutes a year: a yearly allowance above that passes.
    tolerant = Criteria(max_violation_minutes_per_year=40.0 * 365 * 24 * 60 / 100.0)
    assert check_run(*frames(vm, lines), np.full(10, 40.0), 600.0, tolerant).passes


def test_en50160_rule_on_weekly_ten_minute_means() -> None:
    rule = Criteria(voltage_rule="en50160")
    vm = np.full((WEEK_TICKS_10MIN, 2), 1.0)
    vm[:50, 0] = 0.88  # 50 of 1008 means (5.0 %) below 0.90: allowed
    assert check_run(*frames(vm), np.zeros(len(vm)), 600.0, rule).passes
    assert not check_run(*frames(vm), np.zeros(len(vm)), 600.0, Criteria()).passes  # the band rule: fails
    vm[:60, 0] = 0.88  # 6 %: too many
    check = check_run(*frames(vm), np.zeros(len(vm)), 600.0, rule)
    assert (check.binding_limit, check.binding_element) == ("undervoltage", "0")
    assert check.limits["undervoltage"].minutes == 600.0
    vm[:60, 0] = 1.0
    vm[5, 1] = 0.84  # one 10-minute mean below 0.85: fails whatever the share
    assert check_run(*frames(vm), np.zeros(len(vm)), 600.0, rule).binding_element == "1"


def test_duration_curve_is_descending_quantiles() -> None:
    curve = duration_curve(np.arange(101.0))
    assert len(curve) == 101 and curve[0] == 100.0 and curve[-1] == 0.0 and curve[50] == 50.0
    assert all(np.isnan(duration_curve(np.array([np.nan]))))
