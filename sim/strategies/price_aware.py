"""``price_aware``: charge in the cheapest periods that still meet each departure (time-of-use tariffs).

At every decision, each plugged-in session is planned on its own: the slots between now and its
departure (``horizon``: the forecast's prices; beyond the forecast the last price repeats) are ranked
by price, earliest first among equal prices, and filled with the session's remaining energy at its
maximum rate, cheapest first. If the present slot is among the chosen ones the session charges now,
at full rate, or at the fraction of the present slot the plan needs when it is the marginal one
(raised to the charger's minimum, since a charger cannot offer less). The plans then go through the
shared limits as upper bounds, least laxity first (``priority`` kernel).

Because the plan is redone at every decision, a session held back by shared limits in a cheap period
finds fewer slots left and moves into dearer ones: departures are met whenever the limits allow.
Without prices in the view (no forecast) every slot costs the same and the strategy charges as soon
as possible, like ``llf``.

Parameter ``rate_factor`` (0.01..1, default 0.8): the plan assumes a session takes only ``f`` times
its present maximum rate in every slot, so it plans enough time for a battery whose acceptance
tapers off when nearly full (the view knows the present rate, not the battery's curve). With ideal
batteries ``1.0`` charges exactly as much as needed in the cheapest slots. On the workplace scenario
(taper batteries, a 4-hour cheap window, 7 days) 1.0 left 2 of 58 sessions short by 0.1 kWh, 0.8
served all for 2 % more cost. Also ``phase_balance`` and ``max_phase_imbalance_a``
(``sim.strategies.phase_balance``; the plans ignore them, the shared allocation honours them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sim.domain import Setpoints, SiteView
from sim.strategies import params as p
from sim.strategies.allocate import allocate
from sim.strategies.base import reject_unknown_params
from sim.strategies.horizon import Horizon, horizon
from sim.strategies.orders import energy_needed_kwh, laxity_order, max_power_kw
from sim.strategies.phase_balance import PARAMS as PHASE_PARAMS
from sim.strategies.phase_balance import PhaseBalance

F64 = NDArray[np.float64]


class PriceAware:
    name: ClassVar[str] = "price_aware"
    needs_grid_state: ClassVar[bool] = False  # never reads view.grid: load flows may be deferred
    PARAMS: ClassVar[tuple[str, ...]] = ("rate_factor", *PHASE_PARAMS)

    def __init__(self, rate_factor: float = 0.8, phase_balance: PhaseBalance | None = None) -> None:
        self.rate_factor = float(rate_factor)
        self.phase_balance = phase_balance

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PriceAware:
        reject_unknown_params(cls.name, params, cls.PARAMS)
        factor = p.number(cls.name, params, "rate_factor", 0.8, minimum=0.01, maximum=1.0)
        return cls(factor, PhaseBalance.from_params(cls.name, params))

    def compute(self, view: SiteView) -> Setpoints:
        if len(view.sessions) == 0:
            return Setpoints.zeros(len(view.chargers))
        share = share_now(horizon(view), view.time_s, view.sessions.departure_s, energy_needed_kwh(view),
                          self.rate_factor * max_power_kw(view))
        return allocate(view, laxity_order(view), "priority", upper_a=share * view.sessions.max_current_a,
                        phase_balance=self.phase_balance)


def share_now(slots: Horizon, time_s: float, departure_s: F64, need_kwh: F64, max_kw: F64) -> F64:
    """Per session, the fraction (0..1) of its maximum rate its cheapest-slots plan puts in slot 0."""
    hours = slots.overlap_h(time_s, departure_s)
    cap_kwh = max_kw[:, None] * hours
    price = np.where(hours > 0.0, slots.price_per_kwh[None, :], np.inf)
    rank = np.argsort(price, axis=1, kind="stable")  # cheapest first, earlier first among equals
    cum_kwh = np.cumsum(np.take_along_axis(cap_kwh, rank, axis=1), axis=1)
    pos0 = np.argmax(rank == 0, axis=1)  # where slot 0 falls in each session's ranking
    rows = np.arange(len(need_kwh))
    before_kwh = cum_kwh[rows, pos0] - cap_kwh[:, 0]  # energy planned in cheaper slots
    share = np.divide(need_kwh - before_kwh, cap_kwh[:, 0], out=np.zeros_like(need_kwh), where=cap_kwh[:, 0] > 1e-12)
    return np.asarray(np.clip(share, 0.0, 1.0), dtype=float)
