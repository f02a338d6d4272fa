"""The HTML report: self-contained, every figure embedded, KPI table, escaped text, empty runs."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim.report import write_report
from sim.report.html import KPI_LABELS, format_value
from sim.report.plots import FIGURES
from sim.results import KPI_KEYS, Results, load_results
from sim.results.synthetic import synthetic_results

DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _results(**kwargs: int) -> Results:
    return synthetic_results(np.random.default_rng(11), n_steps=8, **kwargs)


def _check_report(text: str) -> None:
    images = DATA_URI.findall(text)
    assert len(images) == len(FIGURES) == 5
    assert all(base64.b64decode(img).startswith(PNG_MAGIC) for img in images)
    assert '<table class="kpis">' in text
    for key in KPI_KEYS:
        assert f"<td>{KPI_LABELS[key][0]}</td>" in text, key
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(?!data:)', text)
    assert "<script" not in text


def test_report_from_stored_results(tmp_path: Path) -> None:
    out = _results().save(tmp_path / "run")
    path = write_report(load_results(out), out / "report.html")
    assert path == out / "report.html" and path.is_file()
    text = path.read_text(encoding="utf-8")
    _check_report(text)
    for fact in ("synthetic", "0000000000000000", "uncontrolled", "core_backend", "scenario_hash", "seed"):
        assert fact in text
    assert "<td>kWh</td>" in text and "<td>p.u.</td>" in text and "<td>%</td>" in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_sessions": 0},
        {"n_chargers": 0, "n_sessions": 0},
        {"n_buses": 0},
        {"n_steps": 0, "n_buses": 0, "n_chargers": 0, "n_sessions": 0},
    ],
)
def test_report_survives_empty_runs(tmp_path: Path, kwargs: dict) -> None:
    res = synthetic_results(np.random.default_rng(2), **kwargs)
    text = write_report(load_results(res.save(tmp_path)), tmp_path / "r" / "report.html").read_text()
    _check_report(text)
    if kwargs.get("n_buses") == 0:
        assert "n/a" in text  # no voltages: vm_min_pu / vm_max_pu are undefined


def test_text_is_escaped(tmp_path: Path) -> None:
    res = _results()
    evil = Results(
        summary={**res.summary, "scenario": '<script>alert("x")</script>', "note": "a & b"},
        timeseries=res.timeseries,
        sessions=res.sessions,
        bus_vm_pu=res.bus_vm_pu,
        line_loading_percent=res.line_loading_percent,
        buses=res.buses,
    )
    text = write_report(evil, tmp_path / "report.html").read_text()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "a &amp; b" in text


def test_figures_are_released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Figure] = []
    original = Figure.savefig

    def spy(self: Figure, *args: object, **kwargs: object) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    write_report(_results(), tmp_path / "report.html")
    assert len(made) == 5 and all(not fig.axes for fig in made)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (None, "kW", "n/a"),
        (float("nan"), "kW", "n/a"),
        (3, "count", "3"),
        (0.98765, "p.u.", "0.9877"),
        (1234.5, "kWh", "1,234.50"),
        ("abc", "", "abc"),
    ],
)
def test_format_value(value: object, unit: str, text: str) -> None:
    assert format_value(value, unit) == text
