"""``feedertwin live``: the OCPP central system of a live site, in shadow or active mode.

Prints ``listening on ws://HOST:PORT/`` once the port is bound (``--listen HOST:0`` picks a free
port, so scripts and tests read the real one from that line), then serves until SIGINT or SIGTERM.
When the site file's ``[security]`` has a TLS certificate and key, a second port serves ``wss://``
(``--listen-tls``, default 127.0.0.1:9443) and the next line is ``listening on wss://HOST:PORT/``;
the ``--listen`` port stays plain ``ws://`` for profile 0 and 1 chargers (docs/live_security.md).
Restarted on the same site file, it re-applies the events of the site's store and carries on.

``--speed N`` / ``--clock-start ISO`` (demos and tests only) run the app on a ``SimClock`` that
runs N times real time from that start, as ``feedertwin chargers --speed N`` does: every time the
app records, the tracker's view time and the control period are on it (``docs/live_clock.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from sim.cli._common import positive_number

if TYPE_CHECKING:
    from sim.live.clock import Clock
    from sim.live.proxy import UpstreamConfig
    from sim.live.site_file import LiveSite


DEFAULT_TLS_LISTEN = ("127.0.0.1", 9443)
"""Where ``wss://`` is served when the site has a TLS certificate and no ``--listen-tls`` is given."""


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


def clock_speed(text: str) -> float:
    """How many times real time the clock runs, as an argparse ``type``: a finite number > 0."""
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0 (times real time); got {text!r}") from None
    if not (speed > 0 and speed < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0 (times real time); got {text!r}")
    return speed


def clock_start_s(text: str) -> float:
    """An ISO 8601 date-time with a UTC offset (or ``Z``), as an argparse ``type``: epoch seconds."""
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        start = None
    if start is None or start.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 date-time with a UTC offset such as "
                                         f"2026-04-13T00:00:00+02:00 or 2026-04-12T22:00:00Z; got {text!r}")
    return start.timestamp()


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
    live.add_argument("--listen-tls", type=listen_address, default=None, metavar="HOST:PORT",
                      help="where to accept chargers over TLS (wss://) when the site file's [security] has tls_cert "
                           "and tls_key (default 127.0.0.1:9443; port 0 = any free port)")
    live.add_argument("--call-timeout", type=positive_number("a number of seconds"), default=30.0, metavar="SECONDS",
                      help="how long to wait for a charger's reply to a call (default 30)")
    live.add_argument("--upstream", metavar="URL", default=None,
                      help="proxy mode: forward every charger to this back office (ws://HOST:PORT/PATH; the "
                           "charger's identity is appended), observe on the way through")
    live.add_argument("--upstream-down", choices=("keep_local", "disconnect"), default="keep_local",
                      help="proxy mode, when the back office cannot be reached: keep serving the charger locally "
                           "and reconnect with backoff (default), or disconnect the charger")
    live.add_argument("--speed", type=clock_speed, default=1.0, metavar="N",
                      help="run the app's clock (timestamps, view time, control period) N times faster than real "
                           "time, as feedertwin chargers --speed N does; N > 1 is for demos and tests only, never "
                           "with real chargers (default 1)")
    live.add_argument("--clock-start", type=clock_start_s, default=None, metavar="ISO8601",
                      help="what the app's clock reads when it starts, e.g. a scenario's [simulation] start for "
                           "feedertwin chargers --clock scenario (demos and tests; default: now)")
    live.add_argument("--api", type=listen_address, default=None, metavar="HOST:PORT",
                      help="serve the REST API and live stream there, e.g. 127.0.0.1:8080 (default: no API; "
                           "port 0 = any free port; docs/api.md)")
    live.add_argument("--verbose", "-v", action="store_true", help="log every event and call (INFO)")
    live.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from sim.live.site_file import load_site

    site = load_site(args.site)
    ssl_context, tls_listen = _tls(site, args.listen_tls)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = args.listen
    upstream = None
    if args.upstream is not None:
        from sim.live.proxy import UpstreamConfig

        upstream = UpstreamConfig(args.upstream, upstream_down=args.upstream_down)
    asyncio.run(_serve(site, args.mode, host, port, args.call_timeout, upstream=upstream,
                       clock=make_clock(args.speed, args.clock_start), ssl_context=ssl_context, tls_listen=tls_listen,
                       api=args.api))
    return 0


