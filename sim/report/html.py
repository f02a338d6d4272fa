"""One self-contained HTML report of a run: run facts, a KPI table with units, the figures (and, for
the results of ``feedertwin replay``, the comparison with what was measured: ``sim.report.replay_section``).

The file has no external assets (figures are PNGs embedded as base64 data URIs, the style sheet
is inline), so it can be mailed or archived alone. Every piece of text taken from the results is
passed through ``html.escape``. The report is built from a ``Results`` only, so
``write_report(load_results(d), d / "report.html")`` works on any stored run.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from sim.report.html_parts import KPI_LABELS, figure_html, format_value, page, row, unit_of
from sim.report.phase_plots import PHASE_FIGURES
from sim.report.plots import FIGURES
from sim.report.replay_section import ANCHOR as REPLAY_ANCHOR
from sim.report.replay_section import replay_section
from sim.report.study_html import section_html
from sim.results import KPI_KEYS, UNBALANCE_KPI_KEYS, Results

__all__ = ["KPI_LABELS", "format_value", "kpi_table", "render_report", "run_table", "write_report"]

_RUN_KEYS = (
    "scenario",
    "scenario_hash",
    "seed",
    "version",
    "core_backend",
    "strategy",
    "start",
    "duration_s",
    "control_period_s",
    "record_period_s",
    "n_steps_recorded",
    "grid",
    "wall_time_s",
)


def kpi_table(kpis: dict[str, Any]) -> str:
    """The KPI table as HTML: KPI, value, unit (known keys in ``KPI_KEYS`` then ``UNBALANCE_KPI_KEYS``
    order, others after)."""
    known = KPI_KEYS + UNBALANCE_KPI_KEYS
    keys = [k for k in known if k in kpis] + sorted(k for k in kpis if k not in known)
    rows = []
    for key in keys:
        label, unit = KPI_LABELS.get(key, (key, unit_of(key)))
        cells = [html.escape(label), html.escape(format_value(kpis[key], unit)), html.escape(unit)]
        rows.append(row(cells, numeric=(1,)))
    head = "<tr><th>KPI</th><th>value</th><th>unit</th></tr>"
    return f'<table class="kpis">\n{head}\n' + "\n".join(rows) + "\n</table>"


def run_table(summary: dict[str, Any]) -> str:
    """The run facts (scenario, hash, seed, version, backend, ...) then other plain meta keys."""
    scalars = {k: v for k, v in summary.items() if k != "kpis" and not isinstance(v, dict | list)}
    keys = [k for k in _RUN_KEYS if k in scalars] + sorted(k for k in scalars if k not in _RUN_KEYS)
    rows = [row([html.escape(k), html.escape(format_value(scalars[k], unit_of(k)))]) for k in keys]
    head = "<tr><th>run</th><th>value</th></tr>"
    return f'<table class="run">\n{head}\n' + "\n".join(rows) + "\n</table>"


def _figures_html(results: Results) -> str:
    """Every figure of ``FIGURES``, then, for a run with per-phase results, those of ``PHASE_FIGURES``."""
    figures = FIGURES + (PHASE_FIGURES if results.phases is not None else ())
    return "\n".join(
        figure_html(make(results), alt=caption, caption=caption, fig_id=fig_id) for fig_id, caption, make in figures
    )


def render_report(results: Results) -> str:
    """The whole report as one HTML string (with the replay comparison when ``results`` are a replay's)."""
    name = str(results.summary.get("scenario", "unnamed scenario"))
    replay = replay_section(results)
    return page(
        f"feedertwin report: {name}",
        [
            "<h2>Run</h2>",
            run_table(results.summary),
            "<h2>Key figures</h2>",
            kpi_table(results.kpis),
            *([section_html(replay, REPLAY_ANCHOR)] if replay is not None else []),
            "<h2>Figures</h2>",
            _figures_html(results),
        ],
    )


def write_report(results: Results, path: str | Path) -> Path:
    """Write the report to ``path`` (parent directories created); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(results), encoding="utf-8")
    return out
