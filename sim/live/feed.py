"""The live feed: every change of a live site, published to whoever follows it (the API's stream).

``LiveApp`` publishes an ``Update`` for each event it applies, each control decision, each
command outcome and each operator action; a subscriber (an SSE client of the API, a test) gets
its own bounded queue. Publishing never blocks and never fails the live process: a subscriber
that does not keep up loses its oldest updates (counted in ``dropped``), never the site's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

UPDATE_KINDS = ("event", "decision", "command", "action", "log")
"""``event``: a ``sim.live.events`` event applied to the twin; ``decision``: a control tick's
setpoints beside the measured currents; ``command``: a call to a charger and its outcome;
``action``: an operator's action (mode switch, limit change, reservation ...); ``log``: a warning or
error line."""


@dataclass(frozen=True)
class Update:
    """One change: ``kind`` (``UPDATE_KINDS``), the live clock's ``t_s``, and plain JSON ``data``."""

    kind: str
    t_s: float
    data: dict[str, Any]


@dataclass
class Subscription:
    """A subscriber's queue and how many updates it lost because it did not keep up."""

    queue: asyncio.Queue[Update]
    dropped: int = 0


@dataclass
class LiveFeed:
    """Fan-out of updates to bounded per-subscriber queues."""

    max_queue: int = 1000
    _subscriptions: list[Subscription] = field(default_factory=list)

    def subscribe(self) -> Subscription:
        subscription = Subscription(asyncio.Queue(self.max_queue))
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    @property
    def n_subscribers(self) -> int:
        return len(self._subscriptions)

    def publish(self, kind: str, t_s: float, data: dict[str, Any]) -> None:
        """Give every subscriber the update; a full queue drops its oldest one first."""
        if kind not in UPDATE_KINDS:
            raise ValueError(f"update kind must be one of {UPDATE_KINDS}; got {kind!r}")
        if not self._subscriptions:
            return
        update = Update(kind, t_s, data)
        for subscription in self._subscriptions:
            if subscription.queue.full():
                subscription.queue.get_nowait()
                subscription.dropped += 1
            subscription.queue.put_nowait(update)
