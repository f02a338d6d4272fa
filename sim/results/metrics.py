"""Key performance indicators: pure functions over the results frames.

Every function reads only the ``timeseries`` frame (one row per recorded tick) or the
``sessions`` frame (one row per session) and, where time is integrated, the recording period
``period_s``. Each row of ``timeseries`` stands for one period: its powers are the mean over the
period, so energy is ``sum(p_kw) * period_s / 3600`` and "minutes in state X" is
``count(rows in X) * period_s / 60``.

Conventions for degenerate inputs (documented because a sweep will hit them):

- an empty ``timeseries`` gives ``nan`` for peaks, extremes and voltages, ``0.0`` for
  energies and minutes;
- ``vm_min_pu`` / ``vm_max_pu`` are ``nan`` when the feeder has no buses recorded;
- zero sessions give ``0.0`` energies and ``share_sessions_fully_served == 1.0`` (no session
  was left short: the claim "every session was fully served" is vacuously true);
- a tick whose voltage is ``nan`` (no buses) is never a violation;
- energies are plain sums: a ``nan`` in the data shows up as a ``nan`` KPI rather than being
  skipped silently.

An unbalanced run adds the KPIs of ``compute_unbalance_kpis`` (``UNBALANCE_KPI_KEYS``): they read the
per-phase timeseries columns (``sim.results.phases.PHASE_TIMESERIES_COLUMNS``) and the per-bus
unbalance table; a balanced run's summary has none of them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.results.phases import PHASE_TIMESERIES_COLUMNS, PHASES

VM_BAND_PU = (0.9, 1.1)
"""Default statutory voltage band (EN 50160: +-10 % of nominal)."""

VUF_LIMIT_PERCENT = 2.0
"""Default voltage unbalance limit, |V2| / |V1| in % (EN 50160: 2 % in low-voltage networks)."""

OVERLOAD_LIMIT_PERCENT = 100.0
FULLY_SERVED_TOL_KWH = 1e-6

TIMESERIES_KPI_COLUMNS = (
    "charging_p_kw",
    "p_import_kw",
    "losses_kw",
    "vm_min_pu",
    "vm_max_pu",
    "max_line_loading_percent",
    "max_trafo_loading_percent",
    "site_base_load_kw",
    "price_per_kwh",
    "site_limit_violation",
)
SESSION_KPI_COLUMNS = ("energy_requested_kwh", "energy_delivered_kwh")

KPI_KEYS = (
    "n_sessions",
    "energy_requested_kwh",
    "energy_delivered_kwh",
    "energy_unmet_kwh",
    "share_sessions_fully_served",
    "charging_energy_kwh",
    "peak_charging_kw",
    "peak_import_kw",
    "losses_kwh",
    "max_trafo_loading_percent",
    "max_line_loading_percent",
    "vm_min_pu",
    "vm_max_pu",
    "minutes_voltage_violation",
    "minutes_overload",
    "charging_cost",
    "minutes_site_limit_violation",
    "peak_site_import_kw",
)
"""The keys of ``compute_kpis`` in a stable, readable order (the report's table order)."""

UNBALANCE_KPI_KEYS = (
    "minutes_phase_voltage_violation",
    *(f"minutes_voltage_violation_{ph}" for ph in PHASES),
    *(f"vm_min_{ph}_pu" for ph in PHASES),
    "vuf_max_percent",
    "vuf_max_bus",
    "vuf_max_time",
    "minutes_vuf_violation",
    *(f"peak_import_{ph}_kw" for ph in PHASES),
)
"""The keys of ``compute_unbalance_kpis`` (unbalanced runs only), in the report's table order."""


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=float)


def _max(values: np.ndarray) -> float:
    """Largest finite-or-inf value ignoring ``nan``; ``nan`` when there is none."""
    values = values[~np.isnan(values)]
    return float(values.max()) if values.size else math.nan


def _min(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.min()) if values.size else math.nan


# --- sessions -------------------------------------------------------------------------------


def n_sessions(sessions: pd.DataFrame) -> int:
    """Number of sessions simulated (rows of the sessions frame)."""
    return len(sessions)


