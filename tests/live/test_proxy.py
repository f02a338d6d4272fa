"""Proxy mode (``sim.live.proxy``) in process: the upstream-down policies and the settings.

The upstream back office here is a small ocpp-library CSMS the test starts, stops and restarts on
the same port; its replies carry markers (heartbeat interval, clock, transaction ids) that tell
whether the back office or feedertwin answered. The strict ocpp-rpc peers on both sides are in
``test_proxy_peers.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from websockets.asyncio.server import Server, ServerConnection, serve

from sim.errors import FeedertwinError
from sim.live.app import LiveApp
from sim.live.meter import iso_utc
from sim.live.proxy import INJECTED_ID_PREFIX, ProxyLink, UpstreamConfig
from sim.live.server import LiveServer
from sim.live.site_file import load_site
from sim.live.store import LiveStore
from tests.live.server_helpers import T0_S, Charger16, Clock, boot16, connected, run, until, write_site

UPSTREAM_INTERVAL_S = 123  # feedertwin itself answers a BootNotification with 300
UPSTREAM_TIME = "2031-01-01T00:00:00Z"
UPSTREAM_FIRST_TX = 9000


class BackOffice16(ChargePoint16):
    """The upstream back office: answers with its own markers, counts what it saw."""

    seen: list[str] = []

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        self.seen.append("BootNotification")
        return result16.BootNotification(current_time=UPSTREAM_TIME, interval=UPSTREAM_INTERVAL_S, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        self.seen.append("Heartbeat")
        return result16.Heartbeat(current_time=UPSTREAM_TIME)

    @on("Authorize")
    async def on_authorize(self, **_: Any) -> Any:  # a back office that never answers (then goes away)
        self.seen.append("Authorize")
        await self._connection.wait_closed()
        raise ConnectionError("the back office went away before answering")

    @on("StartTransaction")
    def on_start(self, **_: Any) -> Any:
        self.seen.append("StartTransaction")
        return result16.StartTransaction(transaction_id=UPSTREAM_FIRST_TX, id_tag_info={"status": "Accepted"})


@asynccontextmanager
async def back_office(port: int = 0, offices: list[BackOffice16] | None = None
                      ) -> AsyncIterator[tuple[Server, list[str]]]:
    """The upstream on 127.0.0.1 (``port`` 0: a free one); yields the server and what it saw;
    ``offices`` collects its charger connections (to make calls from the back office)."""
    seen: list[str] = []

    async def handle(connection: ServerConnection) -> None:
        office = BackOffice16("office", connection)
        office.seen = seen
        if offices is not None:
            offices.append(office)
        try:
            await office.start()
        except Exception:  # the connection closed
            pass

    server = await serve(handle, "127.0.0.1", port, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
    try:
        yield server, seen
    finally:
        server.close()
        await server.wait_closed()


def port_of(server: Server) -> int:
    return int(next(iter(server.sockets)).getsockname()[1])


@asynccontextmanager
async def proxy(tmp_path: Path, upstream: UpstreamConfig) -> AsyncIterator[tuple[LiveApp, LiveServer]]:
    site = load_site(write_site(tmp_path))
    store = LiveStore(site.store_path)
    app = LiveApp(site, "shadow", store, clock=Clock(), call_timeout_s=5.0)
    server = LiveServer(app, "127.0.0.1", 0, upstream)
    await server.start()
    try:
        yield app, server
    finally:
        await server.close()
        await app.close()
        store.close()


def config(port: int, policy: str) -> UpstreamConfig:
    return UpstreamConfig(f"ws://127.0.0.1:{port}/ocpp/", upstream_down=policy, backoff_initial_s=0.02,
                          backoff_max_s=0.1, connect_timeout_s=2.0)


def link_of(app: LiveApp, charger_id: str) -> ProxyLink:
    link = app.links[charger_id]
    assert isinstance(link, ProxyLink)
    return link


def test_keep_local_serves_the_charger_while_the_upstream_is_down_and_reconnects(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with back_office() as (office, seen):
            port = port_of(office)
            async with proxy(tmp_path, config(port, "keep_local")) as (app, server), \
                    connected(server, "CP-16", Charger16) as charger:
                boot = await charger.call(boot16())
                assert boot.interval == UPSTREAM_INTERVAL_S  # the back office answered, through the proxy
                link = link_of(app, "CP-16")
                await until(lambda: "GetConfiguration" in charger.actions())  # feedertwin's own read
                start = await charger.call(call16.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0,
                                                                   timestamp=iso_utc(T0_S)))
                assert start.transaction_id == UPSTREAM_FIRST_TX  # the twin follows the back office's id
                assert app.transaction_on("CP-16", 1) == str(UPSTREAM_FIRST_TX)
                office.close()
                await office.wait_closed()
                await until(lambda: link._upstream is None)

                beat = await charger.call(call16.Heartbeat())  # answered by feedertwin itself
                assert beat.current_time == iso_utc(T0_S)
                start = await charger.call(call16.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0,
                                                                   timestamp=iso_utc(T0_S)))
                assert start.transaction_id != UPSTREAM_FIRST_TX
                assert app.transaction_on("CP-16", 1) == str(start.transaction_id)

                async with back_office(port) as (_, seen_again):  # the back office is back, same port
                    await until(lambda: link._upstream is not None)
                    beat = await charger.call(call16.Heartbeat())
                    assert beat.current_time == UPSTREAM_TIME
                    assert seen_again == ["Heartbeat"]
                assert seen == ["BootNotification", "StartTransaction"]
                upstream_frames = [f for cid, _, f in app.store.frames() if cid == "upstream/CP-16"]
                assert upstream_frames and not [f for f in upstream_frames if INJECTED_ID_PREFIX in f]

    run(scenario())


def test_keep_local_answers_locally_what_the_lost_upstream_still_owed(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with back_office() as (office, seen), \
                proxy(tmp_path, config(port_of(office), "keep_local")) as (app, server), \
                connected(server, "CP-16", Charger16) as charger:
            await charger.call(boot16())
            authorizing = asyncio.create_task(charger.call(call16.Authorize(id_tag="TAG")))
            await until(lambda: "Authorize" in seen)  # forwarded; the back office sits on it
            office.close()
            await office.wait_closed()
            authorized = await authorizing  # feedertwin answers it when the link is lost
            assert authorized.id_tag_info["status"] == "Accepted"
            replies = [f for cid, d, f in app.store.frames() if cid == "CP-16" and d == "out" and '"idTagInfo"' in f]
            assert len(replies) == 1  # answered once, locally

    run(scenario())


def test_disconnect_policy_closes_the_charger_when_the_upstream_drops(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with back_office() as (office, _):
            async with proxy(tmp_path, config(port_of(office), "disconnect")) as (app, server), \
                    connected(server, "CP-16", Charger16) as charger:
                assert (await charger.call(boot16())).interval == UPSTREAM_INTERVAL_S
                office.close()
                await office.wait_closed()
                await charger._connection.wait_closed()
                assert charger._connection.close_code == 1011
                await until(lambda: "CP-16" not in app.links)

    run(scenario())


@pytest.mark.parametrize("policy", ["keep_local", "disconnect"])
def test_an_unreachable_upstream_at_connect_follows_the_policy(tmp_path: Path, policy: str) -> None:
    async def scenario() -> None:
        async with back_office() as (office, _):
            port = port_of(office)  # a port nobody listens on once this block ends
        async with proxy(tmp_path, config(port, policy)) as (_, server), \
                connected(server, "CP-16", Charger16) as charger:
            if policy == "disconnect":
                await charger._connection.wait_closed()
                assert charger._connection.close_code == 1011
            else:
                assert (await charger.call(boot16())).interval == 300  # feedertwin answers locally

    run(scenario())


def test_upstream_settings_are_checked_and_the_identity_is_appended() -> None:
    assert UpstreamConfig("ws://office:9000/ocpp/").url_for("CP 1/a") == "ws://office:9000/ocpp/CP%201%2Fa"
    assert UpstreamConfig("wss://office").url_for("CP-1") == "wss://office/CP-1"
    for kwargs, field in (({"url": "http://office/ocpp"}, "upstream"), ({"url": "ws:///ocpp"}, "upstream"),
                          ({"url": "ws://office", "upstream_down": "retry"}, "upstream_down"),
                          ({"url": "ws://office", "backoff_initial_s": 0}, "backoff_initial_s"),
                          ({"url": "ws://office", "backoff_max_s": 0.5}, "backoff_max_s")):
        with pytest.raises(FeedertwinError, match=f"^{field}: got"):
            UpstreamConfig(**kwargs)


@pytest.mark.parametrize(("profile_id", "stack_level", "warned"), [(1, 0, False), (1, 1, True), (2001, 0, True)])
def test_a_back_office_profile_that_replaces_feedertwins_is_forwarded_and_warned(
        tmp_path: Path, profile_id: int, stack_level: int, warned: bool) -> None:
    """feedertwin's band is [control] stack_level (1 here) and its profile ids (1000/2000 + connector)."""
    async def scenario() -> None:
        offices: list[BackOffice16] = []
        async with back_office(offices=offices) as (office, _), \
                proxy(tmp_path, config(port_of(office), "keep_local")) as (app, server), \
                connected(server, "CP-16", Charger16) as charger:
            await charger.call(boot16())
            await until(lambda: bool(offices))
            profile = {"chargingProfileId": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": "TxProfile",
                       "chargingProfileKind": "Relative", "transactionId": 1, "chargingSchedule": {
                           "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.0}]}}
            result = await offices[0].call(call16.SetChargingProfile(connector_id=1, cs_charging_profiles=profile))
            assert result.status == "Accepted"  # the charger's answer, forwarded back
            assert ("SetChargingProfile", {"connector_id": 1, "profile": profile}) in [
                (a, {"connector_id": p["connector_id"], "profile": _camel(p["profile"])}) for a, p in charger.received
                if a == "SetChargingProfile"]
            warnings = [m for _, level, m, _ in _log(app) if level == "warning" and "replaces feedertwin's" in m]
            assert bool(warnings) == warned, warnings

    run(scenario())


def _camel(profile: dict[str, Any]) -> dict[str, Any]:
    from ocpp.charge_point import snake_to_camel_case

    return dict(snake_to_camel_case(profile))


def _log(app: LiveApp) -> list[tuple[Any, ...]]:
    return list(app.store._query("SELECT t_s, level, message, charger_id FROM log ORDER BY id"))


def test_a_bad_upstream_url_on_the_command_line_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sim.cli import main

    assert main(["live", str(write_site(tmp_path)), "--mode", "shadow", "--upstream", "http://office/ocpp"]) == 2
    assert "upstream: got 'http://office/ocpp'; expected a ws:// or wss:// URL" in capsys.readouterr().err
