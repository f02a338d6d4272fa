"""``create_app(live_app, tokens)``: the REST API of a running live site, as a FastAPI app.

It runs in the live process's event loop (``sim.api.serve``) and reads the ``LiveApp``'s objects
directly; it never imports the simulator. Versioned under ``/api/v1``; the OpenAPI document is
``/openapi.json`` and the interactive docs ``/docs``. ``app.state`` holds what the endpoints use:
``live``, ``reader`` (``SiteReader``), ``tokens`` (``TokenStore``), ``public`` (sections readable
without a token) and ``streams`` (``StreamHub``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sim import __version__
from sim.api.actions import router as actions_router
from sim.api.dashboard import install_dashboard
from sim.api.problems import install_problem_handlers, problem_openapi
from sim.api.routes import router
from sim.api.stream import StreamHub
from sim.api.tokens import TokenStore
from sim.api.views import SiteReader
from sim.live.site_file import API_SECTIONS

if TYPE_CHECKING:
    from sim.live.app import LiveApp


def create_app(live_app: LiveApp, tokens: TokenStore, *, public: Sequence[str] | None = None,
               keepalive_s: float = 15.0) -> FastAPI:
    """The API of ``live_app``. ``public``: the sections readable without a token (default: the site
    file's ``[api] public``); ``keepalive_s``: the stream's keep-alive interval."""
    public = tuple(live_app.site.api_public if public is None else public)
    unknown = [name for name in public if name not in API_SECTIONS]
    if unknown:
        raise ValueError(f"public: unknown API section(s) {unknown}; expected some of {API_SECTIONS}")
    app = FastAPI(title=f"feedertwin live API: {live_app.site.name}", version=__version__,
                  description="Read and steer a live site: chargers, sessions, power, feeder, decisions; follow it live "
                              "(/api/v1/stream). Authenticate with 'Authorization: Bearer <token>'.")
    app.state.live = live_app
    app.state.reader = SiteReader(live_app)
    app.state.tokens = tokens
    app.state.public = frozenset(public)
    app.state.streams = StreamHub(live_app.feed, keepalive_s)
    install_problem_handlers(app)
    app.include_router(router)
    install_dashboard(app)  # the page at /dashboard (docs/api.md, "Dashboard")
    app.include_router(actions_router)  # the act endpoints (control scope) and the audit log

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_openapi(get_openapi(title=app.title, version=app.version,
                                                             description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def close_app(app: FastAPI) -> None:
    """End the open streams (a server closing waits for its responses; the token store is the caller's)."""
    app.state.streams.close()
