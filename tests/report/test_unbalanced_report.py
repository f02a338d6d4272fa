"""The run report of an unbalanced run: phase figures and unbalance KPIs; a balanced report unchanged."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import numpy as np

from sim.domain import GridState, Timebase
from sim.report.html import render_report
from sim.report.phase_plots import PHASE_FIGURES, phase_voltage_figure, vuf_figure
from sim.report.plots import FIGURES
from sim.results import Recorder, Results

START = datetime(2026, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=1)))


def _results(phases: bool, n: int = 8) -> Results:
    rng = np.random.default_rng(5)
    rec = Recorder(n, 900.0, Timebase(START), ("cp",), (1, 2), (0,), (0,))
    for k in range(n):
        vm = np.column_stack([rng.uniform(0.88, 0.95, 2), rng.uniform(0.98, 1.0, 2), rng.uniform(1.0, 1.05, 2)])
        state = GridState(k * 900.0, vm.min(axis=1), np.array([50.0]), np.array([40.0]), 30.0, 1.0, 0.5,
                          vm_phase_pu=vm if phases else None, vuf_percent=rng.uniform(0, 3, 2) if phases else None,
                          vm0_pu=np.zeros(2) if phases else None,
                          line_i_phase_ka=np.full((1, 3), 0.1) if phases else None,
                          p_import_phase_kw=np.array([15.0, 10.0, 5.0]) if phases else None)
        rec.record_step(k, k * 900.0, [7.4], 20.0, 0.0, state)
    return rec.finish(None, {"scenario": "phases", "start": START.isoformat()})


def _figure_ids(page: str) -> list[str]:
    return re.findall(r'<figure id="([a-z_]+)"', page)


def test_unbalanced_report_has_the_phase_figures_and_kpis() -> None:
    page = render_report(_results(phases=True))
    assert _figure_ids(page) == [f[0] for f in FIGURES] + [f[0] for f in PHASE_FIGURES]
    for label in ("Worst voltage unbalance factor", "Time with unbalance above its limit",
                  "Lowest voltage, phase a (L1)", "Peak feeder import, phase c (L3)", "Worst unbalance: bus"):
        assert label in page


def test_balanced_report_is_unchanged() -> None:
    page = render_report(_results(phases=False))
    assert _figure_ids(page) == [f[0] for f in FIGURES]
    assert "unbalance" not in page.lower()


def test_phase_figures_name_the_worst_bus_and_cope_without_phases() -> None:
    results = _results(phases=True)
    worst_vm = str(results.bus_vm_pu.min().idxmin())
    assert f"bus {worst_vm}" in phase_voltage_figure(results).axes[0].get_title()
    worst_vuf = str(results.phases.vuf_percent.max().idxmax()) if results.phases is not None else ""
    axes = vuf_figure(results).axes[0]
    assert f"bus {worst_vuf}" in axes.get_title() and len(axes.get_lines()) == 3  # largest, worst bus, limit
    balanced = _results(phases=False)
    assert "no phase voltages" in phase_voltage_figure(balanced).axes[0].texts[0].get_text()
