"""Orders of the plugged-in sessions (sort keys), and the quantities they sort by.

Every order is a permutation of ``range(len(view.sessions))`` (positions in ``view.sessions``), sorted
by a key with ties broken by session id, so the same view always gives the same order.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.domain import SiteView

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def sort_by(view: SiteView, key: F64) -> I64:
    """Positions of the sessions sorted by ``key`` ascending, ties by session id (read-only)."""
    return _last_order.of(np.asarray(key, dtype=float), np.asarray(view.sessions.session_id_rank(), dtype=np.int64))


class _LastOrder:
    """The last order, reused while the keys and id ranks are the same values.

    An order by arrival or departure stays the same from one plug event to the next (about five
    decisions, every tick and plug event in between), and a sort costs more than comparing the
    keys' bytes. Compared by value, so a view from anywhere (live mode, tests) is safe; one
    entry, replaced as one object (thread-safe).
    """

    def __init__(self) -> None:
        self._last: tuple[bytes, bytes, I64] | None = None

    def of(self, key: F64, rank: I64) -> I64:
        key_bytes, rank_bytes = key.tobytes(), rank.tobytes()
        last = self._last
        if last is not None and last[0] == key_bytes and last[1] == rank_bytes:
            return last[2]
        order = np.lexsort((rank, key)).astype(np.int64)
        order.setflags(write=False)
        self._last = (key_bytes, rank_bytes, order)
        return order


_last_order = _LastOrder()


def arrival_order(view: SiteView) -> I64:
    """First come, first served: earliest arrival first."""
    return sort_by(view, view.sessions.arrival_s)


def departure_order(view: SiteView) -> I64:
    """Earliest deadline first: earliest departure first."""
    return sort_by(view, view.sessions.departure_s)


def energy_needed_kwh(view: SiteView) -> F64:
    """Grid-side energy each session still needs: remaining energy (vehicle side) / charger efficiency."""
    eff = view.chargers.efficiency[view.sessions.charger_index]
    return np.asarray(view.sessions.energy_remaining_kwh / eff, dtype=float)


def max_power_kw(view: SiteView) -> F64:
    """Grid-side power each session takes now at most: ``max_current_a`` times its charger's kW per A."""
    ci = view.sessions.charger_index
    return np.asarray(view.sessions.max_current_a * view.chargers.phases[ci] * view.chargers.v_ln_v[ci] / 1000.0,
                      dtype=float)


def laxity_s(view: SiteView) -> F64:
    """Laxity (s): time left until departure minus the time the remaining energy takes at the max rate.

    ``laxity = (departure_s - time_s) - 3600 * energy_needed_kwh / max_power_kw``, both grid side,
    where the max rate is what the vehicle takes now (``max_current_a``: charger, vehicle and battery
    limits). A session that needs nothing, or takes nothing now, has laxity = time left. Negative
    laxity: the session cannot be fully served any more.
    """
    time_left_s = view.sessions.departure_s - view.time_s
    need_kwh = energy_needed_kwh(view)
    rate_kw = max_power_kw(view)
    charging_s = np.divide(3600.0 * need_kwh, rate_kw, out=np.zeros_like(need_kwh), where=rate_kw > 1e-9)
    return np.asarray(time_left_s - charging_s, dtype=float)


def laxity_order(view: SiteView) -> I64:
    """Least laxity first."""
    return sort_by(view, laxity_s(view))
