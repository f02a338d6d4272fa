"""The CSMS websocket server: one port for OCPP 1.6J and 2.0.1, chosen by subprotocol.

- A charger connects to ``ws://HOST:PORT/<anything>/<identity>``; its identity is the last path
  segment (URL-decoded). A charger the site does not know is refused during the handshake with
  HTTP 404, unless the site accepts unknown chargers.
- Security profiles 1 and 2 (``sim.live.security``): HTTP basic auth checked in the handshake, the
  user name must be the identity; a refused charger gets HTTP 401 with ``WWW-Authenticate``, and the
  reason goes to the site's log. A server made with an ``ssl_context`` serves ``wss://`` only; a
  profile 2 charger is refused on a plain one. An unknown charger gets 404 as before on a site where
  nobody needs credentials, and 401 when it presents credentials or some charger needs them (so a
  404 cannot tell a prober which identities exist).
- Subprotocol: the first of the charger's offers that feedertwin speaks (``ocpp2.0.1``,
  ``ocpp1.6``); a charger that offers none is taken as 1.6 (many real ones do); a charger that
  offers only others (``ocpp2.1``, ...) is refused with HTTP 400.
- A charger that reconnects while its old connection still looks open replaces it (the old one is
  closed): a network blip must not lock a charger out.

What happens on a connection is the ``LiveApp``'s business; this module only accepts, routes and
closes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, NegotiationError
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from sim.errors import FeedertwinError
from sim.live.app import LiveApp
from sim.live.ocpp16 import Ocpp16Link
from sim.live.ocpp201 import Ocpp201Link
from sim.live.proxy import UpstreamConfig, proxy_link
from sim.live.rpc import ChargerLink
from sim.live.security import WWW_AUTHENTICATE, refusal

LOG = logging.getLogger("sim.live")

SUBPROTOCOLS: dict[str, type[ChargerLink]] = {"ocpp2.0.1": Ocpp201Link, "ocpp1.6": Ocpp16Link}
"""The subprotocols spoken, and the link class of each."""


class ListenError(FeedertwinError):
    """The server cannot bind the address it was given (in use, not an address of this machine)."""


def identity_of(path: str) -> str:
    """The charger identity in a websocket request path: its last non-empty segment, URL-decoded.

    The path is split on ``/`` by hand, not parsed as a URL: ocpp-rpc builds ``//ID`` when the
    endpoint ends in ``/``, which ``urlsplit`` would read as a host named ``ID``.
    """
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    return unquote(segments[-1]) if segments else ""


def select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """The charger's first offer that is spoken here; ``None`` (1.6) when it offers none."""
    for subprotocol in offered:
        if subprotocol in SUBPROTOCOLS:
            return subprotocol
    if offered:
        raise NegotiationError(f"unsupported subprotocol(s) {', '.join(offered)}; expected one of "
                               f"{', '.join(SUBPROTOCOLS)}")
    return None


class LiveServer:
    """The websocket server in front of a ``LiveApp``: ``await start()``, then ``await close()``."""

    def __init__(self, app: LiveApp, host: str = "127.0.0.1", port: int = 0,
                 upstream: UpstreamConfig | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.ssl_context = ssl_context  # TLS (wss://) on this port; None: plain ws://
        self.upstream = upstream  # proxy mode (sim.live.proxy): each charger also gets a back office link
        self.host = host
        self.port = port
        self._server: Server | None = None

    async def start(self) -> tuple[str, int]:
        """Bind and start accepting; returns the bound ``(host, port)`` (port 0 picks a free one)."""
        self._server = await serve(self._handle, self.host, self.port, select_subprotocol=select_subprotocol,
                                   process_request=self._check_identity, server_header="feedertwin",
                                   ssl=self.ssl_context)
        sockname = next(iter(self._server.sockets)).getsockname()
        self.host, self.port = str(sockname[0]), int(sockname[1])
        return self.host, self.port

    @property
    def url(self) -> str:
        return f"{'wss' if self.ssl_context is not None else 'ws'}://{self.host}:{self.port}/"

    async def _check_identity(self, connection: ServerConnection, request: Request) -> Response | None:
        """The handshake check: a known (or accepted) identity with the credentials its security
        profile asks for; ``None`` lets the handshake go on, a response refuses it."""
        charger_id = identity_of(request.path)
        if not charger_id:
            return connection.respond(HTTPStatus.NOT_FOUND, "no charger identity in the path: connect to "
                                      "ws://HOST:PORT/<identity>\n")
        authorization = request.headers.get("Authorization")
        security = self.app.site.security
        if not self.app.accepts(charger_id):
            self.app.log("warning", f"refused unknown charger {charger_id!r} (the site does not accept unknown "
                         "chargers)", charger_id)
            self.app.store.commit_soon()
            if authorization is not None or security.any_secured:
                return _unauthorized(connection)
            return connection.respond(HTTPStatus.NOT_FOUND, f"unknown charger {charger_id!r}\n")
        reason = await refusal(security.of(charger_id), charger_id, authorization, tls=self.ssl_context is not None)
        if reason is not None:
            self.app.log("warning", f"refused charger {charger_id!r}: {reason}", charger_id)
            self.app.store.commit_soon()
            return _unauthorized(connection)
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        charger_id = identity_of(connection.request.path)
        link_cls = SUBPROTOCOLS.get(connection.subprotocol or "ocpp1.6", Ocpp16Link)
        link = (link_cls(charger_id, connection, self.app) if self.upstream is None
                else proxy_link(link_cls, charger_id, connection, self.app, self.upstream,
                                self.app.site.control.stack_level))
        replaced = self.app.connected(link)
        if replaced is not None:
            await _close_quietly(replaced)
        try:
            await link.start()  # type: ignore[attr-defined]
        except ConnectionClosed:
            pass
        finally:
            self.app.disconnected(link)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


def _unauthorized(connection: ServerConnection) -> Response:
    """HTTP 401 asking for basic auth; one body whatever the reason (the log has the reason)."""
    response = connection.respond(HTTPStatus.UNAUTHORIZED, "authentication failed\n")
    response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


async def _close_quietly(link: Any) -> None:
    try:
        await asyncio.wait_for(link._connection.close(code=1000, reason="replaced by a new connection"), 5.0)
    except (TimeoutError, ConnectionClosed, OSError):
        LOG.info("%s: old connection closed uncleanly", link.id)
