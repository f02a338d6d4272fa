"""The linear program behind ``mpc``: horizon, sparse matrices built vectorised, HiGHS via scipy.

Variables: ``i[k, p]`` (A per phase) for every plugged-in session ``k`` with energy left and every
period ``p`` it is plugged in for, then ``unmet[k]`` (kWh), then ``peak_kw``. Rows: every constraint
row of the view at every period, the peak rows ``net_p + charging_p - peak_kw <= 0``, and one energy
equality per session ``sum_p i[k, p] * kW/A * efficiency * dt_h[k, p] + unmet[k] = remaining[k]``.

Periods: the forecast's own step for the first ``fine_h`` hours, then periods of ``coarse_step_s``
(whole forecast steps) up to the horizon's end (move blocking: far periods only shape the plan, only
the first is applied). Within a period the current is constant, so the period's limits use the
*highest* net base load of its steps and its price the mean: the coarse plan is still feasible at
every forecast step. With ``fine_h >= horizon_h`` every period is one forecast step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from sim.domain import SiteView
from sim.domain.constraints import Constraints
from sim.errors import StrategyError

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

IMPORT_ROW = "import_kw"
# Objective weight (currency per kWh at the horizon's end, rising linearly from 0) that breaks ties
# towards earlier charging; far below any real price difference.
EARLY_PER_KWH = 1e-4
# Currents at or below this (A) count as zero.
ZERO_A = 1e-9


@dataclass(frozen=True)
class Horizon:
    """The periods of one solve: start (s, absolute), length (s), net base import (kW, the highest
    of the period's forecast steps) and mean price (currency per kWh)."""

    start_s: F64
    length_s: F64
    net_base_kw: F64
    price_per_kwh: F64

    @property
    def n_periods(self) -> int:
        return len(self.start_s)


@dataclass(frozen=True)
class Plan:
    """A solved plan: current per session (rows, in ``session_ids`` order) and period (columns), the
    energy each session would miss (kWh) and the highest planned site import (kW)."""

    start_s: F64
    end_s: float
    session_ids: tuple[str, ...]
    current_a: F64
    unmet_kwh: F64
    peak_kw: float

    @property
    def t0_s(self) -> float:
        return float(self.start_s[0])

    def period_at(self, t_s: float) -> int | None:
        """Index of the period that contains ``t_s``; None before the start or after the end."""
        if t_s < self.start_s[0] - 1e-9 or t_s >= self.end_s - 1e-9:
            return None
        return int(np.searchsorted(self.start_s, t_s + 1e-9, side="right")) - 1


def horizon_of(view: SiteView, horizon_h: float, fine_h: float, coarse_step_s: float) -> Horizon:
    """Periods from now to the horizon's end (or the last departure, if sooner), with their data.

    Forecast step ``k`` covers ``[t0 + k * step, t0 + (k + 1) * step)`` with ``t0 = floor(now / step) *
    step`` (the convention of ``sim.strategies.horizon``); the first period starts now.
    """
    fc = view.forecast
    step_s = float(fc.step_s) if fc is not None else float(view.period_s)
    if not step_s > 0:
        raise StrategyError(f"strategy 'mpc': forecast step must be > 0 s, got {step_s!r}")
    now = view.time_s
    t0 = math.floor(now / step_s + 1e-9) * step_s if fc is not None else now
    last_departure_s = float(np.max(view.sessions.departure_s, initial=now))
    end_s = now + max(min(horizon_h * 3600.0, last_departure_s - now), 0.0)
    n_steps = max(1, math.ceil((end_s - t0) / step_s - 1e-9))
    if fc is None:
        net, price = np.full(n_steps, view.base_load_kw), np.zeros(n_steps)
    else:
        # Forecast.base_load_kw is already net of generation (load minus PV), like SiteView.base_load_kw.
        net = _extend(fc.base_load_kw, n_steps, "base_load_kw", view.base_load_kw)
        price = _extend(fc.price_per_kwh, n_steps, "price_per_kwh", 0.0)
    net[0] = view.base_load_kw
    edges = _period_edges(n_steps, step_s, fine_h, coarse_step_s)
    first = edges[:-1]
    start = t0 + step_s * first.astype(float)
    start[0] = now
    length = t0 + step_s * edges[1:].astype(float) - start
    return Horizon(start, length, np.maximum.reduceat(net, first), np.add.reduceat(price, first) / np.diff(edges))


def _period_edges(n_steps: int, step_s: float, fine_h: float, coarse_step_s: float) -> I64:
    """Period boundaries in forecast steps: single steps for ``fine_h``, then blocks of ``coarse_step_s``."""
    n_fine = min(n_steps, math.ceil(fine_h * 3600.0 / step_s - 1e-9))
    if n_fine == n_steps:
        return np.arange(n_steps + 1, dtype=np.int64)
    block = max(1, round(coarse_step_s / step_s))
    coarse = np.arange(n_fine + block, n_steps, block, dtype=np.int64)
    return np.concatenate([np.arange(n_fine + 1, dtype=np.int64), coarse, [n_steps]]).astype(np.int64)


def _extend(values: F64, n: int, name: str, default: float) -> F64:
    """The first ``n`` forecast values, the last one repeated if there are fewer (``default`` if none)."""
    values = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(values[:n]))
    if len(bad):
        raise StrategyError(f"strategy 'mpc': forecast {name} has a non-finite value "
                            f"({values[bad[0]]!r}) at step {bad[0]}")
    if len(values) == 0:
        return np.full(n, float(default))
    if len(values) >= n:
        return values[:n].copy()
    return np.concatenate([values, np.full(n - len(values), values[-1])])


