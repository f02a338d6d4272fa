"""What a strategy sees (``SiteView``) and what it returns (``Setpoints``).

Both are frozen snapshots built from read-only numpy arrays, so one strategy object can run
inside the simulator and inside the live OCPP server alike, and cannot change either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.domain.chargers import ChargerTable
from sim.domain.constraints import Constraints
from sim.domain.grid_state import GridState


@dataclass(frozen=True)
class ActiveSessions:
    """The sessions plugged in right now, one entry each (column arrays).

    ``charger_index`` points into the site's ``ChargerTable``. ``max_current_a`` is the most
    current per phase the vehicle accepts now: the smaller of the charger's and the vehicle's
    limit and what the battery takes at its state of charge and remaining demand.

    ``id_rank`` (optional) are integers that sort like ``session_ids``, so that ties in an order
    can be broken by session id without sorting strings at every decision. The engine passes each
    session's rank among all sessions of the run; without it the ranks are computed from the ids
    (``session_id_rank``).
    """

    session_ids: tuple[str, ...]
    charger_index: NDArray[np.int64]
    arrival_s: NDArray[np.float64]
    departure_s: NDArray[np.float64]
    energy_requested_kwh: NDArray[np.float64]
    energy_delivered_kwh: NDArray[np.float64]
    max_current_a: NDArray[np.float64]
    id_rank: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.session_ids)

    def session_id_rank(self) -> NDArray[np.int64]:
        """Integers in the order of ``session_ids`` (``id_rank`` if given, else the ids' ranks)."""
        if self.id_rank is not None:
            return self.id_rank
        return id_ranks(self.session_ids)

    @property
    def energy_remaining_kwh(self) -> NDArray[np.float64]:
        return np.maximum(self.energy_requested_kwh - self.energy_delivered_kwh, 0.0)


def id_ranks(session_ids: tuple[str, ...]) -> NDArray[np.int64]:
    """Each id's rank in the sorted ids (0 = smallest; equal ids by position)."""
    ids = np.asarray(session_ids, dtype=str)
    return np.argsort(np.argsort(ids, kind="stable"), kind="stable").astype(np.int64)


@dataclass(frozen=True)
class Forecast:
    """What the site expects from now on, one value per ``step_s`` starting at the current tick.

    In simulation these are the scenario's own values (a perfect forecast); in live mode a
    persistence forecast. ``price_per_kwh`` is the energy price (currency per kWh) of the tariff.
    ``base_load_kw`` is the site's non-charging import (load minus generation, as
    ``SiteView.base_load_kw``, so ``base_load_kw[0]`` is the value now); ``pv_kw`` is the site's
    generation (positive), so the gross load is ``base_load_kw + pv_kw``.
    """

    step_s: float
    base_load_kw: NDArray[np.float64]
    pv_kw: NDArray[np.float64]
    price_per_kwh: NDArray[np.float64]


@dataclass(frozen=True)
class SiteView:
    """A frozen snapshot of the site at ``time_s`` (seconds since the scenario start).

    ``constraints`` holds every limit as rows of ``A @ current_a <= b`` over the chargers, with the
    time-varying rows (import limit minus base load, ...) already set for this moment.
    ``base_load_kw`` is the non-charging import now (load minus PV).
    """

    time_s: float
    period_s: float
    chargers: ChargerTable
    sessions: ActiveSessions
    grid: GridState | None = None
    base_load_kw: float = 0.0
    constraints: Constraints | None = None
    forecast: Forecast | None = None


@dataclass(frozen=True)
class Setpoints:
    """Current per phase (A) for every charger, aligned with the site's charger order."""

    current_a: NDArray[np.float64]

    @classmethod
    def zeros(cls, n_chargers: int) -> Setpoints:
        return cls(np.zeros(n_chargers))
