"""The "Replay against what was measured" section of a run report, for the results of
``feedertwin replay`` (``sim.cli.replay``), which hold ``summary["replay"]``:
``{"strategy": name, "measured": {kpi: value}, "simulated": {kpi: value}, ...}``.

The section has a table, one row per quantity replay compared (energy delivered, peak charging
power, minutes a site limit was broken, sessions: whatever ``measured`` holds), with the measured
value, the simulated one, and their difference (simulated minus measured) absolute and in % of the
measured value; and a figure of the total charging power over time, measured (the timeseries column
``MEASURED_POWER_COLUMN`` that replay writes) against simulated. Results without
``summary["replay"]`` get no section, so a ``feedertwin run`` report is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sim.report.html_parts import KPI_LABELS, format_value, unit_of
from sim.report.plots import measured_power_figure
from sim.report.sections import Section
from sim.results import KPI_KEYS, Results

MEASURED_POWER_COLUMN = "measured_charging_p_kw"
"""The timeseries column with the measured total charging power (kW, grid side, tick mean)."""

TITLE = "Replay against what was measured"
ANCHOR = "replay"
"""The section's HTML id (``report.html#replay``)."""


def replay_section(results: Results) -> Section | None:
    """The section for replayed ``results``; ``None`` when they hold no ``summary["replay"]``."""
    replay = results.summary.get("replay")
    if not isinstance(replay, Mapping):
        return None
    strategy = str(replay.get("strategy", "the replayed strategy"))
    table = comparison_table(replay)
    measured_kw = (results.timeseries[MEASURED_POWER_COLUMN].to_numpy(dtype=float)
                   if MEASURED_POWER_COLUMN in results.timeseries.columns else None)
    paragraphs = [
        f"The sessions the live store recorded (arrival, departure, metered energy as the demand) run "
        f"through the simulator with {strategy}, against what the chargers measured. Difference: simulated "
        f"minus measured, and that in % of the measured value (n/a where the measured value is 0).",
        "Energy delivered is vehicle side (metered energy times the charger efficiency); power and limit "
        "minutes are grid side, from tick means over the control period for both.",
    ]
    n_open = replay.get("sessions_open_at_store_end")
    if isinstance(n_open, int) and n_open > 0:
        paragraphs.append(f"{n_open} of the sessions were still open when the store ended; they depart at the "
                          "store's last recorded event.")
    return Section(TITLE, paragraphs=tuple(paragraphs),
                   figures=(measured_power_figure(results, measured_kw, strategy),),
                   tables=((f"Measured and simulated with {strategy}", table),))


def comparison_table(replay: Mapping[str, Any]) -> pd.DataFrame:
    """One row per quantity in ``replay["measured"]`` (KPI order, then the others), indexed by its
    label: unit, measured, simulated, difference, difference in %; cells are formatted text."""
    measured: Mapping[str, Any] = replay.get("measured") or {}
    simulated: Mapping[str, Any] = replay.get("simulated") or {}
    strategy = str(replay.get("strategy", "the replayed strategy"))
    keys = [k for k in KPI_KEYS if k in measured] + sorted(k for k in measured if k not in KPI_KEYS)
    rows = []
    for key in keys:
        label, unit = KPI_LABELS.get(key, (key, unit_of(key)))
        was, would = measured[key], simulated.get(key)
        difference = would - was if _is_number(was) and _is_number(would) else None
        percent = difference / was * 100.0 if difference is not None and was != 0 else None
        rows.append({"quantity": label, "unit": unit, "measured": format_value(was, unit),
                     f"simulated with {strategy}": format_value(would, unit),
                     "difference": _signed(difference, unit),
                     "difference (%)": "n/a" if percent is None else f"{_signed(percent, '%')} %"})
    columns = ["quantity", "unit", "measured", f"simulated with {strategy}", "difference", "difference (%)"]
    return pd.DataFrame(rows, columns=columns).set_index("quantity")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and bool(np.isfinite(value))


def _signed(value: Any, unit: str) -> str:
    """``format_value`` of a difference with its sign: ``+1.20``, ``-0.50``, and ``0.00`` (no sign)
    for one that rounds to zero at the unit's precision."""
    if not _is_number(value):
        return format_value(value, unit)
    text = format_value(abs(value), unit)
    shows_zero = float(text.replace(",", "")) == 0.0
    return text if shows_zero else ("+" if value > 0 else "-") + text
