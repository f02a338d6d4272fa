"""``peak_shaving``: keep the site's import (base load + charging) under a target, raised only when needed.

The algorithm, at every decision:

1. **Plan the threshold.** Over the slots ahead (``horizon``: the base-load forecast, perfect in
   simulation or the present value repeated, ``persistence``), find the lowest import threshold
   ``T >= target_kw`` at which every plugged-in session can still get its remaining energy by its
   departure (as far as its own maximum rate allows at all). The test is an energy-by-deadline
   check: sort the sessions by departure; for each prefix (the ``j`` earliest departures) the energy
   they need must fit into the slots before the ``j``-th departure, where slot ``k`` offers
   ``min(max(T - base_k, 0) * hours_k, sum of the prefix's max power * hours present in k)``. Each
   side grows with ``T``, so ``T`` is found by bisection (to 0.01 kW). When the target is enough, it
   is kept; otherwise the threshold rises just as far as the deadlines demand: the charging fills
   the valleys of the base load below ``T`` instead of raising the peak (valley filling).
2. **Allocate now.** One extra constraint row, charging kW <= ``T - base_load_kw`` (now), joins the
   site's hard limits (fuses, transformer, import limit), which are never exceeded whatever ``T``
   is; the sessions are served least-laxity-first (``priority`` kernel), the order the deadline test
   assumes.

The threshold is recomputed from the view at every decision (no hidden state), so a strategy object
can be shared between runs and live mode. Parameters: ``target_kw`` (required, >= 0) and
``forecast`` (``"perfect"``: use ``view.forecast``, falling back to persistence when the view has
none; ``"persistence"``: the present base load for the whole horizon); ``phase_balance`` and
``max_phase_imbalance_a`` (``sim.strategies.phase_balance``; the threshold plan ignores them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

import core_ext
from sim.domain import Setpoints, SiteView
from sim.strategies import params as p
from sim.strategies.allocate import ExtraRows, allocate, kw_per_a
from sim.strategies.base import reject_unknown_params
from sim.strategies.horizon import Horizon, horizon
from sim.strategies.orders import energy_needed_kwh, laxity_order, max_power_kw
from sim.strategies.phase_balance import PARAMS as PHASE_PARAMS
from sim.strategies.phase_balance import PhaseBalance

F64 = NDArray[np.float64]
FORECASTS = ("perfect", "persistence")
_TOL_KW = 0.01


class PeakShaving:
    name: ClassVar[str] = "peak_shaving"
    needs_grid_state: ClassVar[bool] = False  # never reads view.grid: load flows may be deferred
    PARAMS: ClassVar[tuple[str, ...]] = ("target_kw", "forecast", *PHASE_PARAMS)

    def __init__(self, target_kw: float, forecast: str = "perfect", phase_balance: PhaseBalance | None = None) -> None:
        self.target_kw = float(target_kw)
        self.forecast = forecast
        self.phase_balance = phase_balance

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PeakShaving:
        reject_unknown_params(cls.name, params, cls.PARAMS)
        target_kw = p.number(cls.name, params, "target_kw", minimum=0.0, required=True)
        return cls(target_kw, p.choice(cls.name, params, "forecast", "perfect", FORECASTS),
                   PhaseBalance.from_params(cls.name, params))

    def threshold_kw(self, view: SiteView) -> float:
        """The import threshold for this decision: ``target_kw``, or the lowest level that meets departures."""
        if len(view.sessions) == 0:
            return self.target_kw
        slots = horizon(view, use_forecast=self.forecast == "perfect")
        return required_threshold_kw(slots, view.time_s, view.sessions.departure_s, energy_needed_kwh(view),
                                     max_power_kw(view), self.target_kw)

    def compute(self, view: SiteView) -> Setpoints:
        if len(view.sessions) == 0:
            return Setpoints.zeros(len(view.chargers))
        threshold_kw = self.threshold_kw(view)
        row = ExtraRows(kw_per_a(view)[None, :], np.array([max(threshold_kw - view.base_load_kw, 0.0)]))
        return allocate(view, laxity_order(view), "priority", extra=row, phase_balance=self.phase_balance)


def required_threshold_kw(slots: Horizon, time_s: float, departure_s: F64, need_kwh: F64, max_kw: F64,
                          target_kw: float) -> float:
    """The lowest threshold ``>= target_kw`` passing the energy-by-deadline test (module docstring, step 1),
    to ``_TOL_KW``: the kernel ``core_ext.deadline_threshold``, O(sessions x slots) per test. The
    bisection's upper end passes the test: every slot's room then exceeds what all sessions take."""
    f64 = np.ascontiguousarray
    max_kw = f64(max_kw, dtype=float)
    upper_kw = max(target_kw, float(slots.base_kw.max())) + float(max_kw.sum()) + 1.0
    return float(core_ext.deadline_threshold(
        f64(slots.start_s, dtype=float), f64(slots.end_s, dtype=float), f64(slots.base_kw, dtype=float),
        float(time_s), f64(departure_s, dtype=float), f64(need_kwh, dtype=float), max_kw,
        float(target_kw), upper_kw, _TOL_KW))