def _tls(site: LiveSite, listen_tls: tuple[str, int] | None) -> tuple[ssl.SSLContext | None, tuple[str, int]]:
    """The TLS context of the site's ``[security]`` (``None`` without a certificate) and its address."""
    from sim.live.security import server_ssl_context
    from sim.live.server import ListenError

    if site.security.tls is None:
        if listen_tls is not None:
            raise ListenError(f"--listen-tls {listen_tls[0]}:{listen_tls[1]}: the site file {site.file_label} has no "
                              "TLS certificate; set [security] tls_cert and tls_key, or leave out --listen-tls")
        return None, DEFAULT_TLS_LISTEN
    return server_ssl_context(site.security.tls), listen_tls or DEFAULT_TLS_LISTEN


def make_clock(speed: float, start_s: float | None) -> Clock:
    """Real time (``time.time``) by default; a ``SimClock`` when a speed or a start is asked for."""
    from sim.live.clock import SimClock, WallClock

    if speed == 1.0 and start_s is None:
        return WallClock()
    return SimClock(speed, start_s)


async def _serve(site: LiveSite, mode: str, host: str, port: int, call_timeout_s: float, *,
                 upstream: UpstreamConfig | None = None, clock: Clock | None = None,
                 ssl_context: ssl.SSLContext | None = None, tls_listen: tuple[str, int] = DEFAULT_TLS_LISTEN,
                 api: tuple[str, int] | None = None) -> None:
    from sim.live.app import LiveApp
    from sim.live.clock import SimClock, WallClock
    from sim.live.meter import iso_utc
    from sim.live.server import ListenError, LiveServer
    from sim.live.store import LiveStore, record_site_file

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with LiveStore(site.store_path) as store:
        clock = clock or WallClock()
        if isinstance(clock, SimClock):
            clock.start()  # the clock's start is now, not when the site file was read
        app = LiveApp(site, mode, store, clock=clock, call_timeout_s=call_timeout_s)
        if site.path is not None:  # replay reads the site from the store
            record_site_file(store, site.path, app.now_s())
        server = LiveServer(app, host, port, upstream)
        tls_server = None if ssl_context is None else LiveServer(app, *tls_listen, upstream, ssl_context=ssl_context)
        for option, one in (("--listen", server), ("--listen-tls", tls_server)):
            if one is None:
                continue
            try:
                await one.start()
            except OSError as error:
                await server.close()
                raise ListenError(f"{option} {one.host}:{one.port}: cannot listen there: "
                                  f"{error.strerror or error}") from None
        print(f"listening on {server.url}", flush=True)
        if tls_server is not None and ssl_context is not None:
            print(f"listening on {tls_server.url} (TLS, {ssl_context.minimum_version.name} or newer)", flush=True)
        api_server = None
        if api is not None:  # the REST API, in this event loop (sim.api)
            from sim.api import ApiServer

            api_server = ApiServer(app, *api)
            await api_server.start()
            print(f"api on {api_server.url}", flush=True)
        print(f"mode {mode}, store {store.path}, control period {site.control.period_s:g} s", flush=True)
        if isinstance(clock, SimClock):
            print(f"clock: {clock.speed:g} x real time from {iso_utc(clock.origin_s)} (demos and tests only); "
                  f"a control period is {site.control.period_s / clock.speed:.3g} real seconds", flush=True)
        if upstream is not None:
            print(f"proxy to {upstream.url} (upstream down: {upstream.upstream_down})", flush=True)
        ticks = asyncio.create_task(app.run(stop))
        try:
            await stop.wait()
        finally:
            await ticks
            await server.close()
            if tls_server is not None:
                await tls_server.close()
            if api_server is not None:
                await api_server.close()
            await app.close()
