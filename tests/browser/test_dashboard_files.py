"""The dashboard's files without a browser (these run where chromium cannot be installed): the page
and every file it names are served by the live process itself, nothing refers to another site, the
page carries its Content-Security-Policy, and it stays out of the OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

from sim.api.dashboard import STATIC_DIR
from tests.api.helpers import running_api
from tests.live.server_helpers import run, write_site


def test_the_page_and_its_files_are_served_here_and_refer_to_nothing_else(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path)) as api, api.client() as http:
            root = await http.get("/")
            assert root.status_code == 307 and root.headers["location"] == "/dashboard"
            page = await http.get("/dashboard")  # no token: the page holds no data
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert "<h1>test-site</h1>" in page.text and 'data-vm-min-pu="0.9"' in page.text
            assert "{{" not in page.text  # every placeholder filled
            named = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert sorted(named) == ["/dashboard/static/dashboard.css", "/dashboard/static/dashboard.js",
                                     "/dashboard/static/favicon.svg"]
            for path in named:
                served = await http.get(path)
                assert served.status_code == 200, path
                assert served.content == (STATIC_DIR / Path(path).name).read_bytes()
            paths = (await http.get("/openapi.json")).json()["paths"]
            assert not [p for p in paths if not p.startswith("/api/v1/")]

    run(scenario())


def test_no_static_file_loads_anything_from_another_site() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        # the SVG namespaces are names, not downloads
        outside = [u for u in re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"')]*", text) if "www.w3.org" not in u]
        assert outside == [], (path.name, outside)
