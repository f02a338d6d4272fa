"""The unbalance limit of the hosting-capacity criteria, on hand-made per-phase frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.results.phases import PhaseTables
from sim.results.violations import ALL_LIMITS, LIMITS, Criteria, check_run
from sim.scenario import scenario_from_dict
from sim.study.hosting import _criteria_hash, check_criteria_fit
from sim.study.hosting_criteria import criteria_dict, load_criteria

STUDIES = Path(__file__).resolve().parents[2] / "scenarios" / "studies"
N_TICKS = 10
PERIOD_S = 600.0


def _phases(vuf: np.ndarray, vm: np.ndarray | None = None) -> tuple[pd.DataFrame, PhaseTables]:
    """Per-phase tables of two buses ("4", "5") over ``N_TICKS``; ``vm`` is (ticks, buses, 3)."""
    times = pd.date_range("2026-01-05", periods=N_TICKS, freq="10min", tz="UTC", name="time")
    vm = np.full((N_TICKS, 2, 3), 1.0) if vm is None else vm

    def bus(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=times, columns=["4", "5"])

    lines = pd.DataFrame(np.zeros((N_TICKS, 1)), index=times, columns=["L1"])
    tables = PhaseTables(bus(vm[:, :, 0]), bus(vm[:, :, 1]), bus(vm[:, :, 2]), bus(vuf), bus(np.zeros_like(vuf)),
                         lines, lines, lines)
    return bus(vm.min(axis=2)), tables


def _check(vuf: np.ndarray, criteria: Criteria, vm: np.ndarray | None = None):  # noqa: ANN202
    low, tables = _phases(vuf, vm)
    return check_run(low, tables.line_i_a_ka * 0.0, np.zeros(N_TICKS), PERIOD_S, criteria, "T", phases=tables)


def test_unbalance_passes_and_fails_on_hand_made_points() -> None:
    vuf = np.full((N_TICKS, 2), 1.0)
    rule = Criteria(vuf_max_percent=2.0)
    assert _check(vuf, rule).passes  # 1 % everywhere
    vuf[3:5, 1] = [2.4, 2.8]  # bus "5" above 2 % for two ticks (20 minutes)
    check = _check(vuf, rule)
    assert not check.passes
    assert (check.binding_limit, check.binding_element) == ("unbalance", "5")
    row = check.row()
    assert (row["unbalance_minutes"], row["unbalance_element"], row["unbalance_worst"]) == (20.0, "5", 2.8)
    assert row["violation_minutes"] == 0.0  # the unbalance limit has its own allowance
    # 20 minutes in a run of 100 minutes: 105,120 minutes a year is the allowance that just passes
    assert _check(vuf, Criteria(vuf_max_percent=2.0, vuf_max_minutes_per_year=105_120.0)).passes
    assert not _check(vuf, Criteria(vuf_max_percent=2.0, vuf_max_minutes_per_year=105_000.0)).passes
    assert _check(vuf, Criteria(vuf_max_percent=3.0)).passes


def test_overvoltage_sees_the_highest_phase() -> None:
    vm = np.full((N_TICKS, 2, 3), 1.0)
    vm[6, 0, 2] = 1.12  # phase c of bus "4" above 1.10 for one tick; its lowest phase stays 1.0
    check = _check(np.zeros((N_TICKS, 2)), Criteria(), vm)
    assert (check.binding_limit, check.binding_element) == ("overvoltage", "4")
    assert check.row()["overvoltage_worst"] == 1.12
    assert "unbalance_minutes" not in check.row()  # not checked unless the criteria set it
    en50160 = _check(np.zeros((N_TICKS, 2)), Criteria(voltage_rule="en50160"), vm * 0 + 1.16)
    assert en50160.limits["overvoltage"].fails and en50160.limits["overvoltage"].element == "4"


def test_an_unbalance_limit_without_phases_is_a_clear_error() -> None:
    low, _ = _phases(np.zeros((N_TICKS, 2)))
    with pytest.raises(ValueError, match=r"unbalance\.vuf_max_percent = 2\.0 needs per-phase results"):
        check_run(low, low.iloc[:, :1], np.zeros(N_TICKS), PERIOD_S, Criteria(vuf_max_percent=2.0))
    balanced = scenario_from_dict({
        "simulation": {"start": "2026-01-05T00:00:00+01:00", "duration": "1d", "control_period_s": 900},
        "grid": {"network": "kerber_landnetz_kabel_1"},
        "chargers": [{"place": "per_load_bus"}], "fleet": {"source": "generate"}})
    file = STUDIES / "criteria_en50160_unbalanced.toml"
    with pytest.raises(sim.ScenarioError, match=r"unbalance\.vuf_max_percent.*loadflow = 'fast'"):
        check_criteria_fit(load_criteria(file), balanced, file)
    check_criteria_fit(load_criteria(STUDIES / "criteria_en50160.toml"), balanced)  # no unbalance limit: fine


def test_example_files_and_hash_of_balanced_criteria_unchanged() -> None:
    unbalanced = load_criteria(STUDIES / "criteria_en50160_unbalanced.toml")
    assert (unbalanced.vuf_max_percent, unbalanced.vuf_max_minutes_per_year) == (2.0, 26_280.0)
    assert criteria_dict(unbalanced)["unbalance"] == {"vuf_max_percent": 2.0, "max_minutes_per_year": 26_280.0}
    balanced = load_criteria(STUDIES / "criteria_en50160.toml")
    assert "unbalance" not in criteria_dict(balanced) and balanced.vuf_max_percent is None
    assert _criteria_hash(Criteria()) == "4a3216a27f6d3f0d"  # as before the unbalance key existed
    assert ALL_LIMITS[: len(LIMITS)] == LIMITS
