"""Which planning limit a run breaks, for how long and where: pure functions over a run's frames.

A hosting-capacity study asks of every run "is the feeder within its limits?" and, when it is not,
"which limit, at which element?". The limits (``Criteria``, defaults after common planning practice):

- **voltage**, rule ``"band"`` (default): every bus in every tick within [``vm_min_pu``,
  ``vm_max_pu``] = [0.90, 1.10] p.u.; rule ``"en50160"``: on the 10-minute means of each bus, per
  week of the run (a last, shorter week counts as one), at least ``en50160_share`` (95 %) within
  [``vm_min_pu``, ``vm_max_pu``] and all within [``en50160_vm_min_pu``, ``en50160_vm_max_pu``]
  (0.85-1.10 p.u.);
- **line** loading at most ``line_max_percent`` (100 %) in every tick, **transformer** loading at most
  ``trafo_max_percent`` (100 %);
- ``max_violation_minutes_per_year`` (default 0): the per-tick limits (band voltage, line,
  transformer) may be broken for this many minutes per year in all (scaled to the run's length)
  before the run fails;
- **unbalance** (only when ``vuf_max_percent`` is set, e.g. 2.0 as in EN 50160; needs the per-phase
  results of an unbalanced run): the voltage unbalance factor of every bus at most
  ``vuf_max_percent`` in every tick, except for ``vuf_max_minutes_per_year`` (default 0) minutes per
  year, its own allowance (pro rata; not part of the allowance above).

With per-phase results (``Results.phases``) a voltage limit sees every phase: undervoltage the lowest
phase of each bus (``bus_vm_pu``), overvoltage the highest; the EN 50160 rule takes the 10-minute means
of each phase of each bus, as the standard does. Elements are still named by bus id.

``check_run`` returns a ``RunCheck``: per limit (``undervoltage``, ``overvoltage``, ``line``,
``transformer``) the minutes broken (for the EN 50160 rule: 10 minutes per 10-minute mean outside the
band, at the worst bus), the worst element and its worst value, whether the limit fails; then
whether the run passes and its *binding* limit: of the failing limits, the one broken longest (ties:
in the order above) with its element. Buses and lines are named by their column ids in the results;
the transformer by the id the caller passes (the results keep only the most loaded transformer per
tick, which on a feeder with one transformer is that transformer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim.results.phases import PHASES, PhaseTables
from sim.results.results import Results

LIMITS = ("undervoltage", "overvoltage", "line", "transformer")
UNBALANCE = "unbalance"
ALL_LIMITS = (*LIMITS, UNBALANCE)
"""Every limit in tie-break order; ``unbalance`` is checked (and in ``RunCheck.limits``) only when set."""
UNBALANCE_KEY = "unbalance.vuf_max_percent"
"""The criteria file's key of the unbalance limit (named in the error of a balanced run)."""
VOLTAGE_RULES = ("band", "en50160")
MINUTES_PER_YEAR = 365.0 * 24.0 * 60.0
EN50160_WINDOW_S = 600.0
EN50160_WEEK_S = 7 * 24 * 3600.0
DURATION_CURVE_POINTS = 101


