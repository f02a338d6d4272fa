"""The clocks of live mode: real time, or epoch seconds that run ``speed`` times faster than real time.

Every live time is epoch seconds. ``feedertwin live`` runs on ``WallClock`` (``time.time``) unless
``--speed`` / ``--clock-start`` ask for a ``SimClock``; the simulated chargers (``feedertwin
chargers``) always run on a ``SimClock``. The live app needs two things of its clock (``Clock``):
the time now, and how many real seconds to wait until it reads a given time (its tick loop).

``SimClock``: scenario time 0 is ``origin_s`` (epoch seconds; by default the instant the clock is
started), and the clock reads ``origin_s + speed * (real seconds since then)``. All chargers of a
fleet share one clock, so their timestamps agree; a test that runs the live app in the same process
gives it the same clock, so the chargers' timestamps and the server's agree exactly. Every timestamp
a simulated charger sends (meter values, transactions, status) is on this clock; websocket timeouts
and heartbeats stay in real time (they are about the connection, not the vehicle).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the live app reads: epoch seconds now, and the real seconds until the clock reads ``t_s``."""

    def now_s(self) -> float: ...

    def real_delay_s(self, t_s: float) -> float: ...


class WallClock:
    """Real time: ``read()`` (``time.time`` by default, or a test's clock) at the rate of real time."""

    speed = 1.0

    def __init__(self, read: Callable[[], float] = time.time) -> None:
        self._read = read

    def now_s(self) -> float:
        return float(self._read())

    def real_delay_s(self, t_s: float) -> float:
        """Real seconds until the clock reads ``t_s`` (0 if it has passed)."""
        return max(t_s - self.now_s(), 0.0)


def as_clock(clock: Clock | Callable[[], float]) -> Clock:
    """``clock`` itself when it is a ``Clock``; a bare callable (epoch seconds) runs at real rate."""
    return clock if isinstance(clock, Clock) else WallClock(clock)


class SimClock:
    """``start()`` fixes the epoch (``run_fleet`` and ``feedertwin live`` call it, so building a fleet
    or opening a store costs no simulated time); reading the clock before starts it."""

    def __init__(self, speed: float = 1.0, origin_s: float | None = None) -> None:
        if not (speed > 0 and speed < float("inf")):
            raise ValueError(f"speed must be a finite number > 0; got {speed!r}")
        self.speed = float(speed)
        self._origin_s = origin_s
        self._real0_s: float | None = None

    def start(self) -> None:
        """Scenario time 0 is now (or ``origin_s``) from here on; later calls change nothing."""
        if self._real0_s is None:
            self._real0_s = time.monotonic()
            if self._origin_s is None:
                self._origin_s = time.time()

    @property
    def origin_s(self) -> float:
        self.start()
        assert self._origin_s is not None
        return self._origin_s

    def now_s(self) -> float:
        """Epoch seconds on the simulated clock."""
        self.start()
        assert self._real0_s is not None
        return self.origin_s + (time.monotonic() - self._real0_s) * self.speed

    def at(self, scenario_s: float) -> float:
        """Epoch seconds of scenario time ``scenario_s``."""
        return self.origin_s + scenario_s

    def real_delay_s(self, t_s: float) -> float:
        """Real seconds until the clock reads ``t_s`` (0 if it has passed)."""
        return max((t_s - self.now_s()) / self.speed, 0.0)

    async def sleep_until(self, t_s: float, wake: asyncio.Event | None = None) -> bool:
        """Wait until the clock reads ``t_s``, or until ``wake`` is set (then returns True and clears it)."""
        delay_s = self.real_delay_s(t_s)
        if wake is None:
            await asyncio.sleep(delay_s)
            return False
        if not wake.is_set():
            try:  # asyncio.timeout, not wait_for: wait_for can swallow a cancellation in 3.11
                async with asyncio.timeout(delay_s):
                    await wake.wait()
            except TimeoutError:
                return False
        wake.clear()
        return True
