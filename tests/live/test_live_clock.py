"""The live clock: ``SimClock`` / ``WallClock``, the tick loop on clock time, and ``feedertwin live --speed``.

Nothing here measures real time: the tick loop's periods are checked on the clock's own readings
(the loop waits until the clock reads the next tick's time, so the gap is at least a period), and
the re-plan after a session start is awaited with ``until``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sim.cli import main
from sim.live.app import LiveApp
from sim.live.clock import Clock, SimClock, WallClock, as_clock
from sim.live.events import SessionStarted
from sim.live.site_file import load_site
from sim.live.store import LiveStore
from tests.live.server_helpers import T0_S, run, until, write_site
from tests.live.server_helpers import Clock as HandClock


@contextmanager
def app_on(site_path: Path, clock: Clock | None = None) -> Iterator[LiveApp]:
    """A shadow-mode ``LiveApp`` of the site file on ``clock`` (default: real time); no server needed."""
    site = load_site(site_path)
    with LiveStore(site.store_path) as store:
        yield LiveApp(site, "shadow", store) if clock is None else LiveApp(site, "shadow", store, clock=clock)


@pytest.mark.parametrize("speed", [0.0, -1.0, float("inf"), float("nan")])
def test_a_sim_clock_refuses_a_speed_that_is_not_a_finite_positive_number(speed: float) -> None:
    with pytest.raises(ValueError, match="speed must be a finite number > 0"):
        SimClock(speed)


def test_a_sim_clock_starts_at_its_origin_and_converts_clock_time_to_real_delays() -> None:
    clock = SimClock(speed=600.0, origin_s=T0_S)
    clock.start()
    assert T0_S <= clock.now_s() < T0_S + 600.0 * 60  # (a minute of real time is far more than this takes)
    assert clock.at(90.0) == T0_S + 90.0
    assert clock.real_delay_s(clock.now_s() - 1.0) == 0.0  # in the past
    assert 0.0 < clock.real_delay_s(clock.now_s() + 6000.0) <= 10.0  # 6000 clock seconds = 10 real seconds


def test_the_chargers_clock_is_the_live_clock() -> None:
    from sim.live.chargepoint import SimClock as FleetClock
    from sim.live.chargepoint.clock import SimClock as ModuleClock

    assert FleetClock is ModuleClock is SimClock


def test_a_bare_callable_is_a_wall_clock_and_a_clock_stays_itself() -> None:
    hand = HandClock(T0_S)
    clock = as_clock(hand)
    assert isinstance(clock, WallClock) and clock.now_s() == T0_S
    assert clock.real_delay_s(T0_S + 2.5) == 2.5 and clock.real_delay_s(T0_S - 1.0) == 0.0
    sim_clock = SimClock(60.0, T0_S)
    assert as_clock(sim_clock) is sim_clock and isinstance(sim_clock, Clock)


def test_the_tick_loop_waits_a_period_of_clock_time_between_ticks(tmp_path: Path) -> None:
    """On a clock 3600 times real time, a 600 s period is 1/6 real second: ticks come on their own,
    each at least one period of clock time after the one before."""
    site_path = write_site(tmp_path)
    site_path.write_text(site_path.read_text().replace("period_s = 30", "period_s = 600"))
    clock = SimClock(speed=3600.0, origin_s=T0_S)

    async def scenario() -> list[float]:
        with app_on(site_path, clock) as app:
            stop = asyncio.Event()
            loop = asyncio.create_task(app.run(stop))
            await until(lambda: len(app.store.decisions()) >= 4)
            stop.set()
            await loop
            return [d["t_s"] for d in app.store.decisions()]

    times_s = run(scenario())
    assert times_s[0] >= T0_S
    assert all(later - earlier >= 600.0 * 0.999 for earlier, later in zip(times_s, times_s[1:], strict=False))


def test_a_session_start_is_planned_at_once_without_moving_the_periodic_ticks(tmp_path: Path) -> None:
    """An hour-long period on a real-time clock: the only ticks after the first are the re-plans."""
    site_path = write_site(tmp_path)
    site_path.write_text(site_path.read_text().replace("period_s = 30", "period_s = 3600"))
    clock = SimClock(speed=1.0, origin_s=T0_S)

    async def scenario() -> None:
        with app_on(site_path, clock) as app:
            stop = asyncio.Event()
            loop = asyncio.create_task(app.run(stop))
            await until(lambda: len(app.store.decisions()) == 1)
            app.emit(SessionStarted("CP-16", 1, "7", app.now_s(), meter_start_wh=0.0))
            await until(lambda: len(app.store.decisions()) == 2)
            assert app.store.decisions()[-1]["data"]["setpoints_a"][0] == 16.0  # the new session's share
            app.emit(SessionStarted("CP-201", 1, "8", app.now_s(), meter_start_wh=0.0))
            await until(lambda: len(app.store.decisions()) == 3)
            stop.set()
            await loop
            assert len(app.store.decisions()) == 3

    run(scenario())


def test_an_app_without_a_clock_runs_on_real_time(tmp_path: Path) -> None:
    with app_on(write_site(tmp_path)) as app:
        assert isinstance(app.clock, WallClock)
        assert abs(app.now_s() - datetime.now(UTC).timestamp()) < 60.0


@pytest.mark.parametrize(("args", "message"), [
    (["--speed", "0"], "argument --speed: expected a finite number > 0 (times real time); got '0'"),
    (["--speed", "-3"], "argument --speed: expected a finite number > 0 (times real time); got '-3'"),
    (["--speed", "inf"], "argument --speed: expected a finite number > 0 (times real time); got 'inf'"),
    (["--speed", "fast"], "argument --speed: expected a number > 0 (times real time); got 'fast'"),
    (["--clock-start", "yesterday"], "argument --clock-start: expected an ISO 8601 date-time with a UTC offset"),
    (["--clock-start", "2026-04-13T05:00:00"], "with a UTC offset such as 2026-04-13T00:00:00+02:00 or "
                                               "2026-04-12T22:00:00Z; got '2026-04-13T05:00:00'"),
])
def test_live_refuses_a_bad_speed_or_clock_start(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["live", str(write_site(tmp_path)), "--mode", "shadow", *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_live_with_speed_and_clock_start_says_which_clock_it_runs_on(tmp_path: Path) -> None:
    site = write_site(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "sim", "live", str(site), "--mode", "shadow",
                                "--listen", "127.0.0.1:0", "--speed", "600", "--clock-start", "2026-04-13T05:00:00Z"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert lines[0].startswith("listening on ws://127.0.0.1:"), (lines, err)
    assert lines[2] == ("clock: 600 x real time from 2026-04-13T05:00:00.000Z (demos and tests only); "
                        "a control period is 0.05 real seconds\n"), (lines, err)
    assert process.returncode == 0, err
