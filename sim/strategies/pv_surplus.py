"""``pv_surplus``: charge from the site's own PV surplus, with an optional guaranteed minimum per session.

The surplus now is what the site would export without charging: ``-view.base_load_kw`` (the view's
base load is the load minus PV), never below 0. It becomes one extra constraint row in kW over all
sessions, shared max-min fairly (``waterfill``, arrival order) within the site's hard limits.

With ``min_current_a > 0`` every session first gets a guaranteed current (at least its charger's
minimum, at most what the vehicle takes), fairly within the hard limits, whether the sun shines or not;
the sessions that arrived last are paused when even the guarantees do not fit. The surplus left after
the guarantees is then shared on top, so charging power is ``max(guarantees, surplus)``.

Use it for solar self-consumption; with ``min_current_a = 0`` (the default) vehicles charge only on
surplus. Parameters: ``min_current_a`` (A per phase, >= 0, default 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from sim.domain import Setpoints, SiteView
from sim.strategies import params as p
from sim.strategies.allocate import (
    ExtraRows,
    bounded,
    build_problem,
    kw_per_a,
    quantize,
    solve,
    to_setpoints,
    with_rows,
)
from sim.strategies.base import reject_unknown_params
from sim.strategies.currents import offer_at_least
from sim.strategies.orders import arrival_order


class PvSurplus:
    name: ClassVar[str] = "pv_surplus"
    needs_grid_state: ClassVar[bool] = False  # never reads view.grid: load flows may be deferred
    PARAMS: ClassVar[tuple[str, ...]] = ("min_current_a",)

    def __init__(self, min_current_a: float = 0.0) -> None:
        self.min_current_a = float(min_current_a)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PvSurplus:
        reject_unknown_params(cls.name, params, cls.PARAMS)
        return cls(p.number(cls.name, params, "min_current_a", 0.0, minimum=0.0, maximum=1000.0))

    def compute(self, view: SiteView) -> Setpoints:
        if len(view.sessions) == 0:
            return Setpoints.zeros(len(view.chargers))
        order = arrival_order(view)
        surplus_kw = max(-view.base_load_kw, 0.0)
        kw_a = kw_per_a(view)
        hard = build_problem(view)
        guaranteed_a = np.zeros(len(view.sessions))
        if self.min_current_a > 0.0:
            wanted_a = offer_at_least(view.chargers, view.sessions.charger_index,
                                      np.maximum(self.min_current_a, hard.lower_a))
            guaranteed_a = solve(bounded(hard, wanted_a), order, "waterfill")
        guaranteed_kw = float(kw_a @ guaranteed_a)
        # The surplus on top of the guarantees: increments within what the guarantees left of each limit.
        top = replace(hard, upper_a=np.maximum(hard.upper_a - guaranteed_a, 0.0),
                      lower_a=np.where(guaranteed_a > 0.0, 0.0, hard.lower_a),
                      limit=np.maximum(hard.limit - hard.load(guaranteed_a), 0.0))
        top = with_rows(top, ExtraRows(kw_a[None, :], np.array([max(surplus_kw - guaranteed_kw, 0.0)])))
        out_a = guaranteed_a + solve(top, order, "waterfill")
        final = build_problem(view, ExtraRows(kw_a[None, :], np.array([max(surplus_kw, guaranteed_kw) + 1e-9])))
        return to_setpoints(view, quantize(view, final, order, out_a))
