"""The report's figures, each a function ``(results) -> matplotlib.figure.Figure`` (the replay
comparison's ``measured_power_figure`` also takes the measured power and the strategy name).

Figures are built with ``matplotlib.figure.Figure`` directly: no pyplot, no global backend
selection, no figure registry (so nothing to leak and nothing changed for a caller who uses
pyplot). Every function copes with an empty run (no ticks, no buses, no sessions) by drawing a
note instead of failing. Times are shown in the wall-clock time of the scenario start's offset.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timezone

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.results import Results

FIGSIZE_IN = (8.0, 3.6)
VM_BAND_PU = (0.9, 1.1)
OVERLOAD_PERCENT = 100.0


def _new_figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE_IN, layout="constrained")
    return fig, fig.add_subplot()


def _note(ax: Axes, text: str) -> None:
    """Write ``text`` in the middle of an empty plot (e.g. "no sessions")."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def _start_tz(results: Results) -> timezone:
    """The fixed UTC offset of the scenario start (UTC when the summary has none)."""
    try:
        start = datetime.fromisoformat(str(results.summary.get("start", "")))
    except ValueError:
        return UTC
    offset = start.utcoffset()
    return timezone(offset) if offset is not None else UTC


def _local_times(results: Results) -> tuple[np.ndarray, str]:
    """Timeseries times as naive datetime64 in the start's offset, and the axis label."""
    tz = _start_tz(results)
    times = pd.DatetimeIndex(results.timeseries["time"])
    if times.tz is None:
        times = times.tz_localize("UTC")
    label = "UTC" if tz.utcoffset(None).total_seconds() == 0 else tz.tzname(None)
    return times.tz_convert(tz).tz_localize(None).to_numpy(), f"time ({label})"


def _step_times(results: Results) -> tuple[np.ndarray, str]:
    """Tick start times plus the end of the last tick, for step plots that show every tick whole."""
    times, label = _local_times(results)
    end = times[-1:] + np.timedelta64(int(round(results.period_s * 1000)), "ms")
    return np.concatenate([times, end]), label


def _steps(values: pd.Series | np.ndarray) -> np.ndarray:
    """``values`` with the last one repeated, to pair with ``_step_times``."""
    v = np.asarray(values, dtype=float)
    return np.concatenate([v, v[-1:]])


def _time_axis(ax: Axes, label: str) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(label)


def _vm_band(results: Results) -> tuple[float, float]:
    band = results.summary.get("vm_band_pu") or VM_BAND_PU
    return float(band[0]), float(band[1])


def power_figure(results: Results) -> Figure:
    """Total charging power, feeder import, base load and PV over time (mean per tick, kW)."""
    fig, ax = _new_figure()
    ts = results.timeseries
    ax.set_title("Charging power and feeder import")
    ax.set_ylabel("power (kW)")
    if len(ts) == 0:
        _note(ax, "no time steps recorded")
        return fig
    times, label = _step_times(results)
    style = {"drawstyle": "steps-post", "linewidth": 1.2}
    ax.plot(times, _steps(ts["p_import_kw"]), label="feeder import", color="tab:blue", **style)
    ax.plot(times, _steps(ts["charging_p_kw"]), label="EV charging", color="tab:red", **style)
    ax.plot(times, _steps(ts["base_load_kw"]), label="base load", color="0.5", linestyle="--", **style)
    if np.nanmax(np.abs(ts["pv_kw"].to_numpy(dtype=float)), initial=0.0) > 0:
        ax.plot(times, _steps(ts["pv_kw"]), label="PV generation", color="tab:orange", linestyle=":", **style)
    ax.axhline(0.0, color="0.8", linewidth=0.8)
    _time_axis(ax, label)
    ax.legend(loc="upper left", fontsize="small", ncols=2)
    return fig


def measured_power_figure(results: Results, measured_kw: np.ndarray | None, strategy: str) -> Figure:
    """Total charging power over time as measured (``measured_kw``, one tick mean per timeseries
    row; ``None`` when the results do not hold it) against as simulated with ``strategy`` (kW)."""
    fig, ax = _new_figure()
    ts = results.timeseries
    ax.set_title("Total charging power: measured and simulated")
    ax.set_ylabel("power (kW)")
    if len(ts) == 0:
        _note(ax, "no time steps recorded")
        return fig
    times, label = _step_times(results)
    if measured_kw is not None:
        ax.plot(times, _steps(measured_kw), label="measured", color="0.2", drawstyle="steps-post", linewidth=1.2)
    else:
        _note(ax, "no measured power in these results")
    ax.plot(times, _steps(ts["charging_p_kw"]), label=f"simulated with {strategy}", color="tab:red",
            linestyle="--", drawstyle="steps-post", linewidth=1.2)
    ax.axhline(0.0, color="0.8", linewidth=0.8)
    _time_axis(ax, label)
    ax.legend(loc="upper right", fontsize="small")
    return fig


