"""The energy tariff as a pure function of local wall-clock time.

A ``TariffSpec`` is a flat ``price_per_kwh`` plus optional time-of-use periods ``[start_h, end_h)``
on all days, weekdays (Monday to Friday) or the weekend (Saturday, Sunday); hours no period covers
use the flat price. Periods are read on the local wall clock: a 0-7 h night rate starts at local
midnight on every day, also on the days a daylight-saving change makes 23 or 25 hours long.

"Local" is the time zone of the scenario start (``Timebase.start.tzinfo``). A scenario file's start
carries a fixed UTC offset, so there is no daylight-saving change there; a ``Timebase`` built from a
``zoneinfo.ZoneInfo`` start (the Python API) follows the zone's changes. Public holidays are not
modelled.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from sim.domain.timebase import Timebase
from sim.scenario.schema import TARIFF_DAYS_OF_WEEK, TariffSpec


def price_at(tariff: TariffSpec, when: datetime) -> float:
    """The price (currency per kWh) at the wall-clock time of ``when`` (its own fields, as given)."""
    hour_h = when.hour + when.minute / 60.0 + (when.second + when.microsecond / 1e6) / 3600.0
    return float(price_at_local(tariff, np.array([hour_h]), np.array([when.weekday()]))[0])


def price_at_local(tariff: TariffSpec, hour_h: ArrayLike, weekday: ArrayLike) -> NDArray[np.float64]:
    """The price at local hours of the day ``hour_h`` (0 <= h < 24) on weekdays ``weekday`` (Monday 0)."""
    hours = np.asarray(hour_h, dtype=float)
    days = np.asarray(weekday, dtype=np.int64)
    price = np.full(np.broadcast(hours, days).shape, float(tariff.price_per_kwh))
    for period in tariff.periods:
        on_day = np.isin(days, sorted(TARIFF_DAYS_OF_WEEK[period.days]))
        inside = (hours >= period.start_h) & (hours < period.end_h) & on_day
        price[inside] = period.price_per_kwh
    return price


def local_hour_and_weekday(timebase: Timebase, t_s: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Local wall-clock hour of the day (fractional) and weekday (Monday 0) at model times ``t_s``.

    Local time is the start's time zone, converted instant by instant, so a ``ZoneInfo`` zone's
    daylight-saving changes are followed.
    """
    utc = pd.DatetimeIndex(timebase.to_datetime64(np.atleast_1d(np.asarray(t_s, dtype=float)))).tz_localize("UTC")
    local = utc.tz_convert(timebase.start.tzinfo)
    hour_h = (local.hour.to_numpy(dtype=float) + local.minute.to_numpy(dtype=float) / 60.0
              + (local.second.to_numpy(dtype=float) + local.microsecond.to_numpy(dtype=float) / 1e6) / 3600.0)
    return hour_h, local.dayofweek.to_numpy(dtype=np.int64)


def price_per_kwh(tariff: TariffSpec, timebase: Timebase, t_s: ArrayLike) -> NDArray[np.float64]:
    """The price (currency per kWh) at each model time ``t_s`` (seconds since the scenario start)."""
    hour_h, weekday = local_hour_and_weekday(timebase, t_s)
    return price_at_local(tariff, hour_h, weekday)
