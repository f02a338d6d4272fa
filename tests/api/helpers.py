"""What the API tests share: a running live site (``tests/live/server_helpers``) with its API served
by uvicorn on 127.0.0.1 (a free port) in the same event loop, tokens, and a 1.6 charger session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import Depends

from sim.api import ApiServer, create_app, require_scope
from sim.api.problems import problem_responses
from sim.api.tokens import TokenStore
from sim.live.app import LiveApp
from sim.live.server import LiveServer
from tests.live.server_helpers import boot16, call16, live_server


@dataclass
class Api:
    """A running live site and its API: the base URL and a read and a control token."""

    live: LiveApp
    server: LiveServer
    api: ApiServer
    read_token: str
    control_token: str

    @property
    def url(self) -> str:
        return self.api.url.rstrip("/")

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30.0)


def with_dummy_action(app: Any) -> Any:
    """A tiny control endpoint (tests only): what an action sees from ``require_scope``."""

    @app.post("/api/v1/test-action", tags=["test"], responses=problem_responses(401, 403))
    async def test_action(who: Annotated[str, Depends(require_scope("control"))]) -> dict[str, str]:
        return {"who": who}

    return app


@asynccontextmanager
async def running_api(site_path: Path, *, public: Sequence[str] = (), mode: str = "shadow",
                      keepalive_s: float = 15.0, call_timeout_s: float = 5.0,
                      clock: Any = None) -> AsyncIterator[Api]:
    """A live site with its API on 127.0.0.1:0 over real HTTP, closed afterwards (``call_timeout_s``:
    how long a call to a charger waits for its answer; ``clock``: the site's, e.g. the ``SimClock``
    of simulated chargers; default the fixed test clock)."""
    async with live_server(site_path, mode, clock=clock, call_timeout_s=call_timeout_s) as (live, server):
        with TokenStore(live.store.path) as tokens:
            read_token, _ = tokens.create("reader-app", "read")
            control_token, _ = tokens.create("operator", "control")
            app = with_dummy_action(create_app(live, tokens, public=public, keepalive_s=keepalive_s))
            api = ApiServer(live, "127.0.0.1", 0, app=app)
            await api.start()
            try:
                yield Api(live, server, api, read_token, control_token)
            finally:
                await api.close()


async def one_session(cp: Any) -> str:
    """Boot, start a transaction with meter start 1000 Wh and send a meter sample at 3.5 kWh:
    2.5 kWh metered. Returns the transaction id."""
    await cp.call(boot16())
    await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging",
                                            timestamp="2027-01-15T08:00:00Z"))
    started = await cp.call(call16.StartTransaction(connector_id=1, id_tag="TAG-1", meter_start=1000,
                                                    timestamp="2027-01-15T08:00:05Z"))
    await cp.call(call16.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[{
        "timestamp": "2027-01-15T08:01:00Z", "sampledValue": [
            {"value": "3.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
            {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
            {"value": "10.5", "measurand": "Current.Import", "phase": "L1", "unit": "A"}]}]))
    return str(started.transaction_id)
