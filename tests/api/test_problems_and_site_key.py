"""The site file's ``[api] public`` key (clear errors naming the value), ``create_app`` taking the
site's public sections by default, and an unexpected exception answered as a 500 problem."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from sim.api import create_app
from sim.api.tokens import TokenStore
from sim.errors import ScenarioError
from sim.live.site_file import load_site
from tests.live.server_helpers import SITE_TOML, live_server, run


def _site(tmp_path: Path, api_table: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(SITE_TOML.format(accept_unknown="false") + api_table)
    return path


def test_api_public_key(tmp_path: Path) -> None:
    assert load_site(_site(tmp_path, "")).api_public == ()
    assert load_site(_site(tmp_path, '\n[api]\npublic = ["site", "chargers"]\n')).api_public == ("site", "chargers")
    with pytest.raises(ScenarioError, match=r"api\.public: unknown API section 'charger'.*expected a list of site, "
                                            r"chargers, sessions"):
        load_site(_site(tmp_path, '\n[api]\npublic = ["charger"]\n'))
    with pytest.raises(ScenarioError, match=r"api\.pubic: unknown key 'pubic'"):
        load_site(_site(tmp_path, '\n[api]\npubic = ["site"]\n'))
    with pytest.raises(ScenarioError, match=r"api\.public: must be an array"):
        load_site(_site(tmp_path, '\n[api]\npublic = "site"\n'))


def test_site_public_sections_and_a_500_problem(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with live_server(_site(tmp_path, '\n[api]\npublic = ["site"]\n')) as (live, _):
            with TokenStore(live.store.path) as tokens:
                app = create_app(live, tokens)

                @app.get("/api/v1/test-failure")
                async def fail() -> None:
                    raise RuntimeError("a bug")

                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                    assert (await http.get("/api/v1/site")).status_code == 200
                    assert (await http.get("/api/v1/chargers")).status_code == 401
                    failed = await http.get("/api/v1/test-failure")
                    assert failed.status_code == 500 and failed.headers["content-type"] == "application/problem+json"
                    assert failed.json()["detail"].startswith("the server failed on GET /api/v1/test-failure: RuntimeError")
                    unknown = await http.get("/nowhere")
                    assert unknown.status_code == 404 and "no such path: /nowhere" in unknown.json()["detail"]

    with caplog.at_level(logging.ERROR, logger="sim.api"):
        run(scenario())
    assert "API GET /api/v1/test-failure failed" in caplog.text

    with pytest.raises(ValueError, match="unknown API section"):
        create_app(None, None, public=("everything",))  # type: ignore[arg-type]
