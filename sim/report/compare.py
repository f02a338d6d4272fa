"""The strategy-comparison figure: one bar chart per headline metric, one bar per strategy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

# (column, title, unit)
PANELS = (
    ("energy_delivered_kwh", "Energy delivered", "kWh"),
    ("peak_import_kw", "Peak feeder import", "kW"),
    ("charging_cost", "Charging cost", "currency"),
    ("minutes_voltage_violation", "Voltage outside band", "min"),
    ("minutes_site_limit_violation", "Site limit exceeded", "min"),
    ("runtime_s", "Runtime", "s"),
)


def comparison_figure(table: pd.DataFrame) -> Figure:
    """Bars per strategy for each headline column of a ``sim.compare`` table (missing ones skipped)."""
    panels = [p for p in PANELS if p[0] in table.columns]
    cols = 3
    rows = max(1, int(np.ceil(len(panels) / cols)))
    fig = Figure(figsize=(11.0, 3.2 * rows), layout="constrained")
    names = [str(n) for n in table.index]
    for i, (column, title, unit) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        values = table[column].to_numpy(dtype=float)
        ax.bar(names, np.nan_to_num(values), color="tab:blue")
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.set_ylim(bottom=0.0, top=None if np.nanmax(values, initial=0.0) > 0 else 1.0)
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right", rotation_mode="anchor")
    return fig


def save_comparison_figure(table: pd.DataFrame, path: str | Path) -> Path:
    out = Path(path)
    fig = comparison_figure(table)
    fig.savefig(out, dpi=100, metadata={"Software": None})
    fig.clear()
    return out
