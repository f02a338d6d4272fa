"""``export_store(store, out_dir)``: a live store's sessions and meter values as Parquet files.

``sessions.parquet``: one row per transaction (``sim.live.recorded``): session id, charger,
connector, transaction, arrival and departure (UTC timestamps), metered energy (kWh, grid side),
whether it ended in the store. ``meter_values.parquet``: one row per meter sample, with a UTC
``time`` column, values as the chargers reported them (empty where they did not). The store is
opened read-only, so exporting a store a live process still writes is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.live.recorded import meter_rows, recorded_sessions
from sim.live.store import read_events

SESSIONS_FILE = "sessions.parquet"
METER_VALUES_FILE = "meter_values.parquet"
METER_COLUMNS = ("t_s", "charger_id", "connector_id", "transaction_id", "power_w", "energy_wh", "current_l1_a",
                 "current_l2_a", "current_l3_a", "offered_current_a", "soc_percent")


@dataclass(frozen=True)
class Exported:
    sessions_path: Path
    meter_values_path: Path
    n_sessions: int
    n_meter_values: int


def export_store(store_path: str | Path, out_dir: str | Path) -> Exported:
    """Write the two Parquet files of the store at ``store_path`` into ``out_dir`` (created)."""
    events = read_events(store_path)
    sessions = pd.DataFrame(
        [{"session_id": s.session_id, "charger_id": s.charger_id, "connector_id": s.connector_id,
          "transaction_id": s.transaction_id, "arrival": s.arrival_t_s, "departure": s.departure_t_s,
          "energy_metered_kwh": s.metered_wh / 1000.0, "ended": s.ended} for s in recorded_sessions(events)],
        columns=["session_id", "charger_id", "connector_id", "transaction_id", "arrival", "departure",
                 "energy_metered_kwh", "ended"])
    for column in ("arrival", "departure"):
        sessions[column] = pd.to_datetime(sessions[column].astype(float), unit="s", utc=True)
    meters = pd.DataFrame(meter_rows(events), columns=list(METER_COLUMNS))
    meters.insert(0, "time", pd.to_datetime(meters["t_s"].astype(float), unit="s", utc=True))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sessions_path, meters_path = out / SESSIONS_FILE, out / METER_VALUES_FILE
    sessions.to_parquet(sessions_path, index=False)
    meters.to_parquet(meters_path, index=False)
    return Exported(sessions_path, meters_path, len(sessions), len(meters))
