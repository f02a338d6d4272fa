"""Strategy comparison: identical inputs for every strategy, one row each, files written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.domain import Setpoints, SiteView
from sim.study.compare import COLUMNS

ROOT = Path(__file__).resolve().parents[2]
WORKPLACE = ROOT / "scenarios" / "workplace.toml"


class Trickle:
    """Every plugged-in vehicle at its charger's minimum current."""

    name = "trickle"

    def compute(self, view: SiteView) -> Setpoints:
        current_a = np.zeros(len(view.chargers))
        i = view.sessions.charger_index
        current_a[i] = view.chargers.min_current_a[i]
        return Setpoints(current_a)


def test_strategies_see_identical_sessions(tmp_path: Path) -> None:
    result = sim.compare(WORKPLACE, ["uncontrolled", Trickle()], overrides=["simulation.duration=1d"])
    assert list(result.table.index) == ["uncontrolled", "trickle"]
    assert list(result.table.columns) == list(COLUMNS)
    a, b = result.results["uncontrolled"].sessions, result.results["trickle"].sessions
    pd.testing.assert_frame_equal(a.drop(columns="energy_delivered_kwh"), b.drop(columns="energy_delivered_kwh"))
    t = result.table
    assert t.loc["trickle", "peak_charging_kw"] < t.loc["uncontrolled", "peak_charging_kw"]
    assert t.loc["trickle", "energy_delivered_kwh"] <= t.loc["uncontrolled", "energy_delivered_kwh"] + 1e-9
    out = result.save(tmp_path / "cmp")
    assert (out / "comparison.csv").is_file() and (out / "trickle" / "summary.json").is_file()
    assert pd.read_csv(out / "comparison.csv", index_col="strategy").shape == t.shape


def test_cli_compare_writes_table_and_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", str(WORKPLACE), "--strategies", "uncontrolled", "--set", "simulation.duration=6h",
                 "--out", str(tmp_path / "c")])
    assert code == 0
    assert (tmp_path / "c" / "comparison.csv").is_file() and (tmp_path / "c" / "comparison.png").is_file()
    assert "uncontrolled" in capsys.readouterr().out


def test_cli_compare_unknown_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(WORKPLACE), "--strategies", "uncontrolled,nope"]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "available:" in err and "Traceback" not in err


def test_params_per_strategy_and_the_managed_scenario() -> None:
    managed = ROOT / "scenarios" / "workplace_managed.toml"
    result = sim.compare(managed, ["uncontrolled", "edf", "peak_shaving"], overrides=["simulation.duration=2d"],
                         params={"peak_shaving": {"target_kw": 80.0}})
    t = result.table
    assert t.loc["uncontrolled", "minutes_site_limit_violation"] >= 0
    assert t.loc["edf", "minutes_site_limit_violation"] == 0
    assert t.loc["peak_shaving", "minutes_site_limit_violation"] == 0


def test_cli_param_must_name_a_compared_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(WORKPLACE), "--strategies", "edf", "--param", "peak_shaving.target_kw=80"]) == 2
    err = capsys.readouterr().err
    assert "--param 'peak_shaving.target_kw=80'" in err and "NAME.KEY=VALUE" in err


def test_cli_param_value_is_read_as_toml() -> None:
    from sim.cli.compare import strategy_params as _strategy_params

    assert _strategy_params(["peak_shaving.target_kw=80", "peak_shaving.forecast=persistence"],
                            ["peak_shaving"]) == {"peak_shaving": {"target_kw": 80, "forecast": "persistence"}}
