"""The simulated chargers' clock: ``sim.live.clock.SimClock``, shared with the live app.

It lives in ``sim.live.clock`` so that ``feedertwin live`` can run on the same sped-up clock without
importing the simulated chargers; it stays importable from here and from ``sim.live.chargepoint``.
"""

from sim.live.clock import SimClock

__all__ = ["SimClock"]
