"""The replay section of a run report: present with the right numbers for results that hold
``summary["replay"]`` (as ``feedertwin replay`` writes them), absent from a plain run's report.

A replay of a real live store is checked in ``tests/live/test_export_replay.py``; here the results
are synthetic (seeded), so every case, including odd ones, is quick.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from sim.cli import main
from sim.report import write_report
from sim.report.html import render_report
from sim.report.plots import FIGURES
from sim.report.replay_section import MEASURED_POWER_COLUMN, TITLE, comparison_table
from sim.results import Results, load_results
from sim.results.synthetic import synthetic_results
from tests.report.replay_html import check_replay_section, number, replay_section_html

ROOT = Path(__file__).resolve().parents[2]
IMAGE = '<img src="data:image/png;base64,'


def _replayed(strategy: str = "equal_share", with_measured_power: bool = True) -> Results:
    """Synthetic results as a replay leaves them: the measured power 20 % above the simulated one."""
    plain = synthetic_results(np.random.default_rng(5), n_steps=12)
    measured_kw = plain.timeseries["charging_p_kw"].to_numpy() * 1.2
    kpis = plain.kpis
    measured = {"energy_delivered_kwh": kpis["energy_delivered_kwh"] * 1.2, "peak_charging_kw": float(measured_kw.max()),
                "minutes_site_limit_violation": 30.0, "n_sessions": kpis["n_sessions"]}
    replay = {"strategy": strategy, "measured": measured, "simulated": {k: kpis[k] for k in measured},
              "sessions_open_at_store_end": 1}
    timeseries = plain.timeseries.assign(**{MEASURED_POWER_COLUMN: measured_kw}) if with_measured_power \
        else plain.timeseries
    return dataclasses.replace(plain, summary={**plain.summary, "replay": replay}, timeseries=timeseries)


def test_a_replay_report_shows_the_comparison_read_back_from_its_directory(tmp_path: Path) -> None:
    out = _replayed().save(tmp_path / "replay")
    report = write_report(load_results(out), out / "report.html").read_text(encoding="utf-8")
    replay = json.loads((out / "summary.json").read_text())["replay"]
    rows = check_replay_section(report, replay)
    assert number(rows["Energy delivered"][4]) == -16.7  # simulated is 1/1.2 of measured
    assert rows["Time with a site limit broken"][2:] == ["0.0", "-30.0", "-100.0 %"]
    assert report.count(IMAGE) == len(FIGURES) + 1
    assert "1 of the sessions were still open when the store ended" in report
    # the section sits between the key figures and the run's figures
    assert report.index("<h2>Key figures</h2>") < report.index(TITLE) < report.index("<h2>Figures</h2>")


def test_a_replay_without_the_measured_power_still_shows_its_table() -> None:
    """Results of a replay from before the measured power was stored: the figure says so."""
    results = _replayed(with_measured_power=False)
    report = render_report(results)
    check_replay_section(report, results.summary["replay"])


def test_the_strategy_name_is_escaped() -> None:
    report = render_report(_replayed(strategy="<b>mine</b>"))
    assert "<b>" not in report and "simulated with &lt;b&gt;mine&lt;/b&gt;" in report


def test_comparison_table_order_signs_and_undefined_values() -> None:
    replay: dict[str, Any] = {
        "strategy": "s",
        "measured": {"extra_kw": 2.0, "peak_charging_kw": 10.0, "energy_delivered_kwh": 0.0, "n_sessions": 3},
        "simulated": {"peak_charging_kw": 12.5, "energy_delivered_kwh": 4.0, "n_sessions": 2},
    }
    table = comparison_table(replay)
    assert list(table.index) == ["Sessions", "Energy delivered", "Peak charging power", "extra_kw"]
    assert list(table.columns) == ["unit", "measured", "simulated with s", "difference", "difference (%)"]
    assert list(table.loc["Peak charging power"]) == ["kW", "10.00", "12.50", "+2.50", "+25.0 %"]
    assert list(table.loc["Energy delivered"]) == ["kWh", "0.00", "4.00", "+4.00", "n/a"]  # nothing measured
    assert list(table.loc["Sessions"]) == ["count", "3", "2", "-1", "-33.3 %"]
    assert list(table.loc["extra_kw"]) == ["kW", "2.00", "n/a", "n/a", "n/a"]  # not simulated


def test_a_plain_run_report_has_no_replay_section(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["run", str(ROOT / "scenarios" / "workplace.toml"), "--set", "simulation.duration=2h", "--out", str(out),
            "--quiet"]
    assert main(argv) == 0
    report = (out / "report.html").read_text(encoding="utf-8")
    assert replay_section_html(report) is None and TITLE not in report
    assert report.count(IMAGE) == len(FIGURES)
    assert MEASURED_POWER_COLUMN not in load_results(out).timeseries.columns