@dataclass(frozen=True)
class Criteria:
    """The limits a run must keep (see the module docstring); the defaults are planning practice."""

    vm_min_pu: float = 0.90
    vm_max_pu: float = 1.10
    voltage_rule: str = "band"
    en50160_share: float = 0.95
    en50160_vm_min_pu: float = 0.85
    en50160_vm_max_pu: float = 1.10
    line_max_percent: float = 100.0
    trafo_max_percent: float = 100.0
    max_violation_minutes_per_year: float = 0.0
    vuf_max_percent: float | None = None
    vuf_max_minutes_per_year: float = 0.0

    @property
    def needs_phases(self) -> bool:
        """Whether a run must have per-phase results (an unbalanced load flow) to be checked."""
        return self.vuf_max_percent is not None

    def __post_init__(self) -> None:
        if self.vuf_max_percent is not None and not (0.0 < self.vuf_max_percent < 100.0):
            raise ValueError(f"vuf_max_percent must be in (0, 100) %; got {self.vuf_max_percent}")
        if not self.vuf_max_minutes_per_year >= 0.0:
            raise ValueError(f"vuf_max_minutes_per_year must be >= 0; got {self.vuf_max_minutes_per_year}")
        if self.voltage_rule not in VOLTAGE_RULES:
            raise ValueError(f"voltage_rule must be one of {VOLTAGE_RULES}; got {self.voltage_rule!r}")
        if not 0.0 < self.vm_min_pu < self.vm_max_pu:
            raise ValueError(f"need 0 < vm_min_pu < vm_max_pu; got {self.vm_min_pu}, {self.vm_max_pu}")
        if not (self.en50160_vm_min_pu <= self.vm_min_pu and self.en50160_vm_max_pu >= self.vm_max_pu):
            raise ValueError("the EN 50160 bounds for all 10-minute means must enclose [vm_min_pu, vm_max_pu]")

    def allowed_minutes(self, duration_s: float) -> float:
        """Minutes of per-tick violations a run of ``duration_s`` may have (the yearly allowance, pro rata)."""
        return self.max_violation_minutes_per_year * duration_s / (MINUTES_PER_YEAR * 60.0)

    def allowed_unbalance_minutes(self, duration_s: float) -> float:
        """Minutes above ``vuf_max_percent`` a run of ``duration_s`` may have (pro rata)."""
        return self.vuf_max_minutes_per_year * duration_s / (MINUTES_PER_YEAR * 60.0)


@dataclass(frozen=True)
class LimitCheck:
    """One limit in one run: minutes broken, the worst element (id) and value, and whether it fails."""

    minutes: float
    element: str
    worst: float
    fails: bool


@dataclass(frozen=True)
class RunCheck:
    """Every limit of one run, whether the run passes, and its binding limit ("" when it passes)."""

    limits: dict[str, LimitCheck] = field(default_factory=dict)
    violation_minutes: float = 0.0  # minutes with any per-tick limit broken (band voltage, line, transformer)

    @property
    def passes(self) -> bool:
        return not any(check.fails for check in self.limits.values())

    @property
    def binding_limit(self) -> str:
        failing = [(-check.minutes, ALL_LIMITS.index(name), name) for name, check in self.limits.items() if check.fails]
        return min(failing)[2] if failing else ""

    @property
    def binding_element(self) -> str:
        name = self.binding_limit
        return self.limits[name].element if name else ""

    def row(self) -> dict[str, object]:
        """Flat columns for a table: ``passes``, ``binding_limit``, ``binding_element``,
        ``violation_minutes`` and per limit ``<limit>_minutes``, ``<limit>_element``, ``<limit>_worst``
        (``unbalance_*`` only when the criteria check it)."""
        out: dict[str, object] = {"passes": self.passes, "binding_limit": self.binding_limit,
                                  "binding_element": self.binding_element,
                                  "violation_minutes": self.violation_minutes}
        for name in (n for n in ALL_LIMITS if n in self.limits):
            check = self.limits[name]
            out.update({f"{name}_minutes": check.minutes, f"{name}_element": check.element,
                        f"{name}_worst": check.worst})
        return out


def _extreme(values: NDArray[np.float64], ids: list[str], highest: bool) -> tuple[str, float]:
    """The id and value of the highest (or lowest) finite entry of a ticks x elements array."""
    if values.size == 0 or np.all(np.isnan(values)):
        return "", math.nan
    per_element = np.nanmax(values, axis=0) if highest else np.nanmin(values, axis=0)
    filled = np.where(np.isnan(per_element), -np.inf if highest else np.inf, per_element)
    j = int(np.argmax(filled) if highest else np.argmin(filled))
    return ids[j], float(per_element[j])