def voltage_band_figure(results: Results) -> Figure:
    """Lowest and highest bus voltage at each tick, shaded between, with the band limits."""
    fig, ax = _new_figure()
    ts = results.timeseries
    lo, hi = _vm_band(results)
    ax.set_title("Voltage band across all buses")
    ax.set_ylabel("voltage (p.u.)")
    vm_min = ts["vm_min_pu"].to_numpy(dtype=float)
    if len(ts) == 0 or np.all(np.isnan(vm_min)):
        _note(ax, "no bus voltages recorded")
        return fig
    times, label = _step_times(results)
    vm_min, vm_max = _steps(vm_min), _steps(ts["vm_max_pu"])
    ax.fill_between(
        times, vm_min, vm_max, step="post", color="tab:blue", alpha=0.25, label="min..max over buses"
    )
    ax.plot(times, vm_min, drawstyle="steps-post", color="tab:blue", linewidth=1.0)
    ax.plot(times, vm_max, drawstyle="steps-post", color="tab:blue", linewidth=1.0)
    for limit in (lo, hi):
        ax.axhline(limit, color="tab:red", linestyle="--", linewidth=1.0)
    ax.text(
        0.995,
        lo,
        f" {lo:g} p.u. limit",
        color="tab:red",
        va="bottom",
        ha="right",
        transform=ax.get_yaxis_transform(),
        fontsize="small",
    )
    ax.set_ylim(min(lo, np.nanmin(vm_min)) - 0.02, max(hi, np.nanmax(vm_max)) + 0.02)
    _time_axis(ax, label)
    ax.legend(loc="upper left", fontsize="small")
    return fig


def trafo_duration_figure(results: Results) -> Figure:
    """Transformer loading duration curve: loading sorted high to low against % of the run."""
    fig, ax = _new_figure()
    ax.set_title("Transformer loading duration curve")
    ax.set_xlabel("share of time (%)")
    ax.set_ylabel("loading (%)")
    loading = results.timeseries["max_trafo_loading_percent"].to_numpy(dtype=float)
    loading = loading[~np.isnan(loading)]
    if loading.size == 0 or results.summary.get("n_trafos") == 0:
        _note(ax, "no transformer loading recorded")
        return fig
    y = np.sort(loading)[::-1]
    x = np.arange(y.size + 1) / y.size * 100.0
    ax.stairs(y, x, color="tab:purple", linewidth=1.5, baseline=None)
    ax.axhline(OVERLOAD_PERCENT, color="tab:red", linestyle="--", linewidth=1.0, label="rating")
    ax.set_xlim(0.0, 100.0)
    ax.set_ylim(0.0, max(OVERLOAD_PERCENT, float(y[0])) * 1.08)
    ax.legend(loc="upper right", fontsize="small")
    return fig


def _bus_x(results: Results, bus_ids: list[str]) -> tuple[np.ndarray, str]:
    """Distance from the transformer per bus when every bus has one, else the bus order."""
    buses = results.buses.set_index(results.buses["bus_id"].astype(str))
    if len(bus_ids) and buses.index.is_unique and set(bus_ids) <= set(buses.index):
        distance = buses.loc[bus_ids, "distance_km"].to_numpy(dtype=float)
        if np.all(np.isfinite(distance)):
            return distance, "distance from the transformer (km)"
    return np.arange(len(bus_ids), dtype=float), "bus (in feeder order; distances unknown)"


def bus_min_voltage_figure(results: Results) -> Figure:
    """Each bus's lowest voltage over the run against its distance from the transformer."""
    fig, ax = _new_figure()
    lo, _ = _vm_band(results)
    ax.set_title("Lowest voltage per bus over the run")
    ax.set_ylabel("minimum voltage (p.u.)")
    vm = results.bus_vm_pu
    vm_min = vm.min(axis=0, skipna=True).to_numpy(dtype=float) if len(vm) else np.zeros(0)
    if vm_min.size == 0 or np.all(np.isnan(vm_min)):
        _note(ax, "no bus voltages recorded")
        return fig
    x, xlabel = _bus_x(results, [str(c) for c in vm.columns])
    below = vm_min < lo
    ax.scatter(x[~below], vm_min[~below], s=18, color="tab:blue", label="bus")
    if below.any():
        ax.scatter(x[below], vm_min[below], s=22, color="tab:red", label=f"below {lo:g} p.u.")
    ax.axhline(lo, color="tab:red", linestyle="--", linewidth=1.0)
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower left", fontsize="small")
    return fig


def session_energy_figure(results: Results) -> Figure:
    """Energy requested against delivered per session; points below the diagonal went short."""
    fig, ax = _new_figure()
    ax.set_title("Energy per session: requested vs delivered")
    ax.set_xlabel("requested (kWh)")
    ax.set_ylabel("delivered (kWh)")
    sessions = results.sessions
    if len(sessions) == 0:
        _note(ax, "no sessions")
        return fig
    requested = sessions["energy_requested_kwh"].to_numpy(dtype=float)
    delivered = sessions["energy_delivered_kwh"].to_numpy(dtype=float)
    short = delivered < requested - 1e-6
    ax.scatter(requested[~short], delivered[~short], s=14, color="tab:green", alpha=0.7, label="fully served")
    if short.any():
        ax.scatter(requested[short], delivered[short], s=14, color="tab:red", alpha=0.7, label="short")
    top = float(np.nanmax(np.r_[requested, delivered, 1.0]))
    ax.plot([0.0, top], [0.0, top], color="0.5", linestyle="--", linewidth=1.0)
    ax.set_xlim(0.0, top * 1.05)
    ax.set_ylim(0.0, top * 1.05)
    ax.legend(loc="upper left", fontsize="small")
    return fig


FigureFn = Callable[[Results], Figure]

FIGURES: tuple[tuple[str, str, FigureFn], ...] = (
    ("power", "Charging power and feeder import", power_figure),
    ("voltage_band", "Voltage band over time", voltage_band_figure),
    ("trafo_duration", "Transformer loading duration curve", trafo_duration_figure),
    ("bus_min_voltage", "Lowest voltage per bus against distance", bus_min_voltage_figure),
    ("session_energy", "Energy requested vs delivered per session", session_energy_figure),
)
"""(id, caption, function) of every figure, in report order."""
