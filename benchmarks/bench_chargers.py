"""1,000 simulated chargers against one ``feedertwin live`` process (issue 6's load target).

    python benchmarks/bench_chargers.py [--chargers 1000] [--seconds 60] [--meter-interval 10]
                                        [--mode active|shadow] [--csms ws://HOST:PORT/]

Without ``--csms`` it starts ``feedertwin live`` on a free port with a site file naming the chargers:
ten groups of 100 chargers (16 A each), each group below a 1,000 A feeder limit, all below a
10,000 A site fuse, so ``equal_share`` gives every charger 10 A (control period 30 s); in active
mode (the default) it sends charging profiles, which the chargers obey. Halfway through the window
the operator lowers the site fuse to 8,000 A over the REST API (a control token made with
``feedertwin token create``): the next tick sends all 1,000 chargers a new 8 A profile, the burst a
large site sees when a limit moves, and its round trips are in the numbers. Every charger runs one long session at real
speed, sending meter values every ``--meter-interval`` seconds (the arrivals are spread over one
interval, so the chargers do not all send at the same instant). After all have connected and one
meter interval has passed, it measures for ``--seconds``:

- the round trip of every charger-to-CSMS call (send to answer, as the charger sees it), p50 / p99
  (target: p99 under 100 ms);
- the control tick's duration (view, strategy, records), p50 / p99 over the window, read from the
  store's ``tick_times`` after the run (target: p99 under 200 ms);
- the live process's resident memory (target: under 300 MB) and CPU, and the fleet process's.

The fleet itself runs in one Python process on the other core; its CPU is printed so a saturated
fleet (which would inflate the round trips it measures) is visible. One run, numbers printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from functools import partial
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


GROUP_SIZE = 100
GROUP_LIMIT_A = 1000.0
SITE_FUSE_A = 10000.0
LOWERED_FUSE_A = 8000.0


def site_file(directory: Path, n: int) -> Path:
    """The bench site: groups of ``GROUP_SIZE`` chargers (16 A each) below a limit each, below a fuse."""
    chargers = "".join(f'\n[[chargers]]\nid = "G{k // GROUP_SIZE:02d}-{k:04d}"\nbus = 1\nmax_current_a = 16\n'
                       for k in range(n))
    groups = "".join(f'\n[[site.limits]]\nid = "group-{g:02d}"\nparent = "fuse"\nmax_current_a = {GROUP_LIMIT_A:g}\n'
                     f'charger_prefix = "G{g:02d}-"\n' for g in range((n + GROUP_SIZE - 1) // GROUP_SIZE))
    path = directory / "site.toml"
    path.write_text(f'name = "bench"\nstore = "{(directory / "store.sqlite").as_posix()}"\n'
                    f'accept_unknown_chargers = false\n\n[control]\nperiod_s = 30\n\n'
                    f'[strategy]\nname = "equal_share"\n{chargers}\n[site]\n\n[[site.limits]]\nid = "fuse"\n'
                    f'max_current_a = {SITE_FUSE_A:g}\n{groups}')
    return path


def charger_ids(n: int) -> list[str]:
    return [f"G{k // GROUP_SIZE:02d}-{k:04d}" for k in range(n)]


def store_numbers(store: Path, since_t_s: float) -> tuple[np.ndarray, dict[str, int]]:
    """Control tick durations (ms) after ``since_t_s`` (the live clock's epoch seconds), and the
    outcomes of the commands sent to chargers since then."""
    db = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT tt.duration_s FROM tick_times tt JOIN decisions d ON d.id = tt.decision_id "
                          "WHERE d.t_s >= ?", (since_t_s,)).fetchall()
        outcomes = dict(db.execute("SELECT COALESCE(outcome, 'no reply yet'), COUNT(*) FROM commands "
                                   "WHERE t_s >= ? GROUP BY 1", (since_t_s,)).fetchall())
        frames = db.execute("SELECT t_s, charger_id, direction, frame FROM frames WHERE t_s >= ? ORDER BY id",
                            (since_t_s,)).fetchall()
    finally:
        db.close()
    return np.array([r[0] * 1000.0 for r in rows]), outcomes, server_side_ms(frames)


def server_side_ms(frames: list[tuple[float, str, str, str]]) -> np.ndarray:
    """Per charger CALL: the time from its frame in to the reply's frame out, as the store recorded
    them (the server's share of the round trip: handling, store, commit)."""
    arrived: dict[tuple[str, str], float] = {}
    waits_ms = []
    for t_s, charger_id, direction, text in frames:
        message = json.loads(text)
        if direction == "in" and message[0] == 2:
            arrived[charger_id, message[1]] = t_s
        elif direction == "out" and message[0] in (3, 4) and (charger_id, message[1]) in arrived:
            waits_ms.append((t_s - arrived.pop((charger_id, message[1]))) * 1000.0)
    return np.array(waits_ms)


def control_token(site: Path) -> str:
    """A control-scope API token for the bench site (``feedertwin token create``)."""
    done = subprocess.run([sys.executable, "-m", "sim", "token", "create", str(site), "--scope", "control",
                           "--name", "bench"], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()[0].strip()


def lower_fuse(api_url: str, token: str) -> None:
    """The operator's action: the site fuse down to ``LOWERED_FUSE_A`` (PUT /api/v1/site/limits/fuse)."""
    request = urllib.request.Request(f"{api_url.rstrip('/')}/api/v1/site/limits/fuse", method="PUT",
                                     data=json.dumps({"max_current_a": LOWERED_FUSE_A}).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        print(f"operator: site fuse {SITE_FUSE_A:g} A -> {LOWERED_FUSE_A:g} A over the API ({response.status})",
              flush=True)


def start_live(directory: Path, n: int, mode: str) -> tuple[subprocess.Popen[str], str, str]:
    """``feedertwin live`` on free ports; its charger URL and its API URL."""
    site = site_file(directory, n)
    process = subprocess.Popen([sys.executable, "-m", "sim", "live", str(site), "--mode", mode,
                                "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0"], stdout=subprocess.PIPE,
                               stderr=(directory / "live.log").open("w"), text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on"):
        raise SystemExit(f"feedertwin live did not start: {line!r}; see {directory / 'live.log'}")
    api_line = process.stdout.readline()
    if not api_line.startswith("api on"):
        raise SystemExit(f"feedertwin live did not start its API: {api_line!r}; see {directory / 'live.log'}")
    return process, line.split()[-1], api_line.split()[-1]


async def measure(fleet: list[SimulatedCharger], url: str, seconds: float, meter_s: float,
                  live_pid: int | None, halfway: Callable[[], None] | None = None) -> tuple[float, float]:
    """Run the fleet, measure the window (``halfway`` runs in its middle, in a thread); returns the
    window's start and middle (epoch seconds)."""
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
    window_start_s = time.time()
    cpu0, live_cpu0, t0 = cpu_s(me), cpu_s(live_pid) if live_pid else 0.0, time.perf_counter()
    calls_half, halfway_s = calls0, window_start_s + seconds / 2
    if halfway is None:
        await asyncio.sleep(seconds)
    else:
        await asyncio.sleep(seconds / 2)
        calls_half, halfway_s = [len(c.stats.round_trip_s) for c in fleet], time.time()
        await asyncio.to_thread(halfway)
        await asyncio.sleep(max(0.0, seconds - (time.perf_counter() - t0)))
    wall_s = time.perf_counter() - t0
    if halfway is not None:  # the two halves apart: steady meter values, then the burst of profiles
        for label, start, stop in (("first half (steady)", calls0, calls_half),
                                   ("second half (with the burst)", calls_half, None)):
            part = np.concatenate([np.asarray(c.stats.round_trip_s[a:(b if b is not None else None)])
                                   for c, a, b in zip(fleet, start, stop or [None] * len(fleet), strict=True)])
            print(f"  {label}: {part.size} calls, round trip p50 {np.percentile(part, 50) * 1000:.1f} ms, "
                  f"p99 {np.percentile(part, 99) * 1000:.1f} ms, max {part.max() * 1000:.1f} ms")
    round_trips = np.concatenate([np.asarray(c.stats.round_trip_s[k:]) for c, k in zip(fleet, calls0, strict=True)])
    print(f"window {wall_s:.1f} s: {len(round_trips)} calls ({len(round_trips) / wall_s:.0f}/s), "
          f"{sum(c.stats.call_errors for c in fleet)} CALLERRORs, {sum(c.stats.connects for c in fleet)} connections")
    print(f"round trip p50 {np.percentile(round_trips, 50) * 1000:.1f} ms, "
          f"p99 {np.percentile(round_trips, 99) * 1000:.1f} ms (target < 100 ms), max {round_trips.max() * 1000:.1f} ms")
    print(f"fleet process: CPU {100 * (cpu_s(me) - cpu0) / wall_s:.0f} % of a core, RSS {rss_mb(me):.0f} MB "
          f"({1000 * rss_mb(me) / len(fleet):.0f} kB per charger incl. the interpreter)")
    if live_pid:
        print(f"feedertwin live: CPU {100 * (cpu_s(live_pid) - live_cpu0) / wall_s:.0f} % of a core, "
              f"RSS {rss_mb(live_pid):.0f} MB (target < 300 MB)")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return window_start_s, halfway_s


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--meter-interval", type=float, default=10.0)
    parser.add_argument("--mode", choices=("active", "shadow"), default="active")
    parser.add_argument("--csms", help="an already running CSMS (default: start feedertwin live)")
    parser.add_argument("--keep", metavar="DIR", help="keep the site file, store and live log in DIR")
    args = parser.parse_args(argv)
    chargers = [Charger(cid, bus=1, max_current_a=16.0) for cid in charger_ids(args.chargers)]
    hours = (args.seconds + 600) / 3600
    # arrivals spread over one meter interval: real chargers' meter clocks are not in step
    spread_s = args.meter_interval / args.chargers
    sessions = [Session(f"s{k}", c.charger_id, k * spread_s, hours * 3600, 1000.0) for k, c in enumerate(chargers)]
    # The fleet does not schema-check its own calls (a real charger's firmware does not either;
    # feedertwin live checks every call it receives): in one Python process for 1,000 chargers that
    # check would be half the fleet's CPU and its delays would count as round-trip time.
    config = ChargerConfig(meter_interval_s=args.meter_interval, update_interval_s=args.meter_interval,
                           send_charging_needs=False, validate_own_calls=False)
    fleet = build_fleet(chargers, sessions, BatteryModel("ideal"), SimClock(1.0), ocpp="mixed", config=config)
    print(f"{args.chargers} chargers, meter values every {args.meter_interval:g} s, feedertwin live "
          f"{'(given)' if args.csms else f'--mode {args.mode}, equal_share below {args.chargers // GROUP_SIZE} group limits'}",
          flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        live, halfway = None, None
        if args.csms:
            url = args.csms
        else:
            live, url, api_url = start_live(Path(tmp), args.chargers, args.mode)
            token = control_token(Path(tmp) / "site.toml")
            halfway = partial(lower_fuse, api_url, token)
        try:
            window_start_s, halfway_s = asyncio.run(measure(fleet, url, args.seconds, args.meter_interval,
                                                 live.pid if live else None, halfway))
        finally:
            if live is not None:
                live.terminate()
                live.wait(timeout=60)
        if live is not None:
            ticks_ms, outcomes, server_ms = store_numbers(Path(tmp) / "store.sqlite", window_start_s)
            _, _, burst_ms = store_numbers(Path(tmp) / "store.sqlite", halfway_s)
            for label, part in (("server side (frame in to reply out, from the store)", server_ms),
                                ("  of which in the second half (with the burst)", burst_ms)):
                if part.size:
                    print(f"{label}: p50 {np.percentile(part, 50):.1f} ms, p99 {np.percentile(part, 99):.1f} ms, "
                          f"max {part.max():.1f} ms")
            print(f"commands to chargers in the window: {sum(outcomes.values())} "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(outcomes.items())) or 'none'})")
            if ticks_ms.size:
                print(f"control ticks in the window: {ticks_ms.size}, p50 {np.percentile(ticks_ms, 50):.1f} ms, "
                      f"p99 {np.percentile(ticks_ms, 99):.1f} ms (target < 200 ms), max {ticks_ms.max():.1f} ms")
            else:
                print("control ticks in the window: none (the window is shorter than the 30 s control period)")


if __name__ == "__main__":
    main()
