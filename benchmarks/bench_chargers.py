"""What a fleet of simulated chargers costs, in one asyncio process, against ``feedertwin live``.

    python benchmarks/bench_chargers.py [--chargers 1000] [--seconds 60] [--meter-interval 10]
                                        [--csms ws://HOST:PORT/]

Without ``--csms`` it starts ``feedertwin live`` in shadow mode on a free port with a site file
naming the chargers (control period 30 s). Every charger runs one long session at real speed,
sending meter values every ``--meter-interval`` seconds (the arrivals are spread over one interval,
so the chargers do not all send at the same instant). After all have connected and one meter
interval has passed, it measures for ``--seconds``: the fleet process's CPU (share of one core) and
resident memory, the live process's too when it started it, the number of calls, and the round trip
of every call (send to answer, as the charger sees it) as p50 / p99. One run, numbers printed; on a
shared machine compare runs made one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sim.domain import BatteryModel, Charger, Session
from sim.live.chargepoint import ChargerConfig, SimClock, SimulatedCharger, build_fleet, run_fleet

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def site_file(directory: Path, n: int) -> Path:
    chargers = "".join(f'\n[[chargers]]\nid = "BENCH-{k:04d}"\nbus = 1\nmax_current_a = 16\n' for k in range(n))
    path = directory / "site.toml"
    path.write_text(f'name = "bench"\nstore = "{(directory / "store.sqlite").as_posix()}"\n'
                    f'accept_unknown_chargers = false\n\n[control]\nperiod_s = 30\n\n'
                    f'[strategy]\nname = "equal_share"\n{chargers}')
    return path


def start_live(directory: Path, n: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "sim", "live", str(site_file(directory, n)), "--mode", "shadow",
                                "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                               stderr=(directory / "live.log").open("w"), text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on"):
        raise SystemExit(f"feedertwin live did not start: {line!r}; see {directory / 'live.log'}")
    return process, line.split()[-1]


async def measure(fleet: list[SimulatedCharger], url: str, seconds: float, meter_s: float,
                  live_pid: int | None) -> None:
    task = asyncio.create_task(run_fleet(fleet, url, stagger_s=min(10.0, len(fleet) / 100)))
    started = time.perf_counter()
    while not all(c.booted.is_set() for c in fleet):
        await asyncio.sleep(0.5)
        if task.done():
            task.result()
    print(f"{len(fleet)} chargers connected and booted in {time.perf_counter() - started:.1f} s")
    await asyncio.sleep(meter_s)  # every charger in its transaction, sending meter values
    me = os.getpid()
    calls0 = [len(c.stats.round_trip_s) for c in fleet]
    cpu0, live_cpu0, t0 = cpu_s(me), cpu_s(live_pid) if live_pid else 0.0, time.perf_counter()
    await asyncio.sleep(seconds)
    wall_s = time.perf_counter() - t0
    round_trips = np.concatenate([np.asarray(c.stats.round_trip_s[k:]) for c, k in zip(fleet, calls0, strict=True)])
    print(f"window {wall_s:.1f} s: {len(round_trips)} calls ({len(round_trips) / wall_s:.0f}/s), "
          f"{sum(c.stats.call_errors for c in fleet)} CALLERRORs, {sum(c.stats.connects for c in fleet)} connections")
    print(f"round trip p50 {np.percentile(round_trips, 50) * 1000:.1f} ms, "
          f"p99 {np.percentile(round_trips, 99) * 1000:.1f} ms, max {round_trips.max() * 1000:.1f} ms")
    print(f"fleet process: CPU {100 * (cpu_s(me) - cpu0) / wall_s:.0f} % of a core, RSS {rss_mb(me):.0f} MB "
          f"({1000 * rss_mb(me) / len(fleet):.0f} kB per charger incl. the interpreter)")
    if live_pid:
        print(f"feedertwin live: CPU {100 * (cpu_s(live_pid) - live_cpu0) / wall_s:.0f} % of a core, "
              f"RSS {rss_mb(live_pid):.0f} MB")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--meter-interval", type=float, default=10.0)
    parser.add_argument("--csms", help="an already running CSMS (default: start feedertwin live, shadow)")
    args = parser.parse_args()
    chargers = [Charger(f"BENCH-{k:04d}", bus=1, max_current_a=16.0) for k in range(args.chargers)]
    hours = (args.seconds + 600) / 3600
    # arrivals spread over one meter interval: real chargers' meter clocks are not in step
    spread_s = args.meter_interval / args.chargers
    sessions = [Session(f"s{k}", c.charger_id, k * spread_s, hours * 3600, 1000.0) for k, c in enumerate(chargers)]
    config = ChargerConfig(meter_interval_s=args.meter_interval, update_interval_s=args.meter_interval,
                           send_charging_needs=False)
    fleet = build_fleet(chargers, sessions, BatteryModel("ideal"), SimClock(1.0), ocpp="mixed", config=config)
    with tempfile.TemporaryDirectory() as tmp:
        live, url = (None, args.csms) if args.csms else start_live(Path(tmp), args.chargers)
        try:
            asyncio.run(measure(fleet, url, args.seconds, args.meter_interval, live.pid if live else None))
        finally:
            if live is not None:
                live.terminate()
                live.wait(timeout=60)


if __name__ == "__main__":
    main()
