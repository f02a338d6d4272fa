"""The live feed: a subscriber sees the events, decisions and command outcomes of a running site
over real websockets; a subscriber that does not keep up loses its oldest updates, not the site."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from ocpp.v16 import call as call16

from sim.live.feed import LiveFeed
from tests.live.server_helpers import Charger16, Clock, boot16, connected, live_server, run, until, write_site


def test_a_subscriber_follows_events_decisions_and_commands(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[str, str]]:
        clock = Clock()
        async with live_server(write_site(tmp_path), "active", clock=clock) as (app, server):
            subscription = app.feed.subscribe()
            async with connected(server, "CP-16", Charger16) as cp:
                await cp.call(boot16())
                await until(lambda: not app._tasks)  # capability read and safe default done
                await cp.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0,
                                                      timestamp="2027-01-15T08:00:00Z"))
                app.tick()
                await until(lambda: not app._tasks)
            app.feed.unsubscribe(subscription)
            seen = []
            while not subscription.queue.empty():
                update = subscription.queue.get_nowait()
                seen.append((update.kind, str(update.data.get("type") or update.data.get("action") or "")))
            return seen

    seen = run(scenario())
    assert ("event", "ChargerConnected") in seen and ("event", "ChargerBooted") in seen
    assert ("event", "SessionStarted") in seen
    assert ("command", "SetChargingProfile") in seen  # the safe default at boot, the TxProfile at the tick
    assert ("decision", "") in seen


def test_a_slow_subscriber_loses_its_oldest_updates() -> None:
    async def scenario() -> tuple[list[int], int]:
        feed = LiveFeed(max_queue=3)
        slow = feed.subscribe()
        for k in range(5):
            feed.publish("event", float(k), {"k": k})
        return [slow.queue.get_nowait().data["k"] for _ in range(3)], slow.dropped

    assert asyncio.run(scenario()) == ([2, 3, 4], 2)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="update kind must be one of"):
        LiveFeed().publish("gossip", 0.0, {})
