"""Normalise the per-entity tables of a run: sessions and buses.

The engine hands these over in whatever shape is convenient for it; the results store needs a
fixed layout (``SESSION_COLUMNS``, ``BUS_COLUMNS``) so the report and notebooks can rely on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.results.results import BUS_COLUMNS, SESSION_COLUMNS

_EMPTY_SESSION_DTYPES = {
    "session_id": "object",
    "charger_id": "object",
    "bus": "int64",
    "arrival": "datetime64[ns, UTC]",
    "departure": "datetime64[ns, UTC]",
    "energy_requested_kwh": "float64",
    "energy_delivered_kwh": "float64",
    "max_power_kw": "float64",
}


def empty_sessions_frame() -> pd.DataFrame:
    """A sessions frame with no rows but the right columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _EMPTY_SESSION_DTYPES.items()})


def sessions_frame(sessions: pd.DataFrame | None) -> pd.DataFrame:
    """The engine's sessions with ``SESSION_COLUMNS`` first (extra columns kept after them).

    Raises ``ValueError`` naming missing columns or a time column without a time zone.
    """
    if sessions is None:
        return empty_sessions_frame()
    missing = [c for c in SESSION_COLUMNS if c not in sessions.columns]
    if missing:
        raise ValueError(f"sessions frame lacks column(s) {missing}; expected {list(SESSION_COLUMNS)}")
    if len(sessions) == 0 and list(sessions.columns) == list(SESSION_COLUMNS):
        return empty_sessions_frame()
    for column in ("arrival", "departure"):
        dtype = sessions[column].dtype
        if not isinstance(dtype, pd.DatetimeTZDtype):
            raise ValueError(
                f"sessions column {column!r} has dtype {dtype}; expected time-zone-aware datetimes"
            )
    extra = [c for c in sessions.columns if c not in SESSION_COLUMNS]
    return sessions[list(SESSION_COLUMNS) + extra].reset_index(drop=True)


def _bus_records(buses: pd.DataFrame | Sequence[dict[str, Any]]) -> pd.DataFrame:
    frame = buses.copy() if isinstance(buses, pd.DataFrame) else pd.DataFrame(list(buses))
    if len(frame) == 0 and len(frame.columns) == 0:  # an empty list of records
        frame = pd.DataFrame({"bus_id": pd.Series(dtype=object)})
    if "bus_id" not in frame.columns and "bus" in frame.columns:
        frame = frame.rename(columns={"bus": "bus_id"})
    if "bus_id" not in frame.columns:
        raise ValueError(f"meta['buses'] needs a 'bus_id' (or 'bus') column; has {list(frame.columns)}")
    frame["bus_id"] = frame["bus_id"].astype(str)
    dupes = sorted(set(frame.loc[frame["bus_id"].duplicated(), "bus_id"]))
    if dupes:
        raise ValueError(f"meta['buses'] lists bus id(s) {dupes} more than once")
    return frame


def buses_frame(
    buses: pd.DataFrame | Sequence[dict[str, Any]] | None, bus_ids: Sequence[str]
) -> pd.DataFrame:
    """One row per recorded bus, in recorder order: ``bus_id`` (str), ``name``, ``distance_km``.

    ``buses`` may describe only some buses: the others get their id as name and ``nan``
    distance. A bus id the recorder does not know is an error (it would be dropped otherwise).
    """
    ids = [str(b) for b in bus_ids]
    if buses is None:
        return pd.DataFrame(
            {
                "bus_id": pd.Series(ids, dtype=object),
                "name": pd.Series(ids, dtype=object),
                "distance_km": np.full(len(ids), np.nan),
            }
        )
    frame = _bus_records(buses)
    unknown = sorted(set(frame["bus_id"]) - set(ids))
    if unknown:
        raise ValueError(f"meta['buses'] has bus id(s) {unknown[:10]} that are not among the recorded buses")
    frame = frame.set_index("bus_id").reindex(ids)
    names = frame["name"] if "name" in frame.columns else pd.Series(np.nan, index=frame.index)
    distance = (
        frame["distance_km"] if "distance_km" in frame.columns else pd.Series(np.nan, index=frame.index)
    )
    try:
        distance_km = pd.to_numeric(distance, errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"meta['buses'] column 'distance_km' must be numbers (km): {exc}") from exc
    return pd.DataFrame(
        {
            "bus_id": pd.Series(ids, dtype=object),
            "name": pd.Series(
                [i if pd.isna(n) else str(n) for n, i in zip(names, ids, strict=True)], dtype=object
            ),
            "distance_km": distance_km,
        },
        columns=list(BUS_COLUMNS),
    )
