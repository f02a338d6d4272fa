"""``mpc``: a linear program over a receding horizon, solved with HiGHS (``scipy.optimize.linprog``).

At a solve the strategy plans a current ``i[k, p]`` (A per phase) for every plugged-in session ``k``
and every period ``p`` of the horizon before its departure (the LP itself: ``_mpc_lp``):

- bounds ``0 <= i[k, p] <= max_current_a[k]``: the session's maximum *now*, held constant over the
  horizon (simple; optimistic when a battery's taper lowers it later, which re-solves catch up);
- energy: ``sum_p i[k, p] * kW/A * efficiency * dt_h[k, p] + unmet[k] = remaining[k]``, with
  ``unmet >= 0`` penalised by ``unmet_penalty`` per kWh, so demand that cannot be met degrades
  gracefully instead of making the LP infeasible (and nothing is delivered beyond the request);
- every row of ``view.constraints`` at every period; the ``import_kw`` row's limit follows the
  forecast net base load: ``b_p = b_now + (net_now - net_p)``, clipped at 0; other rows keep ``b_now``;
- objective: energy cost at the forecast price + ``peak_weight`` (currency per kW) x the peak site
  import over the horizon (``peak_kw >= net_p + charging_p``) + a tiny term that prefers earlier
  periods. The default 0.1 keeps cost first and flattens the import among equally priced periods;
  0 minimises cost alone; a few currency units per kW put the peak first.

Periods are the forecast's step for the first ``fine_h`` hours, then ``coarse_step_s`` long (move
blocking keeps a 12-hour, 5-minute horizon to a few dozen periods; ``fine_h = horizon_h`` turns it
off). Only the period containing now is applied. The plan is re-solved when the set of plugged-in
sessions changes (an arrival or a departure), every ``resolve_every`` control ticks, and when it runs
out; in between the stored plan is followed. Applying it is the shared allocation step (``allocate``,
the ``priority`` kernel): the plan is each session's upper bound, larger plans first, within every
limit of the view at hand (so a stale plan never breaks a limit that moved); the minimum-current
rule raises a plan in (0, min) to the minimum where every limit it loads has room, else pauses it;
then currents are quantised to the chargers' steps.

Forecast conventions (those of the engine, see ``sim.domain.Forecast``): ``forecast.base_load_kw``
is the site's non-charging import, already net of PV; the first step uses ``view.base_load_kw``. Without a forecast: steps of ``view.period_s``, the base load of now, price 0.
Forecast arrays shorter than the horizon are extended with their last value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.domain import Setpoints, SiteView
from sim.errors import StrategyError
from sim.strategies._mpc_lp import Plan, solve_plan
from sim.strategies.allocate import allocate
from sim.strategies.base import reject_unknown_params
from sim.strategies.orders import sort_by
from sim.strategies.params import number as read_number

F64 = NDArray[np.float64]

__all__ = ["Mpc", "Plan", "apply_plan", "solve_plan"]


class Mpc:
    """The receding-horizon LP strategy (see the module docstring). Keeps the last plan."""

    name = "mpc"
    needs_grid_state = False  # never reads view.grid: load flows may be deferred
    PARAMS: tuple[str, ...] = ("horizon_h", "peak_weight", "resolve_every", "unmet_penalty", "fine_h",
                               "coarse_step_s")

    def __init__(self, horizon_h: float = 12.0, peak_weight: float = 0.1, resolve_every: int = 12,
                 unmet_penalty: float = 1000.0, fine_h: float = 1.0, coarse_step_s: float = 1800.0) -> None:
        self.horizon_h = _number("horizon_h", horizon_h, 0.0, strict=True)
        self.peak_weight = _number("peak_weight", peak_weight, 0.0)
        self.resolve_every = _tick_count(resolve_every)
        self.unmet_penalty = _number("unmet_penalty", unmet_penalty, 0.0, strict=True)
        self.fine_h = _number("fine_h", fine_h, 0.0)
        self.coarse_step_s = _number("coarse_step_s", coarse_step_s, 0.0, strict=True)
        self.plan: Plan | None = None
        self.n_solves = 0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Mpc:
        reject_unknown_params(cls.name, params, cls.PARAMS)
        return cls(**params)

    def compute(self, view: SiteView) -> Setpoints:
        """Re-solve when due, then apply the plan's current period to the sessions of ``view``."""
        if len(view.sessions) == 0:
            self.plan = None
            return Setpoints.zeros(len(view.chargers))
        if self._needs_solve(view):
            self.plan = solve_plan(view, horizon_h=self.horizon_h, peak_weight=self.peak_weight,
                                   unmet_penalty=self.unmet_penalty, fine_h=self.fine_h,
                                   coarse_step_s=self.coarse_step_s)
            self.n_solves += 1
        assert self.plan is not None
        return apply_plan(view, planned_now(self.plan, view))

    def _needs_solve(self, view: SiteView) -> bool:
        """No plan, other sessions, the plan does not cover now, or ``resolve_every`` ticks passed."""
        plan = self.plan
        if plan is None or set(plan.session_ids) != set(view.sessions.session_ids):
            return True
        if plan.period_at(view.time_s) is None:
            return True
        return view.time_s - plan.t0_s >= self.resolve_every * view.period_s - 1e-9


def _number(name: str, value: Any, minimum: float, *, strict: bool = False) -> float:
    """A finite number >= ``minimum`` (> with ``strict``), checked like every strategy parameter."""
    number = read_number(Mpc.name, {name: value}, name, minimum=minimum)
    if strict and number <= minimum:
        raise StrategyError(f"strategy 'mpc': parameter '{name}' = {value!r} is out of range; "
                            f"expected a number > {minimum:g}", param=name)
    return number


def _tick_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StrategyError(f"strategy 'mpc': parameter 'resolve_every' = {value!r} is not valid; "
                            "expected a whole number of control ticks >= 1", param="resolve_every")
    return int(value)


def planned_now(plan: Plan, view: SiteView) -> F64:
    """The plan's current for each session of ``view`` in the period containing now (0 if unknown)."""
    period = plan.period_at(view.time_s)
    out = np.zeros(len(view.sessions))
    if period is None:
        return out
    row_of = {sid: k for k, sid in enumerate(plan.session_ids)}
    for k, sid in enumerate(view.sessions.session_ids):
        if sid in row_of:
            out[k] = plan.current_a[row_of[sid], period]
    return out


def apply_plan(view: SiteView, planned_a: F64) -> Setpoints:
    """Setpoints from the planned current per session: the shared allocation step (``allocate``) with
    the plan as upper bound, larger plans first (ties by session id). A plan in (0, min) is raised to
    the minimum where every limit has room, else paused; a stale plan never breaks a limit that moved;
    currents are quantised to the chargers' steps."""
    return allocate(view, sort_by(view, -np.asarray(planned_a, dtype=float)), "priority", upper_a=planned_a)