def energy_requested_kwh(sessions: pd.DataFrame) -> float:
    """Total energy the vehicles asked for, kWh (into the vehicle)."""
    return float(np.sum(_values(sessions, "energy_requested_kwh")))


def energy_delivered_kwh(sessions: pd.DataFrame) -> float:
    """Total energy delivered into the vehicles, kWh."""
    return float(np.sum(_values(sessions, "energy_delivered_kwh")))


def energy_unmet_kwh(sessions: pd.DataFrame) -> float:
    """Sum over sessions of what was asked for but not delivered, kWh (never negative per session)."""
    short = _values(sessions, "energy_requested_kwh") - _values(sessions, "energy_delivered_kwh")
    return float(np.sum(np.maximum(short, 0.0)))


def share_sessions_fully_served(sessions: pd.DataFrame, tol_kwh: float = FULLY_SERVED_TOL_KWH) -> float:
    """Share (0..1) of sessions with delivered >= requested - ``tol_kwh``; 1.0 without sessions."""
    if len(sessions) == 0:
        return 1.0
    served = _values(sessions, "energy_delivered_kwh") >= _values(sessions, "energy_requested_kwh") - tol_kwh
    return float(served.mean())


# --- time series: peaks and extremes ---------------------------------------------------------


def peak_charging_kw(timeseries: pd.DataFrame) -> float:
    """Highest total charging power (grid side, mean over a tick), kW."""
    return _max(_values(timeseries, "charging_p_kw"))


def peak_import_kw(timeseries: pd.DataFrame) -> float:
    """Highest active power drawn from the upstream grid (mean over a tick), kW."""
    return _max(_values(timeseries, "p_import_kw"))


def max_trafo_loading_percent(timeseries: pd.DataFrame) -> float:
    """Highest loading of any transformer over the run, % of rating."""
    return _max(_values(timeseries, "max_trafo_loading_percent"))


def max_line_loading_percent(timeseries: pd.DataFrame) -> float:
    """Highest loading of any line over the run, % of its thermal limit."""
    return _max(_values(timeseries, "max_line_loading_percent"))


def vm_min_pu(timeseries: pd.DataFrame) -> float:
    """Lowest bus voltage over the run, p.u.; ``nan`` without buses."""
    return _min(_values(timeseries, "vm_min_pu"))


def vm_max_pu(timeseries: pd.DataFrame) -> float:
    """Highest bus voltage over the run, p.u.; ``nan`` without buses."""
    return _max(_values(timeseries, "vm_max_pu"))


# --- time series: durations and energies -----------------------------------------------------


def minutes_voltage_violation(
    timeseries: pd.DataFrame, period_s: float, vm_band: tuple[float, float] = VM_BAND_PU
) -> float:
    """Minutes with any bus voltage outside ``vm_band`` (inclusive band), ticks x period / 60."""
    lo, hi = vm_band
    with np.errstate(invalid="ignore"):
        bad = (_values(timeseries, "vm_min_pu") < lo) | (_values(timeseries, "vm_max_pu") > hi)
    return float(np.count_nonzero(bad)) * period_s / 60.0


def minutes_overload(
    timeseries: pd.DataFrame, period_s: float, limit_percent: float = OVERLOAD_LIMIT_PERCENT
) -> float:
    """Minutes with any line or transformer loaded above ``limit_percent``, ticks x period / 60."""
    with np.errstate(invalid="ignore"):
        bad = (_values(timeseries, "max_line_loading_percent") > limit_percent) | (
            _values(timeseries, "max_trafo_loading_percent") > limit_percent
        )
    return float(np.count_nonzero(bad)) * period_s / 60.0


def losses_kwh(timeseries: pd.DataFrame, period_s: float) -> float:
    """Feeder losses (lines and transformers) integrated over the run, kWh."""
    return float(np.sum(_values(timeseries, "losses_kw"))) * period_s / 3600.0


def charging_energy_kwh(timeseries: pd.DataFrame, period_s: float) -> float:
    """Charging energy drawn at the chargers (grid side, before charger losses), kWh."""
    return float(np.sum(_values(timeseries, "charging_p_kw"))) * period_s / 3600.0


