"""``equal_share``: max-min fair sharing of every limit (water-filling).

All plugged-in sessions rise together; a session stops when it reaches what its vehicle takes or
when a limit it touches is full, and the others keep rising. The result is max-min fair: no session
could get more without taking from one that has less. When the chargers' minimum currents do not all
fit, the sessions that arrived last are paused (0 A) rather than break a limit.

Use it when every driver should be treated alike and nothing is known about departures; it is the
continuous form of acnportal's round robin. Parameters: ``phase_balance`` and ``max_phase_imbalance_a``
(``sim.strategies.phase_balance``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sim.domain import Setpoints, SiteView
from sim.strategies.allocate import allocate
from sim.strategies.base import reject_unknown_params
from sim.strategies.orders import arrival_order
from sim.strategies.phase_balance import PARAMS as PHASE_PARAMS
from sim.strategies.phase_balance import PhaseBalance


class EqualShare:
    name: ClassVar[str] = "equal_share"
    needs_grid_state: ClassVar[bool] = False  # never reads view.grid: load flows may be deferred
    PARAMS: ClassVar[tuple[str, ...]] = PHASE_PARAMS

    def __init__(self, phase_balance: PhaseBalance | None = None) -> None:
        self.phase_balance = phase_balance

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> EqualShare:
        reject_unknown_params(cls.name, params, cls.PARAMS)
        return cls(PhaseBalance.from_params(cls.name, params))

    def compute(self, view: SiteView) -> Setpoints:
        if len(view.sessions) == 0:
            return Setpoints.zeros(len(view.chargers))
        return allocate(view, arrival_order(view), "waterfill", phase_balance=self.phase_balance)
