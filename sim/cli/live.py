"""``feedertwin live``: the OCPP central system of a live site, in shadow or active mode.

Prints ``listening on ws://HOST:PORT/`` once the port is bound (``--listen HOST:0`` picks a free
port, so scripts and tests read the real one from that line), then serves until SIGINT or SIGTERM.
Restarted on the same site file, it re-applies the events of the site's store and carries on.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

from sim.cli._common import positive_number

if TYPE_CHECKING:
    from sim.live.proxy import UpstreamConfig
    from sim.live.site_file import LiveSite


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as an argparse ``type``; port 0 picks a free port."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 127.0.0.1:9000; got {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the port must be an integer 0-65535; got {port_text!r} in {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"the port must be an integer 0-65535; got {port} in {text!r}")
    return host, port


def add_parser(sub: argparse._SubParsersAction) -> None:
    live = sub.add_parser("live", help="run the OCPP 1.6J / 2.0.1 central system of a live site",
                          description="Chargers connect to ws://HOST:PORT/<identity> (subprotocol ocpp1.6 or "
                                      "ocpp2.0.1; none = 1.6). Shadow mode records what the strategy would do and "
                                      "sends nothing; active mode sends charging profiles.")
    live.add_argument("site", metavar="SITE.toml", help="the live site file (chargers, limits, strategy, store)")
    live.add_argument("--mode", choices=("shadow", "active"), required=True,
                      help="shadow: record only, never write to a charger; active: send charging profiles")
    live.add_argument("--listen", type=listen_address, default=("127.0.0.1", 9000), metavar="HOST:PORT",
                      help="where to accept chargers (default 127.0.0.1:9000; port 0 = any free port)")
    live.add_argument("--call-timeout", type=positive_number("a number of seconds"), default=30.0, metavar="SECONDS",
                      help="how long to wait for a charger's reply to a call (default 30)")
    live.add_argument("--upstream", metavar="URL", default=None,
                      help="proxy mode: forward every charger to this back office (ws://HOST:PORT/PATH; the "
                           "charger's identity is appended), observe on the way through")
    live.add_argument("--upstream-down", choices=("keep_local", "disconnect"), default="keep_local",
                      help="proxy mode, when the back office cannot be reached: keep serving the charger locally "
                           "and reconnect with backoff (default), or disconnect the charger")
    live.add_argument("--verbose", "-v", action="store_true", help="log every event and call (INFO)")
    live.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from sim.live.site_file import load_site

    site = load_site(args.site)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = args.listen
    upstream = None
    if args.upstream is not None:
        from sim.live.proxy import UpstreamConfig

        upstream = UpstreamConfig(args.upstream, upstream_down=args.upstream_down)
    asyncio.run(_serve(site, args.mode, host, port, args.call_timeout, upstream=upstream))
    return 0


async def _serve(site: LiveSite, mode: str, host: str, port: int, call_timeout_s: float, *,
                 upstream: UpstreamConfig | None = None) -> None:
    from sim.live.app import LiveApp
    from sim.live.server import ListenError, LiveServer
    from sim.live.store import LiveStore, record_site_file

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with LiveStore(site.store_path) as store:
        app = LiveApp(site, mode, store, call_timeout_s=call_timeout_s)
        if site.path is not None:  # replay reads the site from the store
            record_site_file(store, site.path, app.now_s())
        server = LiveServer(app, host, port, upstream)
        try:
            await server.start()
        except OSError as error:
            raise ListenError(f"--listen {host}:{port}: cannot listen there: {error.strerror or error}") from None
        print(f"listening on {server.url}", flush=True)
        print(f"mode {mode}, store {store.path}, control period {site.control.period_s:g} s", flush=True)
        if upstream is not None:
            print(f"proxy to {upstream.url} (upstream down: {upstream.upstream_down})", flush=True)
        ticks = asyncio.create_task(app.run(stop))
        try:
            await stop.wait()
        finally:
            await ticks
            await server.close()
            await app.close()
