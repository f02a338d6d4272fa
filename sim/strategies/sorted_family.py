"""``fcfs``, ``edf``, ``llf``: one family of sorted strategies (acnportal's ``SortedSchedulingAlgo``).

The sessions are sorted by a key (arrival, departure, laxity; ties by session id) and, in that order,
each takes the most current it can within every limit it touches (``priority`` kernel). A session
whose remaining headroom is below its charger's minimum is paused rather than break a limit.

Unlike acnportal's bisection on a feasibility oracle, the kernel computes each session's headroom
exactly from the constraint rows it touches: one pass over the sessions, linear in their number.
Parameters: ``phase_balance`` and ``max_phase_imbalance_a`` (``sim.strategies.phase_balance``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sim.domain import Setpoints, SiteView
from sim.strategies.allocate import allocate
from sim.strategies.base import reject_unknown_params
from sim.strategies.orders import arrival_order, departure_order, laxity_order
from sim.strategies.phase_balance import PARAMS as PHASE_PARAMS
from sim.strategies.phase_balance import PhaseBalance

OrderFn = Callable[[SiteView], NDArray[np.int64]]


class SortedStrategy:
    """Priority allocation in the order a sort key gives; subclasses set ``name`` and ``sort``."""

    name: ClassVar[str] = "sorted"
    needs_grid_state: ClassVar[bool] = False  # never reads view.grid: load flows may be deferred
    PARAMS: ClassVar[tuple[str, ...]] = PHASE_PARAMS
    sort: ClassVar[OrderFn]

    def __init__(self, phase_balance: PhaseBalance | None = None) -> None:
        self.phase_balance = phase_balance

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SortedStrategy:
        reject_unknown_params(cls.name, params, cls.PARAMS)
        return cls(PhaseBalance.from_params(cls.name, params))

    def compute(self, view: SiteView) -> Setpoints:
        if len(view.sessions) == 0:
            return Setpoints.zeros(len(view.chargers))
        return allocate(view, type(self).sort(view), "priority", phase_balance=self.phase_balance)


class FirstComeFirstServed(SortedStrategy):
    """``fcfs``: earliest arrival first."""

    name = "fcfs"
    sort = arrival_order


class EarliestDeadlineFirst(SortedStrategy):
    """``edf``: earliest departure first."""

    name = "edf"
    sort = departure_order


class LeastLaxityFirst(SortedStrategy):
    """``llf``: least laxity first (see ``orders.laxity_s`` for the exact definition)."""

    name = "llf"
    sort = laxity_order
