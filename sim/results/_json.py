"""Turn a run's summary (meta + KPIs) into plain JSON values.

``summary.json`` must be strict JSON (no ``NaN`` tokens other tools choke on), so undefined
numbers become ``null``. Numpy scalars and arrays, datetimes and paths are converted; anything
else is a programming error reported with the key path where it sits.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from pathlib import PurePath
from typing import Any

import numpy as np


def to_jsonable(value: Any, where: str = "summary") -> Any:
    """A copy of ``value`` made of dict/list/str/int/float/bool/None only; ``nan``/``inf`` -> None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.datetime64 | np.timedelta64):
        return str(value)
    if isinstance(value, np.generic):
        return to_jsonable(value.item(), where)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string; JSON objects need string keys")
            out[key] = to_jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), where)
    if isinstance(value, list | tuple):
        return [to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(
        f"{where}: value of type {type(value).__name__} cannot be stored in summary.json; "
        "expected str, number, bool, None, datetime, path, list or dict"
    )
