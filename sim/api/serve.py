"""``ApiServer``: uvicorn serving the API in the live process's own event loop.

The socket is bound here (so a port in use is a clear ``ListenError``, and ``port 0`` gives the
real port back at once); uvicorn then serves it as a task of the same loop as the OCPP server, so
the endpoints read the live objects without locks. uvicorn's own signal handlers are left out:
``feedertwin live`` owns SIGINT / SIGTERM and closes the API on its way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from sim.api.app import close_app, create_app
from sim.api.tokens import TokenStore
from sim.errors import FeedertwinError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from sim.live.app import LiveApp

SHUTDOWN_GRACE_S = 5
"""How long a closing server waits for requests in flight before it cancels them."""


class ApiListenError(FeedertwinError):
    """The API's address cannot be bound (in use, not on this machine)."""


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the live process has its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    """The API of ``live_app`` on ``host:port`` (``start()``, ``url``, ``close()``)."""

    def __init__(self, live_app: LiveApp, host: str = "127.0.0.1", port: int = 0, *,
                 app: FastAPI | None = None) -> None:
        self.host, self.port = host, port
        self.tokens: TokenStore | None = None
        if app is None:
            self.tokens = TokenStore(live_app.store.path)
            app = create_app(live_app, self.tokens)
        self.app = app
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        """Bind (``ApiListenError`` naming the address when that fails) and start serving."""
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            sock = socket.create_server(infos[0][4][:2], family=infos[0][0])
        except OSError as error:
            raise ApiListenError(f"--api {self.host}:{self.port}: cannot listen there: "
                                 f"{error.strerror or error}") from None
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
        self._server = _Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]), name="api")
        while not self._server.started and not self._task.done():  # startup is a few loop turns
            await asyncio.sleep(0.005)
        if self._task.done():
            self._task.result()  # raises what stopped it

    async def close(self) -> None:
        """End the streams, stop serving, close the token store."""
        close_app(self.app)
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self.tokens is not None:
            self.tokens.close()