# --- the site: tariff and limits -------------------------------------------------------------


def charging_cost(timeseries: pd.DataFrame, period_s: float) -> float:
    """Cost of the charging energy (currency): sum over ticks of charging kWh x the tick's price."""
    energy_kwh = _values(timeseries, "charging_p_kw") * period_s / 3600.0
    return float(np.sum(energy_kwh * _values(timeseries, "price_per_kwh")))


def minutes_site_limit_violation(timeseries: pd.DataFrame, period_s: float) -> float:
    """Minutes in which the chargers' mean currents broke a site limit, ticks x period / 60."""
    return float(np.count_nonzero(timeseries["site_limit_violation"].to_numpy(dtype=bool))) * period_s / 60.0


def peak_site_import_kw(timeseries: pd.DataFrame) -> float:
    """Highest site import (site base load + charging, mean over a tick), kW."""
    return _max(_values(timeseries, "site_base_load_kw") + _values(timeseries, "charging_p_kw"))


# --- all together ----------------------------------------------------------------------------


def _check_columns(frame: pd.DataFrame, needed: tuple[str, ...], name: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {missing}; has {list(frame.columns)}")


def compute_kpis(
    timeseries: pd.DataFrame,
    sessions: pd.DataFrame,
    period_s: float,
    vm_band: tuple[float, float] = VM_BAND_PU,
) -> dict[str, float]:
    """All KPIs of one run, keyed as in ``KPI_KEYS`` (units in the names).

    ``period_s`` is the recording period (seconds per timeseries row); ``vm_band`` the voltage
    band (p.u.) whose violation is counted in ``minutes_voltage_violation``.
    """
    if not (period_s > 0 and math.isfinite(period_s)):
        raise ValueError(f"period_s must be a positive finite number of seconds; got {period_s!r}")
    if not vm_band[0] < vm_band[1]:
        raise ValueError(f"vm_band must be (low, high) with low < high; got {vm_band!r}")
    _check_columns(timeseries, TIMESERIES_KPI_COLUMNS, "timeseries")
    _check_columns(sessions, SESSION_KPI_COLUMNS, "sessions")
    kpis: dict[str, float] = {
        "n_sessions": n_sessions(sessions),
        "energy_requested_kwh": energy_requested_kwh(sessions),
        "energy_delivered_kwh": energy_delivered_kwh(sessions),
        "energy_unmet_kwh": energy_unmet_kwh(sessions),
        "share_sessions_fully_served": share_sessions_fully_served(sessions),
        "charging_energy_kwh": charging_energy_kwh(timeseries, period_s),
        "peak_charging_kw": peak_charging_kw(timeseries),
        "peak_import_kw": peak_import_kw(timeseries),
        "losses_kwh": losses_kwh(timeseries, period_s),
        "max_trafo_loading_percent": max_trafo_loading_percent(timeseries),
        "max_line_loading_percent": max_line_loading_percent(timeseries),
        "vm_min_pu": vm_min_pu(timeseries),
        "vm_max_pu": vm_max_pu(timeseries),
        "minutes_voltage_violation": minutes_voltage_violation(timeseries, period_s, vm_band),
        "minutes_overload": minutes_overload(timeseries, period_s),
        "charging_cost": charging_cost(timeseries, period_s),
        "minutes_site_limit_violation": minutes_site_limit_violation(timeseries, period_s),
        "peak_site_import_kw": peak_site_import_kw(timeseries),
    }
    return kpis


# --- unbalanced runs: per phase and the unbalance factor ---------------------------------------


def _phase_outside(timeseries: pd.DataFrame, phase: str, vm_band: tuple[float, float]) -> np.ndarray:
    """Per tick: whether some bus's ``phase`` voltage is outside ``vm_band`` (``nan`` never counts)."""
    lo, hi = vm_band
    with np.errstate(invalid="ignore"):
        return (_values(timeseries, f"vm_min_{phase}_pu") < lo) | (_values(timeseries, f"vm_max_{phase}_pu") > hi)


def minutes_phase_voltage_violation(
    timeseries: pd.DataFrame, period_s: float, vm_band: tuple[float, float] = VM_BAND_PU, phase: str | None = None
) -> float:
    """Minutes with any phase voltage of any bus outside ``vm_band`` (or only phase ``phase``)."""
    phases = PHASES if phase is None else (phase,)
    bad = np.zeros(len(timeseries), dtype=bool)
    for ph in phases:
        bad |= _phase_outside(timeseries, ph, vm_band)
    return float(np.count_nonzero(bad)) * period_s / 60.0


def minutes_vuf_violation(timeseries: pd.DataFrame, period_s: float, limit_percent: float = VUF_LIMIT_PERCENT) -> float:
    """Minutes with some bus's voltage unbalance factor above ``limit_percent``, ticks x period / 60."""
    with np.errstate(invalid="ignore"):
        bad = _values(timeseries, "vuf_max_percent") > limit_percent
    return float(np.count_nonzero(bad)) * period_s / 60.0


def worst_unbalance(timeseries: pd.DataFrame, vuf_percent: pd.DataFrame) -> tuple[float, str, str]:
    """The largest voltage unbalance factor of the run (%), the bus (column id) and the tick (ISO time,
    UTC) where it happened; ``(nan, "", "")`` without values. The first tick and bus win a tie."""
    per_tick = _values(timeseries, "vuf_max_percent")
    if per_tick.size == 0 or np.all(np.isnan(per_tick)) or vuf_percent.shape[1] == 0:
        return math.nan, "", ""
    k = int(np.nanargmax(per_tick))
    row = vuf_percent.iloc[k].to_numpy(dtype=float)
    bus = str(vuf_percent.columns[int(np.nanargmax(row))])
    when = pd.Timestamp(timeseries["time"].iloc[k]).isoformat()
    return float(per_tick[k]), bus, when


def compute_unbalance_kpis(
    timeseries: pd.DataFrame,
    vuf_percent: pd.DataFrame,
    period_s: float,
    vm_band: tuple[float, float] = VM_BAND_PU,
    vuf_limit_percent: float = VUF_LIMIT_PERCENT,
) -> dict[str, float | str]:
    """The KPIs of an unbalanced run, keyed as in ``UNBALANCE_KPI_KEYS``.

    ``timeseries`` has the per-phase columns; ``vuf_percent`` is the ticks x buses unbalance table
    (``PhaseTables.vuf_percent``, rows aligned with ``timeseries``) that says where the worst one was.
    """
    if not (period_s > 0 and math.isfinite(period_s)):
        raise ValueError(f"period_s must be a positive finite number of seconds; got {period_s!r}")
    if not (vuf_limit_percent > 0 and math.isfinite(vuf_limit_percent)):
        raise ValueError(f"vuf_limit_percent must be a positive number of percent; got {vuf_limit_percent!r}")
    _check_columns(timeseries, ("time", *PHASE_TIMESERIES_COLUMNS), "timeseries")
    if len(vuf_percent) != len(timeseries):
        raise ValueError(f"vuf_percent has {len(vuf_percent)} rows for {len(timeseries)} timeseries rows")
    vuf_max, bus, when = worst_unbalance(timeseries, vuf_percent)
    kpis: dict[str, float | str] = {
        "minutes_phase_voltage_violation": minutes_phase_voltage_violation(timeseries, period_s, vm_band)}
    for ph in PHASES:
        kpis[f"minutes_voltage_violation_{ph}"] = minutes_phase_voltage_violation(timeseries, period_s, vm_band, ph)
    for ph in PHASES:
        kpis[f"vm_min_{ph}_pu"] = _min(_values(timeseries, f"vm_min_{ph}_pu"))
    kpis.update(vuf_max_percent=vuf_max, vuf_max_bus=bus, vuf_max_time=when,
                minutes_vuf_violation=minutes_vuf_violation(timeseries, period_s, vuf_limit_percent))
    for ph in PHASES:
        kpis[f"peak_import_{ph}_kw"] = _max(_values(timeseries, f"p_import_{ph}_kw"))
    return kpis