@dataclass(frozen=True)
class _Vars:
    """The current variables: session ``kk[j]`` in period ``pp[j]``, with per-variable coefficients."""

    kk: I64
    pp: I64
    kw_per_a: F64  # grid-side kW per A of the variable's session
    dt_h: F64  # hours of the period the session is plugged in
    energy_per_a: F64  # vehicle-side kWh per A over the period


def _variables(view: SiteView, hz: Horizon) -> _Vars:
    s, ch = view.sessions, view.chargers
    ci = s.charger_index
    kw_per_a = ch.phases[ci] * ch.v_ln_v[ci] / 1000.0
    # A session still plugged in after its announced departure (live mode) may charge in the first period.
    departure_s = np.maximum(s.departure_s, hz.start_s[0] + hz.length_s[0])
    dt_h = np.clip(departure_s[:, None] - hz.start_s[None, :], 0.0, hz.length_s[None, :]) / 3600.0
    live = (dt_h > 0) & (s.max_current_a[:, None] > ZERO_A) & (s.energy_remaining_kwh[:, None] > 0)
    kk, pp = (a.astype(np.int64) for a in np.nonzero(live))
    eff = ch.efficiency[ci]
    return _Vars(kk, pp, kw_per_a[kk], dt_h[kk, pp], kw_per_a[kk] * eff[kk] * dt_h[kk, pp])


def _limits_by_period(view: SiteView, cons: Constraints, hz: Horizon) -> F64:
    """``b`` for every (period, row), flattened period-major; the import row follows the base load."""
    b = np.tile(np.asarray(cons.limit, dtype=float), (hz.n_periods, 1))
    if IMPORT_ROW in cons.row_index:
        b[:, cons.row_index[IMPORT_ROW]] += view.base_load_kw - hz.net_base_kw
    return np.asarray(np.maximum(b, 0.0).ravel(), dtype=float)


