from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from sim.domain import Timebase


def test_elapsed_seconds_across_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    tb = Timebase(datetime(2026, 3, 28, 12, 0, tzinfo=berlin))  # clocks go forward on 29 March
    noon_next_day = datetime(2026, 3, 29, 12, 0, tzinfo=berlin)
    assert tb.to_seconds(noon_next_day) == 23 * 3600
    assert tb.to_datetime(23 * 3600) == noon_next_day
    assert tb.to_datetime(23 * 3600).utcoffset() == timedelta(hours=2)


def test_naive_start_is_rejected() -> None:
    with pytest.raises(ValueError):
        Timebase(datetime(2026, 1, 1))


def test_datetime64_is_utc() -> None:
    tb = Timebase(datetime.fromisoformat("2026-01-12T00:00:00+01:00"))
    assert tb.to_datetime64(np.array([0.0, 3600.0]))[1] == np.datetime64("2026-01-12T00:00:00", "ms")
