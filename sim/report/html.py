"""One self-contained HTML report of a run: run facts, a KPI table with units, the figures.

The file has no external assets (figures are PNGs embedded as base64 data URIs, the style sheet
is inline), so it can be mailed or archived alone. Every piece of text taken from the results is
passed through ``html.escape``. The report is built from a ``Results`` only, so
``write_report(load_results(d), d / "report.html")`` works on any stored run.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from sim.report.plots import FIGURES
from sim.results import KPI_KEYS, Results

KPI_LABELS: dict[str, tuple[str, str]] = {
    "n_sessions": ("Sessions", "count"),
    "energy_requested_kwh": ("Energy requested", "kWh"),
    "energy_delivered_kwh": ("Energy delivered", "kWh"),
    "energy_unmet_kwh": ("Energy not delivered", "kWh"),
    "share_sessions_fully_served": ("Sessions fully served", "share 0..1"),
    "charging_energy_kwh": ("Charging energy (grid side)", "kWh"),
    "peak_charging_kw": ("Peak charging power", "kW"),
    "peak_import_kw": ("Peak feeder import", "kW"),
    "losses_kwh": ("Feeder losses", "kWh"),
    "max_trafo_loading_percent": ("Highest transformer loading", "%"),
    "max_line_loading_percent": ("Highest line loading", "%"),
    "vm_min_pu": ("Lowest bus voltage", "p.u."),
    "vm_max_pu": ("Highest bus voltage", "p.u."),
    "minutes_voltage_violation": ("Time outside the voltage band", "min"),
    "minutes_overload": ("Time with a line or transformer overloaded", "min"),
    "charging_cost": ("Charging energy cost (tariff)", "currency"),
    "minutes_site_limit_violation": ("Time with a site limit broken", "min"),
    "peak_site_import_kw": ("Peak site import (base load + charging)", "kW"),
}
"""Readable label and unit of each KPI key."""

_DECIMALS = {"kWh": 2, "kW": 2, "kvar": 2, "%": 1, "p.u.": 4, "min": 1, "s": 1, "share 0..1": 3}
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
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0 2em; } img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
"""


def _unit_of(key: str) -> str:
    """Unit of a KPI key not in ``KPI_LABELS``, read from its suffix."""
    for suffix, unit in (
        ("_kwh", "kWh"),
        ("_kw", "kW"),
        ("_kvar", "kvar"),
        ("_percent", "%"),
        ("_pu", "p.u."),
        ("_s", "s"),
    ):
        if key.endswith(suffix):
            return unit
    return "min" if key.startswith("minutes_") else ""


def format_value(value: Any, unit: str = "") -> str:
    """A KPI value as text: ``n/a`` for missing or NaN, numbers rounded by unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{_DECIMALS.get(unit, 3)}f}"


def _row(cells: list[str], numeric: tuple[int, ...] = ()) -> str:
    tds = "".join(
        f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(cells)
    )
    return f"<tr>{tds}</tr>"


def kpi_table(kpis: dict[str, Any]) -> str:
    """The KPI table as HTML: KPI, value, unit (known keys in ``KPI_KEYS`` order, others after)."""
    keys = [k for k in KPI_KEYS if k in kpis] + sorted(k for k in kpis if k not in KPI_KEYS)
    rows = []
    for key in keys:
        label, unit = KPI_LABELS.get(key, (key, _unit_of(key)))
        cells = [html.escape(label), html.escape(format_value(kpis[key], unit)), html.escape(unit)]
        rows.append(_row(cells, numeric=(1,)))
    head = "<tr><th>KPI</th><th>value</th><th>unit</th></tr>"
    return f'<table class="kpis">\n{head}\n' + "\n".join(rows) + "\n</table>"


def run_table(summary: dict[str, Any]) -> str:
    """The run facts (scenario, hash, seed, version, backend, ...) then other plain meta keys."""
    scalars = {k: v for k, v in summary.items() if k != "kpis" and not isinstance(v, dict | list)}
    keys = [k for k in _RUN_KEYS if k in scalars] + sorted(k for k in scalars if k not in _RUN_KEYS)
    rows = [_row([html.escape(k), html.escape(format_value(scalars[k], _unit_of(k)))]) for k in keys]
    head = "<tr><th>run</th><th>value</th></tr>"
    return f'<table class="run">\n{head}\n' + "\n".join(rows) + "\n</table>"


def png_data_uri(fig: Figure, dpi: int = 100) -> str:
    """The figure as a ``data:image/png;base64,...`` URI; clears the figure afterwards."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figures_html(results: Results) -> str:
    parts = []
    for fig_id, caption, make in FIGURES:
        uri = png_data_uri(make(results))
        text = html.escape(caption)
        parts.append(
            f'<figure id="{fig_id}"><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>'
        )
    return "\n".join(parts)


def render_report(results: Results) -> str:
    """The whole report as one HTML string."""
    name = html.escape(str(results.summary.get("scenario", "unnamed scenario")))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>feedertwin report: {name}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>feedertwin report: {name}</h1>",
            "<h2>Run</h2>",
            run_table(results.summary),
            "<h2>Key figures</h2>",
            kpi_table(results.kpis),
            "<h2>Figures</h2>",
            _figures_html(results),
            "</body></html>",
            "",
        ]
    )


def write_report(results: Results, path: str | Path) -> Path:
    """Write the report to ``path`` (parent directories created); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(results), encoding="utf-8")
    return out