def _limit_block(view: SiteView, cons: Constraints, hz: Horizon, v: _Vars) -> tuple[sp.csr_matrix, F64]:
    """Every constraint row at every period, over the current variables (empty rows dropped)."""
    indptr, rows, coef = cons.columns(view.sessions.charger_index)
    counts = np.diff(indptr)[v.kk]
    var = np.repeat(np.arange(len(v.kk), dtype=np.int64), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    src = indptr[v.kk][var] + np.arange(len(var), dtype=np.int64) - first
    used, inv = np.unique(v.pp[var] * cons.n_rows + rows[src], return_inverse=True)
    block = sp.csr_matrix((coef[src], (inv, var)), shape=(len(used), len(v.kk)))
    return block, _limits_by_period(view, cons, hz)[used]


def _coo(values: F64, rows: I64, cols: I64, shape: tuple[int, int]) -> sp.csr_matrix:
    return sp.csr_matrix((values, (rows, cols)), shape=shape)


def build_lp(view: SiteView, hz: Horizon, v: _Vars, peak_weight: float, unmet_penalty: float) -> dict[str, Any]:
    """linprog's arguments; variables are [currents (nx), unmet kWh per session (K), peak kW]."""
    nx, n_sess, n_p = len(v.kk), len(view.sessions), hz.n_periods
    n_var = nx + n_sess + 1
    j, cons = np.arange(nx), view.constraints
    peak = _coo(np.concatenate([v.kw_per_a, -np.ones(n_p)]), np.concatenate([v.pp, np.arange(n_p)]),
                np.concatenate([j, np.full(n_p, n_var - 1)]), (n_p, n_var))
    blocks, b_ub = ([peak], [-hz.net_base_kw]) if peak_weight > 0 else ([], [])  # else peak_kw is fixed at 0
    if cons is not None and cons.n_rows:
        lim, b_lim = _limit_block(view, cons, hz, v)
        blocks.insert(0, sp.hstack([lim, sp.csr_matrix((lim.shape[0], n_sess + 1))]))
        b_ub.insert(0, b_lim)
    energy = _coo(np.concatenate([v.energy_per_a, np.ones(n_sess)]), np.concatenate([v.kk, np.arange(n_sess)]),
                  np.concatenate([j, nx + np.arange(n_sess)]), (n_sess, n_var))
    mid_s = hz.start_s + hz.length_s / 2 - view.time_s
    early = EARLY_PER_KWH * mid_s / (hz.start_s[-1] + hz.length_s[-1] - view.time_s)
    c = np.concatenate([(hz.price_per_kwh + early)[v.pp] * v.kw_per_a * v.dt_h,
                        np.full(n_sess, unmet_penalty), [peak_weight]])
    bounds = np.zeros((n_var, 2))
    bounds[:nx, 1] = view.sessions.max_current_a[v.kk]
    bounds[nx:, 1] = np.inf
    bounds[-1] = (-np.inf, np.inf) if peak_weight > 0 else (0.0, 0.0)
    a_ub = sp.vstack(blocks, format="csc") if blocks else None
    return {"c": c, "A_ub": a_ub, "b_ub": np.concatenate(b_ub) if blocks else None,
            "A_eq": energy.tocsc(), "b_eq": view.sessions.energy_remaining_kwh, "bounds": bounds}


def solve_plan(view: SiteView, *, horizon_h: float = 12.0, peak_weight: float = 0.1, unmet_penalty: float = 1000.0,
               fine_h: float = 1.0, coarse_step_s: float = 1800.0) -> Plan:
    """Solve the horizon LP for ``view`` (see the module docstring) and return the plan."""
    hz = horizon_of(view, horizon_h, fine_h, coarse_step_s)
    end_s = float(hz.start_s[-1] + hz.length_s[-1])
    n_sess = len(view.sessions)
    current = np.zeros((n_sess, hz.n_periods))
    v = _variables(view, hz)
    if len(v.kk) == 0:
        return Plan(hz.start_s, end_s, view.sessions.session_ids, current,
                    view.sessions.energy_remaining_kwh.copy(), float(np.max(hz.net_base_kw)))
    result = linprog(method="highs", **build_lp(view, hz, v, peak_weight, unmet_penalty))
    if result.status != 0:
        raise StrategyError(f"strategy 'mpc': HiGHS did not solve the plan at t = {view.time_s:g} s "
                            f"(status {result.status}: {result.message})")
    nx = len(v.kk)
    x = np.clip(result.x[:nx], 0.0, view.sessions.max_current_a[v.kk])
    current[v.kk, v.pp] = x
    import_kw = np.array(hz.net_base_kw, dtype=float)
    np.add.at(import_kw, v.pp, v.kw_per_a * x)
    return Plan(hz.start_s, end_s, view.sessions.session_ids, current,
                np.maximum(result.x[nx:nx + n_sess], 0.0), float(np.max(import_kw)))
