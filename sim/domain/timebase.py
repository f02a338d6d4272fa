"""The one place that converts model time (float seconds since the scenario start) to datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class Timebase:
    """``start`` is a time-zone-aware datetime; model time 0 is this instant."""

    start: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("Timebase.start must carry a time zone")

    def to_datetime(self, t_s: float) -> datetime:
        """The instant ``t_s`` seconds after the start, in the start's time zone.

        Computed in UTC: adding a timedelta to an aware datetime with a ZoneInfo zone adds wall-clock
        time, which is wrong across a daylight-saving change.
        """
        return (self.start.astimezone(UTC) + timedelta(seconds=float(t_s))).astimezone(self.start.tzinfo)

    def to_seconds(self, when: datetime) -> float:
        """Seconds from the start to ``when`` (elapsed time, correct across DST changes)."""
        if when.tzinfo is None:
            raise ValueError(f"datetime {when.isoformat()} has no time zone")
        return when.timestamp() - self.start.timestamp()

    def to_datetime64(self, t_s: ArrayLike) -> NDArray[np.datetime64]:
        """UTC datetime64[ms] for an array of model times (for Parquet columns)."""
        start_ms = np.datetime64(int(self.start.timestamp() * 1000), "ms")
        return start_ms + np.round(np.asarray(t_s, dtype=float) * 1000).astype("timedelta64[ms]")

    def seconds_since_midnight(self, t_s: ArrayLike) -> NDArray[np.float64]:
        """Local wall-clock seconds since midnight (in the start's time zone, fixed offset)."""
        midnight = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        offset = (self.start - midnight).total_seconds()
        return np.mod(np.asarray(t_s, dtype=float) + offset, 86400.0)
