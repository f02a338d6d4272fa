"""Unbalanced runs end to end: per-phase results reach the Results, a balanced run is unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.cli import main
from sim.engine.simulation import simulate
from sim.results import KPI_KEYS, UNBALANCE_KPI_KEYS, Results, load_results
from sim.results.phases import PHASE_FILES, PHASE_TIMESERIES_COLUMNS
from sim.results.results import RESULT_FILES, TIMESERIES_COLUMNS
from sim.scenario import scenario_from_dict

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "unbalanced_ieee_lv.toml"


def _ieee(loadflow: str, duration: str = "1d", phase: str = "L1") -> dict[str, Any]:
    """The IEEE European LV feeder with a single-phase 7.4 kW charger on ``phase`` at every household."""
    return {
        "name": f"ieee-{loadflow}",
        "simulation": {"start": "2026-01-12T00:00:00+01:00", "duration": duration, "control_period_s": 900,
                       "seed": 3},
        "grid": {"network": "ieee_european_lv", "loadflow": loadflow,
                 "base_load": {"profile": "household", "peak_kw": 4.0}},
        "chargers": [{"place": "per_load_bus", "id_prefix": "cp", "phases": 1, "phase": phase,
                      "max_current_a": 32, "kind": "home"}],
        "fleet": {"source": "generate", "kinds": {"home": {"sessions_per_day": 1.0, "energy_kwh_mean": 15.0}}},
        "battery": {"model": "taper"},
    }


@pytest.fixture(scope="module")
def unbalanced() -> Results:
    return simulate(scenario_from_dict(_ieee("unbalanced")))


@pytest.fixture(scope="module")
def balanced() -> Results:
    return simulate(scenario_from_dict(_ieee("fast")))


def test_a_day_unbalanced_has_per_phase_tables_and_vm_pu_is_the_lowest_phase(unbalanced: Results) -> None:
    phases = unbalanced.phases
    assert phases is not None and unbalanced.summary["loadflow_deferred"] is True
    n_ticks, n_buses = 96, unbalanced.summary["n_buses"]
    for _, table in phases.items():
        assert table.shape[0] == n_ticks and table.index.equals(unbalanced.bus_vm_pu.index)
    assert phases.vm_a_pu.shape == (n_ticks, n_buses)
    assert list(phases.line_i_c_ka.columns) == list(unbalanced.line_loading_percent.columns)
    lowest = np.fmin(np.fmin(phases.vm_a_pu.to_numpy(), phases.vm_b_pu.to_numpy()), phases.vm_c_pu.to_numpy())
    np.testing.assert_array_equal(unbalanced.bus_vm_pu.to_numpy(), lowest)
    assert set(PHASE_TIMESERIES_COLUMNS) <= set(unbalanced.timeseries.columns)
    assert list(unbalanced.kpis) == [*KPI_KEYS, *UNBALANCE_KPI_KEYS]


def test_single_phase_charging_lowers_its_phase_and_unbalances(unbalanced: Results, balanced: Results) -> None:
    kpis = unbalanced.kpis
    assert kpis["vm_min_a_pu"] < kpis["vm_min_b_pu"] - 0.02 and kpis["vm_min_a_pu"] < kpis["vm_min_c_pu"] - 0.02
    ts = unbalanced.timeseries
    np.testing.assert_allclose(ts["p_import_a_kw"] + ts["p_import_b_kw"] + ts["p_import_c_kw"], ts["p_import_kw"],
                               rtol=1e-9)
    assert kpis["vuf_max_percent"] > 1.0 and kpis["vuf_max_bus"] in unbalanced.bus_vm_pu.columns
    assert (unbalanced.timeseries["vuf_max_percent"] > 0.0).all()
    # the balanced load flow spreads the same charging over three phases: it sees a milder feeder
    assert kpis["vm_min_pu"] < balanced.kpis["vm_min_pu"] - 0.02
    assert balanced.phases is None


def test_a_balanced_run_has_no_per_phase_data(balanced: Results, tmp_path: Path) -> None:
    assert "per_phase_results" not in balanced.summary and "vuf_limit_percent" not in balanced.summary
    assert list(balanced.kpis) == list(KPI_KEYS)
    assert list(balanced.timeseries.columns) == [*TIMESERIES_COLUMNS,
                                                 *(f"p_kw:{c}" for c in balanced.charger_ids)]
    balanced.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == set(RESULT_FILES)


def test_per_tick_recording_equals_the_deferred_block(unbalanced: Results) -> None:
    """runpp_3ph at every tick (``record_step``) against the fast block solve (``record_block``)."""
    reference = simulate(scenario_from_dict(_ieee("unbalanced_pandapower", duration="2h")))
    assert reference.summary["loadflow_deferred"] is False and reference.phases is not None and unbalanced.phases
    n = len(reference.timeseries)
    for name, table in reference.phases.items():
        np.testing.assert_allclose(table.to_numpy(), getattr(unbalanced.phases, name).to_numpy()[:n], atol=1e-6,
                                   err_msg=name)
    np.testing.assert_allclose(reference.timeseries["p_import_a_kw"], unbalanced.timeseries["p_import_a_kw"][:n],
                               rtol=1e-6)


def test_the_example_scenario_validates_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLE)]) == 0
    out = tmp_path / "run"
    assert main(["run", str(EXAMPLE), "--set", 'simulation.duration="1d"', "--out", str(out), "--quiet"]) == 0
    assert set(PHASE_FILES) <= {p.name for p in out.iterdir()}
    results = load_results(out)
    assert results.phases is not None and results.kpis["vuf_max_percent"] > 0.0
    assert 'id="phase_voltages"' in (out / "report.html").read_text(encoding="utf-8")
