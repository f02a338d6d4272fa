"""Durations (``"7d"``, ``"36h"``, ``"90min"``, ``"3600s"`` or seconds) and zoned start times."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any

from sim.errors import ScenarioError
from sim.scenario._reader import type_name

DURATION_UNITS_S = {"d": 86400.0, "h": 3600.0, "min": 60.0, "s": 1.0}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(d|h|min|s)\s*$")
DURATION_EXPECTED = 'a positive duration such as "7d", "36h", "90min", "3600s", or a number of seconds'
START_EXPECTED = "a date-time with a UTC offset, e.g. 2026-01-12T00:00:00+01:00"


def parse_duration(value: Any, file: str = "<value>", key: str = "duration") -> float:
    """Seconds in a duration: a positive number of seconds or a string ``<number><d|h|min|s>``.

    Raises ``ScenarioError(file, key, ...)`` for anything else (booleans, zero, negative numbers,
    unknown units such as ``"m"``, which would be ambiguous between minutes and months).
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ScenarioError(file, key, "must be a duration string or a number of seconds",
                            value=value, expected=DURATION_EXPECTED)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match is None:
            raise ScenarioError(file, key, "not a valid duration", value=value, expected=DURATION_EXPECTED)
        seconds = float(match.group(1)) * DURATION_UNITS_S[match.group(2)]
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ScenarioError(file, key, "duration must be positive and finite", value=value,
                            expected=DURATION_EXPECTED)
    return seconds


def format_duration(seconds: float) -> str | float | int:
    """The shortest exact spelling of ``seconds`` (``"7d"``, ``"90min"``); plain seconds otherwise."""
    for unit in ("d", "h", "min", "s"):
        count = seconds / DURATION_UNITS_S[unit]
        if count.is_integer() and count * DURATION_UNITS_S[unit] == seconds:
            return f"{int(count)}{unit}"
    return seconds


def parse_start(value: Any, file: str = "<value>", key: str = "simulation.start") -> datetime:
    """A time-zone-aware start instant from a TOML offset date-time or an ISO 8601 string.

    Local date-times (no offset), dates and times are rejected: the model's clock and the
    household profiles need to know the zone.
    """
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ScenarioError(file, key, "not an ISO 8601 date-time", value=value,
                                expected=START_EXPECTED) from None
        value = parsed
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ScenarioError(file, key, "has no time zone (a local date-time)", value=value.isoformat(),
                                expected=START_EXPECTED)
        return value
    if isinstance(value, date | time):
        what = "a date without a time" if isinstance(value, date) else "a time without a date"
        raise ScenarioError(file, key, f"is {what}", value=value.isoformat(), expected=START_EXPECTED)
    raise ScenarioError(file, key, f"must be a date-time, not {type_name(value)}", value=value,
                        expected=START_EXPECTED)
