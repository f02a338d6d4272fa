"""The live stream: the site's ``LiveFeed`` as server-sent events (``text/event-stream``).

Each client gets its own feed subscription for as long as it stays connected (unsubscribed when it
goes, or when the API closes). On the wire, one SSE event per ``Update``::

    event: event                      <- the update's kind: event, decision, command, action, log
    data: {"t_s": 1800000000.0, "data": {"type": "MeterSample", "charger_id": "CP-16", ...}}

A comment line ``: connected`` opens the stream (the subscription is in place from then on), and
``: keep-alive`` is sent after ``keepalive_s`` without an update, so proxies keep the connection.
A client that does not keep up loses its oldest updates (the feed's bounded queue); it is told
with an ``event: dropped`` (``{"dropped": N}``, the total so far) and should re-read what it shows.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from typing import Any

from sim.live.feed import LiveFeed, Subscription, Update

_CLOSING = Update("closing", 0.0, {})
"""Put in a subscriber's queue to end its stream (the API is shutting down)."""


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (they are not JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def sse_event(kind: str, data: dict[str, Any]) -> bytes:
    """One SSE event (the JSON is one line: ``json.dumps`` escapes newlines inside strings)."""
    return f"event: {kind}\ndata: {json.dumps(json_safe(data), default=str)}\n\n".encode()


class StreamHub:
    """The open streams of one API: subscribes each client to the feed, ends them all on ``close``."""

    def __init__(self, feed: LiveFeed, keepalive_s: float = 15.0) -> None:
        if not keepalive_s > 0:
            raise ValueError(f"keepalive_s must be > 0 seconds; got {keepalive_s!r}")
        self.feed = feed
        self.keepalive_s = keepalive_s
        self._open: list[Subscription] = []  # (not hashable: dataclasses compare by value)
        self._closed = False

    @property
    def n_open(self) -> int:
        return len(self._open)

    async def events(self) -> AsyncIterator[bytes]:
        """The byte stream of one client, until it disconnects (the server cancels this generator)
        or the hub closes."""
        subscription = self.feed.subscribe()
        self._open.append(subscription)
        dropped = 0
        try:
            yield b": connected\n\n"
            while not self._closed:
                try:
                    update = await asyncio.wait_for(subscription.queue.get(), self.keepalive_s)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if update is _CLOSING:
                    break
                if subscription.dropped != dropped:
                    dropped = subscription.dropped
                    yield sse_event("dropped", {"dropped": dropped})
                yield sse_event(update.kind, {"t_s": update.t_s, "data": update.data})
        finally:
            self._open = [s for s in self._open if s is not subscription]
            self.feed.unsubscribe(subscription)

    def close(self) -> None:
        """End every open stream (at shutdown: a server waits for open responses to finish)."""
        self._closed = True
        for subscription in self._open:
            if subscription.queue.full():
                subscription.queue.get_nowait()
            subscription.queue.put_nowait(_CLOSING)
