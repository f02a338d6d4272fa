"""The public Python API: the curated ``sim.__all__`` and the round trip a notebook user makes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import sim
from sim.domain import Setpoints, SiteView

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_curated_and_resolves() -> None:
    assert sim.__all__ == ["__version__", *sorted(set(sim.__all__) - {"__version__"})]
    for name in sim.__all__:
        assert getattr(sim, name) is not None


def test_import_is_light() -> None:
    # `import sim` must not pull in pandapower or simpy (fast CLI start, no side effects).
    code = "import sys, sim; print('pandapower' in sys.modules, 'simpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_load_simulate_save_load(tmp_path: Path) -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / "workplace.toml")
    results = sim.simulate(scenario, strategy=None)
    out = results.save(tmp_path / "wp")
    again = sim.load_results(out)
    assert again.summary == results.summary
    assert again.timeseries.equals(results.timeseries)
    assert again.sessions.equals(results.sessions)
    report = sim.write_report(again, tmp_path / "wp" / "report.html")
    assert report.read_text().count("<img") >= 4


def test_simulate_takes_a_path_and_overrides() -> None:
    results = sim.simulate(ROOT / "scenarios" / "workplace.toml", overrides=["simulation.duration=6h"])
    assert results.summary["duration_s"] == 6 * 3600
    assert len(results.timeseries) == 6 * 12


class QuarterPower:
    """A user-written strategy: every plugged-in vehicle at a quarter of its charger's current (>= min)."""

    name = "quarter_power"

    def compute(self, view: SiteView) -> Setpoints:
        current_a = np.zeros(len(view.chargers))
        i = view.sessions.charger_index
        current_a[i] = np.maximum(view.chargers.max_current_a[i] / 4, view.chargers.min_current_a[i])
        return Setpoints(current_a)


def test_user_strategy_object_plugs_in() -> None:
    path = ROOT / "scenarios" / "workplace.toml"
    full = sim.simulate(path, overrides=["simulation.duration=1d"])
    half = sim.simulate(path, overrides=["simulation.duration=1d"], strategy=QuarterPower())
    assert half.summary["strategy"] == "quarter_power"
    # 32 A chargers offer 8 A: at most 5.52 kW (three-phase) or 1.84 kW (single-phase) each.
    for cid, phases in (("office-01", 3), ("yard-04", 1)):
        assert half.timeseries[f"p_kw:{cid}"].max() <= phases * 230 * 8 / 1000 + 1e-9
    assert half.summary["kpis"]["peak_charging_kw"] < full.summary["kpis"]["peak_charging_kw"]
