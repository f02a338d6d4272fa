"""What a history request of the API costs on a big store, on the live process's event loop.

    python benchmarks/bench_api.py [--chargers 50] [--days 30] [--sessions-per-day 3]

Writes a store of ``chargers x days x sessions-per-day`` two-hour sessions with a meter sample
every minute (50 x 30 x 3: 4,500 sessions, 540,000 samples), then times, once each:

- ``GET /api/v1/sessions?limit=100`` as the API answers it (``SiteReader.sessions``: starts and ends
  pick the 100 newest sessions, then only the events from the earliest of them on are read);
- the same answer from every session event of the store (``recorded_sessions`` over all of them,
  what reading the whole history would cost);
- ``GET /api/v1/chargers``' store part (each connector's latest status, each charger's boot and
  last frame) and one session's detail with its meter samples;
- the longest stall of the event loop (1 ms ticks) while the sessions request runs inline, and in a
  worker thread as the API runs it: how long a charger's message may wait behind it.

One run on this machine, numbers printed; each is time the event loop does not serve chargers.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sim.api.views import SESSION_EVENTS, SiteReader
from sim.live.events import ChargerBooted, MeterSample, SessionEnded, SessionStarted, StatusChanged
from sim.live.recorded import recorded_sessions
from sim.live.store import LiveStore, open_read_only, read_event_rows

T0_S = 1_800_000_000.0


def write_store(path: Path, n_chargers: int, days: int, per_day: int) -> int:
    with LiveStore(path, synchronous="NORMAL") as store:
        ids = [f"CP-{k:03d}" for k in range(n_chargers)]
        for cid in ids:
            store.record_event(ChargerBooted(cid, T0_S, "Bench", "B1"))
        tx, n_samples = 0, 0
        for day in range(days):
            for slot in range(per_day):
                for cid in ids:
                    start_s = T0_S + day * 86400 + slot * 8 * 3600
                    tx += 1
                    store.record_event(StatusChanged(cid, 1, start_s, "Charging"))
                    store.record_event(SessionStarted(cid, 1, str(tx), start_s, meter_start_wh=0.0))
                    for minute in range(1, 121):
                        store.record_event(MeterSample(cid, 1, start_s + 60 * minute, str(tx), power_w=7200.0,
                                                       energy_wh=120.0 * minute))
                        n_samples += 1
                    store.record_event(SessionEnded(cid, str(tx), start_s + 7260, meter_stop_wh=14400.0))
                    store.record_event(StatusChanged(cid, 1, start_s + 7260, "Available"))
                store.commit()
        return n_samples


def timed(label: str, fn: object) -> object:
    started = time.perf_counter()
    result = fn()  # type: ignore[operator]
    print(f"{label:<58} {1000 * (time.perf_counter() - started):9.1f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--sessions-per-day", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        started = time.perf_counter()
        n_samples = write_store(path, args.chargers, args.days, args.sessions_per_day)
        n_sessions = args.chargers * args.days * args.sessions_per_day
        print(f"store: {n_sessions:,} sessions, {n_samples:,} meter samples "
              f"({time.perf_counter() - started:.0f} s to write)")
        ids = tuple(f"CP-{k:03d}" for k in range(args.chargers))
        live = SimpleNamespace(store=SimpleNamespace(path=path), tracker=SimpleNamespace(
            chargers=SimpleNamespace(ids=ids)))
        reader = SiteReader(live)  # type: ignore[arg-type]
        newest = timed("sessions?limit=100 (the API: newest window)", lambda: reader.sessions(None, "all", 100))
        db = open_read_only(path)
        every = timed("the same from every session event (whole history)", lambda: list(reversed(recorded_sessions(
            e for _, e in read_event_rows(db, SESSION_EVENTS))))[:100])
        assert [(s.session_id, s.metered_wh) for s in newest] == [(s.session_id, s.metered_wh) for s in every]
        timed("chargers' store part (statuses, boots, last frames)", lambda: reader.charger_history(ids, None))
        found = reader.session(newest[-1].session_id, ids)
        assert found is not None
        timed("sessions/{id} (one session with its 120 samples)", lambda: reader.session_detail(
            *reader.session(newest[-1].session_id, ids)))  # type: ignore[misc]
        db.close()
        inline_ms, thread_ms = asyncio.run(loop_lag_ms(reader))
        print(f"longest event-loop stall during sessions?limit=100: {inline_ms:.1f} ms inline, "
              f"{thread_ms:.1f} ms in a worker thread (as the API runs it)")


async def loop_lag_ms(reader: SiteReader) -> tuple[float, float]:
    """The longest gap between 1 ms ticks of the event loop while the request runs inline, then in a
    worker thread (the chargers' messages wait that long at most)."""
    async def longest_gap(work: Any) -> float:
        done, gaps = False, [0.0]

        async def ticker() -> None:
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        await work()
        done = True
        await task
        return 1000 * max(gaps)

    async def inline() -> None:
        reader.sessions(None, "all", 100)

    async def threaded() -> None:
        await asyncio.to_thread(reader.sessions, None, "all", 100)

    return await longest_gap(inline), await longest_gap(threaded)

if __name__ == "__main__":
    main()