def _ticks_broken(values: NDArray[np.float64], limit: float, above: bool) -> NDArray[np.bool_]:
    """Per tick: whether any element is above (or below) ``limit`` (``nan`` never counts)."""
    if values.shape[1] == 0:
        return np.zeros(values.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        broken = values > limit if above else values < limit
    return np.asarray(broken.any(axis=1), dtype=np.bool_)


def ten_minute_means(values: NDArray[np.float64], period_s: float) -> NDArray[np.float64]:
    """Exact 10-minute means (windows x columns) of per-tick values held constant over each tick of
    ``period_s`` seconds, for any period (a 15-minute tick spans parts of two windows). Only whole
    windows are returned."""
    n_ticks = values.shape[0]
    n_windows = int(n_ticks * period_s // EN50160_WINDOW_S)
    edges_s = np.arange(n_ticks + 1) * period_s
    bounds_s = np.arange(n_windows + 1) * EN50160_WINDOW_S
    out = np.empty((n_windows, values.shape[1]))
    for j in range(values.shape[1]):
        integral = np.concatenate(([0.0], np.cumsum(values[:, j] * period_s)))
        out[:, j] = np.diff(np.interp(bounds_s, edges_s, integral)) / EN50160_WINDOW_S
    return out


def _en50160(vm_pu: NDArray[np.float64], ids: list[str], period_s: float,
             criteria: Criteria) -> tuple[LimitCheck, LimitCheck]:
    """Under- and overvoltage by the EN 50160 rule on 10-minute means, week by week (see the module)."""
    with np.errstate(invalid="ignore"):
        outside = (np.nanmin(vm_pu, axis=0) < criteria.vm_min_pu) | (np.nanmax(vm_pu, axis=0) > criteria.vm_max_pu)
    columns = np.flatnonzero(outside) if vm_pu.size else np.zeros(0, dtype=np.int64)
    # A bus whose every tick lies in the band has every 10-minute mean in it: only the others are averaged.
    means = ten_minute_means(vm_pu[:, columns], period_s)
    with np.errstate(invalid="ignore"):
        low, high = means < criteria.vm_min_pu, means > criteria.vm_max_pu
        below_all, above_all = means < criteria.en50160_vm_min_pu, means > criteria.en50160_vm_max_pu
    week = np.arange(means.shape[0]) // int(EN50160_WEEK_S // EN50160_WINDOW_S)
    fails_low = np.zeros(columns.size, dtype=bool)
    fails_high = np.zeros(columns.size, dtype=bool)
    for w in np.unique(week):
        rows = week == w
        n_low, n_high = low[rows].sum(axis=0), high[rows].sum(axis=0)
        too_many = (n_low + n_high) > (1.0 - criteria.en50160_share) * rows.sum()
        fails_low |= (too_many & (n_low >= n_high)) | below_all[rows].any(axis=0)
        fails_high |= (too_many & (n_high > n_low)) | above_all[rows].any(axis=0)
    checks = []
    for broken, fails, highest in ((low, fails_low, False), (high, fails_high, True)):
        counts = broken.sum(axis=0)
        if columns.size and counts.max() > 0:
            j = int(np.argmax(counts))
            element, worst = ids[int(columns[j])], float(np.nanmax(means[:, j]) if highest else np.nanmin(means[:, j]))
        else:
            element, worst = _extreme(vm_pu, ids, highest)
        minutes = float(counts.max()) * EN50160_WINDOW_S / 60.0 if columns.size else 0.0
        checks.append(LimitCheck(minutes, element, worst, bool(fails.any())))
    return checks[0], checks[1]


def check_run(bus_vm_pu: pd.DataFrame, line_loading_percent: pd.DataFrame, trafo_loading_percent: NDArray[np.float64],
              period_s: float, criteria: Criteria, trafo_id: str = "", *,
              phases: PhaseTables | None = None) -> RunCheck:
    """Check one run's per-tick frames against ``criteria`` (see the module docstring).

    ``bus_vm_pu`` and ``line_loading_percent`` are ticks x elements (columns named by element id);
    ``trafo_loading_percent`` is the most loaded transformer's loading per tick, named ``trafo_id``;
    ``phases``: the per-phase tables of an unbalanced run (then ``bus_vm_pu`` is each bus's lowest
    phase). Criteria with an unbalance limit and no ``phases`` are a ``ValueError`` naming the key.
    """
    if criteria.needs_phases and phases is None:
        raise ValueError(f"criteria key {UNBALANCE_KEY} = {criteria.vuf_max_percent} needs per-phase results; "
                         "this run has none: run the scenario with [grid] loadflow = \"unbalanced\" "
                         "(or remove the key)")
    minute_per_tick = period_s / 60.0
    vm = bus_vm_pu.to_numpy(dtype=float)
    vm_high = vm if phases is None else phases.vm_high_pu().to_numpy(dtype=float)
    lines = line_loading_percent.to_numpy(dtype=float)
    trafo = np.asarray(trafo_loading_percent, dtype=float).reshape(-1, 1)
    bus_ids = [str(c) for c in bus_vm_pu.columns]
    line_ids = [str(c) for c in line_loading_percent.columns]
    ticks = {
        "undervoltage": _ticks_broken(vm, criteria.vm_min_pu, above=False),
        "overvoltage": _ticks_broken(vm_high, criteria.vm_max_pu, above=True),
        "line": _ticks_broken(lines, criteria.line_max_percent, above=True),
        "transformer": _ticks_broken(trafo, criteria.trafo_max_percent, above=True),
    }
    worst = {
        "undervoltage": _extreme(vm, bus_ids, highest=False),
        "overvoltage": _extreme(vm_high, bus_ids, highest=True),
        "line": _extreme(lines, line_ids, highest=True),
        "transformer": (trafo_id, float(np.nanmax(trafo)) if trafo.size and not np.all(np.isnan(trafo)) else math.nan),
    }
    per_tick = ("line", "transformer") if criteria.voltage_rule == "en50160" else LIMITS
    union = np.zeros(vm.shape[0], dtype=bool)
    for name in per_tick:
        union |= ticks[name]
    violation_minutes = float(np.count_nonzero(union)) * minute_per_tick
    over_allowance = violation_minutes > criteria.allowed_minutes(vm.shape[0] * period_s)
    limits = {name: LimitCheck(float(np.count_nonzero(ticks[name])) * minute_per_tick, worst[name][0], worst[name][1],
                               bool(over_allowance and ticks[name].any()))
              for name in per_tick}
    if criteria.voltage_rule == "en50160":
        if phases is None:
            limits["undervoltage"], limits["overvoltage"] = _en50160(vm, bus_ids, period_s, criteria)
        else:  # each phase of each bus is one column of 10-minute means, named by its bus
            every_phase = np.hstack([phases.vm_phase_pu(ph).to_numpy(dtype=float) for ph in PHASES])
            limits["undervoltage"], limits["overvoltage"] = _en50160(every_phase, bus_ids * len(PHASES), period_s,
                                                                     criteria)
    if phases is not None and criteria.vuf_max_percent is not None:
        limits[UNBALANCE] = _unbalance(phases.vuf_percent, period_s, criteria)
    return RunCheck({name: limits[name] for name in ALL_LIMITS if name in limits}, violation_minutes)


def _unbalance(vuf_percent: pd.DataFrame, period_s: float, criteria: Criteria) -> LimitCheck:
    """The unbalance limit: minutes with some bus above ``vuf_max_percent``, the worst bus and value;
    it fails when the minutes exceed its own allowance."""
    assert criteria.vuf_max_percent is not None
    vuf = vuf_percent.to_numpy(dtype=float)
    broken = _ticks_broken(vuf, criteria.vuf_max_percent, above=True)
    minutes = float(np.count_nonzero(broken)) * period_s / 60.0
    element, worst = _extreme(vuf, [str(c) for c in vuf_percent.columns], highest=True)
    allowed = criteria.allowed_unbalance_minutes(vuf.shape[0] * period_s)
    return LimitCheck(minutes, element, worst, bool(broken.any() and minutes > allowed))


def duration_curve(values: NDArray[np.float64], n_points: int = DURATION_CURVE_POINTS) -> list[float]:
    """A load duration curve in ``n_points`` values: the value exceeded during 0 %, 1 %, ... 100 % of
    the time (descending quantiles), so curves of runs of any length compare and store small."""
    finite = np.asarray(values, dtype=float)
    finite = finite[~np.isnan(finite)]
    if finite.size == 0:
        return [math.nan] * n_points
    return [float(v) for v in np.quantile(finite, np.linspace(1.0, 0.0, n_points))]


def check_results(results: Results, criteria: Criteria, trafo_id: str = "") -> RunCheck:
    """``check_run`` of a ``Results`` (its bus voltages, line loadings, most loaded transformer and,
    in an unbalanced run, its per-phase tables)."""
    trafo = results.timeseries["max_trafo_loading_percent"].to_numpy(dtype=float)
    return check_run(results.bus_vm_pu, results.line_loading_percent, trafo, results.period_s, criteria, trafo_id,
                     phases=results.phases)
