"""The time ahead as slots: the base load and the price expected in each, and who is plugged in when.

Used by the planning strategies (``peak_shaving``, ``price_aware``). Slot 0 runs from now to the end
of the current forecast step; slot ``k`` covers forecast step ``k``. The forecast (``view.forecast``)
is assumed to start at the current control tick, ``floor(time_s / step_s) * step_s``. Beyond the last
forecast step, one more slot runs to the latest departure with the last forecast values repeated.

Conventions (those of the engine's ``SiteModel``): ``Forecast.base_load_kw`` is the site's
non-charging import, load minus generation, like ``SiteView.base_load_kw``; ``Forecast.pv_kw`` is the
generation alone (so the gross load is their sum). For slot 0 the view's own ``base_load_kw`` (the
import now) is used. Without a forecast (or with the ``persistence`` choice) the import stays at the
view's ``base_load_kw``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim.domain import SiteView

F64 = NDArray[np.float64]

MAX_HORIZON_S = 14 * 86400.0  # plan at most two weeks ahead, whatever the departures say


@dataclass(frozen=True)
class Horizon:
    """Slots ``[start_s[k], end_s[k])`` from now on, with the net base import and price in each."""

    start_s: F64
    end_s: F64
    base_kw: F64
    price_per_kwh: F64

    def __len__(self) -> int:
        return len(self.start_s)

    def overlap_h(self, time_s: float, until_s: F64) -> F64:
        """Hours of each slot (columns) inside ``[time_s, until_s[i])`` for each row ``i``."""
        lo = np.maximum(self.start_s, time_s)[None, :]
        hi = np.minimum(self.end_s[None, :], np.asarray(until_s, dtype=float)[:, None])
        return np.asarray(np.maximum(hi - lo, 0.0) / 3600.0, dtype=float)


def horizon(view: SiteView, use_forecast: bool = True) -> Horizon:
    """Slots from now to the latest departure of a plugged-in session (at most ``MAX_HORIZON_S``)."""
    now = view.time_s
    last_s = now + min(float(np.max(view.sessions.departure_s, initial=now)) - now, MAX_HORIZON_S)
    fc = view.forecast
    if use_forecast and fc is not None and len(fc.base_load_kw) and fc.step_s > 0:
        step = fc.step_s
        t0 = np.floor(now / step + 1e-9) * step
        n = len(fc.base_load_kw)
        start = t0 + step * np.arange(n, dtype=float)
        base = np.asarray(fc.base_load_kw, dtype=float)
        price = np.asarray(fc.price_per_kwh, dtype=float)[:n] if len(fc.price_per_kwh) >= n else np.zeros(n)
    else:
        step = view.period_s if view.period_s > 0 else 900.0
        n = max(int(np.ceil((last_s - now) / step - 1e-9)), 1)
        start = now + step * np.arange(n, dtype=float)
        base = np.full(n, view.base_load_kw)
        price = np.zeros(n)
    end = start + step
    start[0] = now
    base = np.array(base)
    base[0] = view.base_load_kw
    keep = start < max(last_s, now + 1e-9)
    start, end, base, price = start[keep], end[keep], base[keep], price[keep]
    if end[-1] < last_s:  # the tail: the last forecast values repeated up to the latest departure
        start, end = np.append(start, end[-1]), np.append(end, last_s)
        base, price = np.append(base, base[-1]), np.append(price, price[-1])
    return Horizon(start, end, base, price)
