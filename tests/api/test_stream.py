"""The live stream over real HTTP: an SSE event when a charger sends something, keep-alive
comments, and the feed subscription ends when the client goes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.helpers import running_api
from tests.live.server_helpers import Charger16, boot16, connected, run, until, write_site


def test_stream_delivers_a_chargers_message_and_unsubscribes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path), keepalive_s=0.05) as api, api.client(api.read_token) as http:
            async with http.stream("GET", "/api/v1/stream") as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = stream.aiter_lines()
                assert await anext(lines) == ": connected"  # subscribed from here on
                assert api.live.feed.n_subscribers == 1
                async with connected(api.server, "CP-16", Charger16) as cp:
                    await cp.call(boot16())
                    events = []
                    kind = None
                    keep_alive = False
                    async for line in lines:
                        keep_alive |= line == ": keep-alive"
                        if line.startswith("event: "):
                            kind = line.removeprefix("event: ")
                        elif line.startswith("data: "):
                            events.append((kind, json.loads(line.removeprefix("data: "))))
                        if keep_alive and any(data["data"]["type"] == "ChargerBooted" for _, data in events):
                            break
                by_type = {data["data"]["type"]: (kind, data) for kind, data in events}
                kind, booted = by_type["ChargerBooted"]
                assert kind == "event" and booted["data"]["charger_id"] == "CP-16"
                assert booted["data"]["vendor"] == "TestVendor" and booted["t_s"] > 0
                assert "ChargerConnected" in by_type
            await until(lambda: api.live.feed.n_subscribers == 0)  # the client went: unsubscribed

    run(scenario())


def test_closing_the_api_ends_open_streams(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path), public=("stream",)) as api, api.client() as http:
            async with http.stream("GET", "/api/v1/stream") as stream:
                lines = stream.aiter_lines()
                assert await anext(lines) == ": connected"
                api.api.app.state.streams.close()
                rest = [line async for line in lines]  # the server ends the response
                assert rest == [""]  # the blank line that ended the comment
            assert api.live.feed.n_subscribers == 0

    run(scenario())
