"""What every feedertwin HTML report shares: the style sheet, the page frame, KPI labels and units,
number formatting, table rows and figures embedded as PNG data URIs.

The run report (``sim.report.html``) and the study reports (``sim.report.study_html``) are both
built from these, so they look alike and are self-contained the same way: no external asset, every
piece of text passed through ``html.escape`` by the caller before it reaches a row or the page.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

from matplotlib.figure import Figure

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
    # unbalanced runs only (sim.results.metrics.UNBALANCE_KPI_KEYS)
    "minutes_phase_voltage_violation": ("Time with a phase voltage outside the band", "min"),
    "minutes_voltage_violation_a": ("Time outside the band, phase a (L1)", "min"),
    "minutes_voltage_violation_b": ("Time outside the band, phase b (L2)", "min"),
    "minutes_voltage_violation_c": ("Time outside the band, phase c (L3)", "min"),
    "vm_min_a_pu": ("Lowest voltage, phase a (L1)", "p.u."),
    "vm_min_b_pu": ("Lowest voltage, phase b (L2)", "p.u."),
    "vm_min_c_pu": ("Lowest voltage, phase c (L3)", "p.u."),
    "vuf_max_percent": ("Worst voltage unbalance factor", "%"),
    "vuf_max_bus": ("Worst unbalance: bus", ""),
    "vuf_max_time": ("Worst unbalance: time (UTC)", ""),
    "minutes_vuf_violation": ("Time with unbalance above its limit", "min"),
    "peak_import_a_kw": ("Peak feeder import, phase a (L1)", "kW"),
    "peak_import_b_kw": ("Peak feeder import, phase b (L2)", "kW"),
    "peak_import_c_kw": ("Peak feeder import, phase c (L3)", "kW"),
}
"""Readable label and unit of each KPI key."""

_DECIMALS = {"kWh": 2, "kW": 2, "kvar": 2, "%": 1, "p.u.": 4, "min": 1, "s": 1, "share 0..1": 3}

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
figure { margin: 1em 0 2em; } img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
"""
"""The inline style sheet of every report."""


def unit_of(key: str) -> str:
    """The unit of a KPI (or any ``snake_case`` key with a unit suffix): from ``KPI_LABELS``, else
    read from its suffix (``_kwh`` -> kWh, ``_pu`` -> p.u., ``minutes_...`` -> min, ...)."""
    if key in KPI_LABELS:
        return KPI_LABELS[key][1]
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


def row(cells: list[str], numeric: tuple[int, ...] = (), header: tuple[int, ...] = ()) -> str:
    """One table row of already escaped cells; ``numeric`` cells are right-aligned, ``header``
    cells are ``<th>`` (an index)."""
    parts = []
    for i, cell in enumerate(cells):
        if i in header:
            parts.append(f"<th>{cell}</th>")
        elif i in numeric:
            parts.append(f'<td class="num">{cell}</td>')
        else:
            parts.append(f"<td>{cell}</td>")
    return f"<tr>{''.join(parts)}</tr>"


def png_data_uri(fig: Figure, dpi: int = 100) -> str:
    """The figure as a ``data:image/png;base64,...`` URI; clears the figure afterwards."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    finally:
        fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_html(fig: Figure, alt: str, caption: str = "", fig_id: str = "") -> str:
    """A ``<figure>`` with the figure embedded as a PNG (``alt``, ``caption``, ``fig_id`` are plain
    text and escaped here)."""
    uri = png_data_uri(fig)
    id_attr = f' id="{html.escape(fig_id)}"' if fig_id else ""
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure{id_attr}><img src="{uri}" alt="{html.escape(alt)}">{cap}</figure>'


def page(title: str, body: list[str]) -> str:
    """A whole HTML document: ``title`` (plain text, escaped here) as title and first heading, then
    the ``body`` parts (HTML, already escaped), with the inline style sheet."""
    name = html.escape(title)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{name}</title>",
            f"<style>{CSS}</style></head><body>",
            f"<h1>{name}</h1>",
            *body,
            "</body></html>",
            "",
        ]
    )
