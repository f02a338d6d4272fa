"""The simulated chargers' clock: epoch seconds that run ``speed`` times faster than real time.

All chargers of a fleet share one clock, so their timestamps agree. Scenario time 0 is
``origin_s`` (epoch seconds; by default the instant the clock is started), and the clock reads
``origin_s + speed * (real seconds since then)``. Every timestamp a simulated charger sends
(meter values, transactions, status) is on this clock; websocket timeouts and heartbeats stay in
real time (they are about the connection, not the vehicle).
"""

from __future__ import annotations

import asyncio
import time


class SimClock:
    """``start()`` fixes the epoch (``run_fleet`` calls it, so building a fleet costs no simulated
    time); reading the clock before starts it."""

    def __init__(self, speed: float = 1.0, origin_s: float | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0; got {speed!r}")
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
