"""The report's figures of an unbalanced run (``Results.phases`` set): the three phase voltages at
the worst bus and the voltage unbalance factor over time. ``html`` adds ``PHASE_FIGURES`` after the
common figures only for such a run, so a balanced run's report is unchanged.

Built like ``sim.report.plots`` (a ``Figure`` without pyplot, a note instead of a failure on an
empty run, times in the scenario start's offset).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.report.plots import FigureFn, _new_figure, _note, _step_times, _steps, _time_axis, _vm_band
from sim.results import Results
from sim.results.metrics import VUF_LIMIT_PERCENT
from sim.results.phases import PHASES

PHASE_COLOURS = {"a": "tab:brown", "b": "0.2", "c": "tab:gray"}  # L1 brown, L2 black, L3 grey (IEC 60446)
PHASE_STYLES = {"a": "-", "b": "--", "c": ":"}


def _worst_column(frame: pd.DataFrame, lowest: bool) -> str | None:
    """The column holding the lowest (or highest) value of the whole frame; ``None`` without values."""
    values = frame.to_numpy(dtype=float)
    if values.size == 0 or np.all(np.isnan(values)):
        return None
    per_column = np.nanmin(values, axis=0) if lowest else np.nanmax(values, axis=0)
    filled = np.where(np.isnan(per_column), np.inf if lowest else -np.inf, per_column)
    return str(frame.columns[int(np.argmin(filled) if lowest else np.argmax(filled))])


def phase_voltage_figure(results: Results) -> Figure:
    """Phase voltages a, b, c over time at the bus whose lowest phase drops lowest in the run."""
    fig, ax = _new_figure()
    ax.set_ylabel("voltage (p.u.)")
    phases = results.phases
    bus = _worst_column(results.bus_vm_pu, lowest=True) if phases is not None else None
    if phases is None or bus is None:
        ax.set_title("Phase voltages at the worst bus")
        _note(ax, "no phase voltages recorded")
        return fig
    ax.set_title(f"Phase voltages at bus {bus} (lowest voltage of the run)")
    times, label = _step_times(results)
    for ph in PHASES:
        ax.plot(times, _steps(phases.vm_phase_pu(ph)[bus]), drawstyle="steps-post", linewidth=1.2,
                color=PHASE_COLOURS[ph], linestyle=PHASE_STYLES[ph], label=f"phase {ph} (L{PHASES.index(ph) + 1})")
    lo, hi = _vm_band(results)
    for limit in (lo, hi):
        ax.axhline(limit, color="tab:red", linestyle="--", linewidth=1.0)
    _time_axis(ax, label)
    ax.legend(loc="lower left", fontsize="small", ncols=3)
    return fig


def vuf_figure(results: Results) -> Figure:
    """Voltage unbalance factor over time at the bus where it is worst, the largest over all buses
    per tick, and the limit."""
    fig, ax = _new_figure()
    ax.set_ylabel("unbalance |V2| / |V1| (%)")
    phases = results.phases
    bus = _worst_column(phases.vuf_percent, lowest=False) if phases is not None else None
    if phases is None or bus is None:
        ax.set_title("Voltage unbalance factor")
        _note(ax, "no unbalance factor recorded")
        return fig
    ax.set_title(f"Voltage unbalance factor at bus {bus} (worst of the run)")
    times, label = _step_times(results)
    ax.plot(times, _steps(results.timeseries["vuf_max_percent"]), drawstyle="steps-post", linewidth=1.0,
            color="tab:blue", alpha=0.4, label="largest over all buses")
    ax.plot(times, _steps(phases.vuf_percent[bus]), drawstyle="steps-post", linewidth=1.2, color="tab:blue",
            label=f"bus {bus}")
    limit = float(results.summary.get("vuf_limit_percent") or VUF_LIMIT_PERCENT)
    ax.axhline(limit, color="tab:red", linestyle="--", linewidth=1.0, label=f"limit {limit:g} %")
    ax.set_ylim(bottom=0.0)
    _time_axis(ax, label)
    ax.legend(loc="upper left", fontsize="small")
    return fig


PHASE_FIGURES: tuple[tuple[str, str, FigureFn], ...] = (
    ("phase_voltages", "Phase voltages over time at the worst bus", phase_voltage_figure),
    ("unbalance", "Voltage unbalance factor over time", vuf_figure),
)
"""(id, caption, function) of the figures an unbalanced run adds, in report order."""
