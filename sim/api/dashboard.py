"""The dashboard: one HTML page, one script and one style sheet from ``sim/api/static``, served by
the live process itself (no CDN, no build step: it works with no internet connection).

``install_dashboard(app)`` adds ``GET /`` (a redirect) and ``GET /dashboard`` (the page) and mounts
the files under ``/dashboard/static``. The page itself holds no data: it reads the site through the
API's read endpoints and follows ``/api/v1/stream`` with the same token, sent as
``Authorization: Bearer`` by ``fetch`` (see docs/api.md, "Dashboard"), so the page and its files
need no token. The voltage band the page draws is put into the page here, from the site's strategy
(``grid_aware``'s ``vm_min_pu`` / ``vm_max_pu``) or EN 50160's +-10 % by default.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

if TYPE_CHECKING:
    from sim.live.app import LiveApp

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_BAND_PU = (0.9, 1.1)  # EN 50160: +-10 % of the nominal voltage (grid_aware's defaults too)
# Only the feedertwin process's own files may run or style the page; no frames, no other origins.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def voltage_band_pu(live: LiveApp) -> tuple[float, float]:
    """The band the page draws the feeder's lowest and highest voltage against (per unit)."""
    params = live.site.strategy.params
    return (float(params.get("vm_min_pu", DEFAULT_BAND_PU[0])), float(params.get("vm_max_pu", DEFAULT_BAND_PU[1])))


def dashboard_page(live: LiveApp) -> str:
    """``static/index.html`` with the site's name and voltage band filled in."""
    vm_min_pu, vm_max_pu = voltage_band_pu(live)
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return (page.replace("{{site_name}}", html.escape(live.site.name))
                .replace("{{vm_min_pu}}", repr(vm_min_pu)).replace("{{vm_max_pu}}", repr(vm_max_pu)))


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard from ``app`` (kept out of the OpenAPI document: it is a page, not the API)."""
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/dashboard")

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(dashboard_page(app.state.live), headers=PAGE_HEADERS)
