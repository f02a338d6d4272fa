"""A small, seeded, self-consistent ``Results`` without running the simulator.

For examples, report previews and tests of rooms downstream of the engine (report, study, api):
it goes through the real ``Recorder``, so its frames have exactly the stored layout.
The numbers are plausible, not physical: a radial feeder whose voltage drops with distance and
with the charging power.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from sim.domain import GridState, Timebase
from sim.results.recorder import Recorder
from sim.results.results import Results

START = datetime(2024, 1, 15, 0, 0, tzinfo=UTC)


def _sessions(
    rng: np.random.Generator, n_sessions: int, charger_ids: list[str], horizon_s: float
) -> pd.DataFrame:
    arrival_s = np.sort(rng.uniform(0.0, 0.6 * horizon_s, n_sessions))
    departure_s = arrival_s + rng.uniform(0.2, 0.4, n_sessions) * horizon_s
    requested = rng.uniform(2.0, 20.0, n_sessions)
    delivered = requested * rng.choice([1.0, 0.7], n_sessions, p=[0.7, 0.3])
    charger = [charger_ids[i % len(charger_ids)] for i in range(n_sessions)] if charger_ids else []
    start = pd.Timestamp(START)
    return pd.DataFrame(
        {
            "session_id": [f"s{i}" for i in range(n_sessions)],
            "charger_id": pd.Series(charger, dtype=object),
            "bus": np.array([1 + i % 4 for i in range(n_sessions)], dtype=np.int64),
            "arrival": start + pd.to_timedelta(arrival_s, unit="s"),
            "departure": start + pd.to_timedelta(departure_s, unit="s"),
            "energy_requested_kwh": requested,
            "energy_delivered_kwh": delivered,
            "max_power_kw": np.full(n_sessions, 11.0),
        }
    )


def synthetic_results(
    rng: np.random.Generator,
    *,
    n_steps: int = 24,
    period_s: float = 900.0,
    n_chargers: int = 3,
    n_buses: int = 5,
    n_sessions: int = 6,
) -> Results:
    """A ``Results`` of ``n_steps`` ticks on a radial feeder of ``n_buses`` buses (bus 0 = LV side
    of the single transformer), ``n_buses - 1`` lines and ``n_chargers`` 11 kW chargers."""
    charger_ids = [f"cp{i}" for i in range(n_chargers)]
    bus_ids = list(range(n_buses))
    line_ids = list(range(max(n_buses - 1, 0)))
    rec = Recorder(n_steps, period_s, Timebase(START), charger_ids, bus_ids, line_ids, trafo_ids=[0])
    distance_km = 0.1 * np.arange(n_buses)
    for step in range(n_steps):
        p_kw = rng.uniform(0.0, 11.0, n_chargers)
        base_kw = 20.0 + 10.0 * np.sin(2 * np.pi * step / max(n_steps, 1))
        pv_kw = max(0.0, 15.0 * np.sin(np.pi * step / max(n_steps, 1)))
        load_kw = p_kw.sum() + base_kw - pv_kw
        losses_kw = 0.02 * abs(load_kw)
        grid = GridState(
            time_s=step * period_s,
            vm_pu=1.0 - 0.0012 * load_kw * distance_km,
            line_loading_percent=np.full(len(line_ids), abs(load_kw))
            * (1.0 - 0.2 * np.arange(len(line_ids))),
            trafo_loading_percent=np.array([abs(load_kw) / 80.0 * 100.0]),  # an 80 kVA unit
            p_import_kw=load_kw + losses_kw,
            q_import_kvar=0.1 * load_kw,
            losses_kw=losses_kw,
        )
        rec.record_step(step, step * period_s, p_kw, base_kw, pv_kw, grid)
    buses = [
        {"bus_id": b, "name": f"bus {b}", "distance_km": d} for b, d in zip(bus_ids, distance_km, strict=True)
    ]
    meta = {
        "scenario": "synthetic",
        "scenario_hash": "0" * 16,
        "seed": 0,
        "version": "synthetic",
        "core_backend": "none",
        "strategy": "uncontrolled",
        "start": START.isoformat(),
        "duration_s": n_steps * period_s,
        "control_period_s": period_s,
        "wall_time_s": 0.0,
        "buses": buses,
    }
    horizon_s = max(n_steps * period_s, period_s)
    return rec.finish(_sessions(rng, n_sessions, charger_ids, horizon_s), meta)
